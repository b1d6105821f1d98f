// The parse thread's own SQLite connection (src/sync/thread-store.ts), driven here in this thread: it
// writes server locations and messages in one transaction, and follows a store file replaced at its path.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/db.js';
import { getRawMessage } from '../../../src/messages/message-repo.js';
import { sealMessage, type MessageBase } from '../../../src/sync/seal-message.js';
import { parseEmail } from '../../../src/mime/parse-email.js';
import { writeSealedBatch } from '../../../src/sync/thread-store.js';
import { createTestAccount, rawMessage } from '../../fixtures/sync-account.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';

const stores: TestStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

async function accountWithFolder(ts: TestStore) {
  const acc = await createTestAccount(ts.store, { host: '127.0.0.1', port: 1 }, { username: 'u', password: 'p' });
  const folder = await ts.store.db
    .insertInto('folders')
    .values({ account_id: acc.account.id, path: 'INBOX', delimiter: '/', special_use: null, status: 'active' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { acc, folderId: Number(folder.id) };
}

async function batch(ts: TestStore, uid: number) {
  const { acc, folderId } = await accountWithFolder(ts);
  const raw = Buffer.from(rawMessage({ subject: `m${uid}` }));
  const stableId = `sid-${uid}`;
  const base: MessageBase = {
    user_id: acc.userId,
    account_id: acc.account.id,
    stable_id: stableId,
    folder_id: folderId,
    uid,
    flags: '["\\\\Seen"]',
    internal_date: 1_700_000_000_000,
  };
  const sealed = sealMessage(raw, await parseEmail(raw, { withText: false }), {
    dek: acc.dek,
    accountId: acc.account.id,
    stableId,
    maxAttachmentBytes: 1024,
  });
  const location = { ...base, size: raw.length };
  delete (location as Partial<MessageBase>).user_id;
  return { acc, raw, base, sealed, location: location as unknown as Parameters<typeof writeSealedBatch>[1][number] };
}

describe('the parse thread’s SQLite writes', () => {
  it('writes a batch’s locations and messages in one go, readable through the read model; a repeat changes nothing', async () => {
    const ts = await createTestStore('sqlite');
    stores.push(ts);
    const target = { path: ts.store.sqliteFile!.path, walAutoCheckpoint: ts.store.sqliteFile!.walAutoCheckpoint() };
    const b = await batch(ts, 7);
    await writeSealedBatch(target, [b.location], async () => [[b.base, b.sealed]]);
    await writeSealedBatch(target, [b.location], async () => [[b.base, b.sealed]]);
    const rows = await ts.store.db.selectFrom('messages').select(['id', 'stable_id', 'uid', 'flags', 'sent_at']).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ stable_id: 'sid-7', uid: 7, flags: '["\\\\Seen"]' });
    expect(Number(rows[0].sent_at)).toBe(Date.UTC(2023, 0, 2, 10));
    expect(await ts.store.db.selectFrom('server_messages').select('uid').execute()).toEqual([{ uid: 7 }]);
    expect((await getRawMessage(ts.store.db, b.acc.dek, b.acc.userId, Number(rows[0].id)))?.equals(b.raw)).toBe(true);
  });

  it('commits a batch only once the batch that came after it has written its bytes (one sync for both), and says when its bytes are written', async () => {
    const ts = await createTestStore('sqlite');
    stores.push(ts);
    const target = { path: ts.store.sqliteFile!.path, walAutoCheckpoint: 0 };
    const [a, b, c] = [await batch(ts, 1), await batch(ts, 2), await batch(ts, 3)];
    const events: string[] = [];
    let sealB: () => void = () => {};
    const first = writeSealedBatch(
      target,
      [a.location],
      async () => [[a.base, a.sealed]],
      () => events.push('a written'),
    ).then(() => events.push('a committed'));
    // The second batch is still being sealed: the first, written meanwhile, waits for it.
    const second = writeSealedBatch(
      target,
      [b.location],
      () => new Promise((resolve) => (sealB = () => resolve([[b.base, b.sealed]]))),
      () => events.push('b written'),
    ).then(() => events.push('b committed'));
    for (let i = 0; i < 200 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    expect(events).toEqual(['a written']);
    expect(a.sealed.rawEnc).toEqual([]); // its sealed source let go once in the pack
    expect(await ts.store.db.selectFrom('messages').select('uid').execute()).toEqual([]);
    sealB();
    await Promise.all([first, second]);
    expect(events).toEqual(['a written', 'b written', 'a committed', 'b committed']);
    // A batch of locations alone, behind one with messages, holds nothing up (it writes no bytes).
    await Promise.all([
      writeSealedBatch(target, [c.location], async () => [[c.base, c.sealed]]),
      writeSealedBatch(target, [], async () => []),
    ]);
    const rows = await ts.store.db.selectFrom('messages').select(['id', 'uid']).orderBy('uid').execute();
    expect(rows.map((r) => r.uid)).toEqual([1, 2, 3]);
    for (const [i, x] of [a, b, c].entries())
      expect((await getRawMessage(ts.store.db, x.acc.dek, x.acc.userId, Number(rows[i].id)))?.equals(x.raw)).toBe(true);
  });

  it('follows a store deleted and created anew at the same path', async () => {
    const first = await createTestStore('sqlite');
    stores.push(first);
    const path = first.store.sqliteFile!.path;
    const target = { path, walAutoCheckpoint: 0 };
    const a = await batch(first, 1);
    await writeSealedBatch(target, [a.location], async () => [[a.base, a.sealed]]);
    await first.store.close();
    for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
    // A new store at the same path (same data dir): the thread's cached connection must not write into the old file.
    const second = await createTestStore('sqlite', { DATA_DIR: first.config.dataDir });
    stores.push(second);
    expect(second.store.sqliteFile!.path).toBe(path);
    const b = await batch(second, 2);
    await writeSealedBatch(target, [b.location], async () => [[b.base, b.sealed]]);
    expect(await second.store.db.selectFrom('messages').select('uid').execute()).toEqual([{ uid: 2 }]);
  });

  it('is offered only for SQLite on a file', async () => {
    const memory = openStore({ store: { kind: 'sqlite', path: ':memory:' } });
    try {
      expect(memory.sqliteFile).toBeUndefined();
    } finally {
      await memory.close();
    }
    if (!(await storeKinds()).includes('postgres')) return;
    const pg = await createTestStore('postgres');
    stores.push(pg);
    expect(pg.store.sqliteFile).toBeUndefined();
  });
});
