// A first sync large enough for the parse threads (parser-pool.ts, THREADS_FROM): on SQLite the thread
// also writes each batch with its own connection (thread-store.ts), on PostgreSQL the reading thread does.
// Duplicates of one Message-ID spread over batches claim ordinals the store cannot show yet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deleteAccount } from '../../../src/accounts/account-repo.js';
import { getMessage, getRawMessage, listMessages } from '../../../src/messages/message-repo.js';
import { packDirOf } from '../../../src/store/blob-packs.js';
import { isChunkRef } from '../../../src/store/blob-chunks.js';
import { syncAccount } from '../../../src/sync/engine.js';
import type { SyncProgress } from '../../../src/sync/engine-types.js';
import { SyncError } from '../../../src/sync/errors.js';
import { sharedParserPool, THREADS_FROM } from '../../../src/sync/parser-pool.js';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { startFaultProxy, type FaultProxy } from '../../fixtures/fault-proxy.js';
import { createTestAccount, rawMessage, type TestAccount } from '../../fixtures/sync-account.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';
import { countRows, serverLocations, storedLive, UserPool } from './sync-helpers.js';

let d: Dovecot;
let proxy: FaultProxy;
let users: UserPool;
beforeAll(async () => {
  d = await startDovecot();
  users = new UserPool(d, 12);
  proxy = await startFaultProxy({ host: d.host, port: d.port });
});
afterAll(async () => {
  await proxy?.close();
  await d?.stop();
});

const COUNT = THREADS_FROM + 200;
const FOLDERS = ['INBOX', 'Archive'];

/** COUNT messages over two folders; every 50th is one of a family of identical copies (same Message-ID, same bytes). */
function fill(user: string): void {
  for (let i = 0; i < COUNT; i++) {
    const copy = i % 50 === 0;
    const msg = rawMessage({
      id: copy ? 'same-everywhere' : `bulk-${i}`,
      subject: copy ? 'the same' : `bulk ${i}`,
      body: copy ? 'identical\r\n' : `${'x'.repeat(i % 700)} ${i}\r\n`,
    });
    d.writeMessage(user, i % 3 === 0 ? 'Archive' : 'INBOX', msg);
  }
}

/** The message with this subject, paging through the account's list. */
async function findBySubject(ts: TestStore, acc: TestAccount, subject: string): Promise<{ id: number }> {
  for (let page = 1; ; page++) {
    const list = await listMessages(ts.store.db, acc.dek, acc.userId, { accountId: acc.account.id, pageSize: 100, page });
    const hit = list.rows.find((r) => r.subject === subject);
    if (hit) return hit;
    if (list.rows.length === 0) throw new Error(`no message "${subject}"`);
  }
}

/**
 * Every folder whose UIDNEXT the store holds has each server UID below it mirrored: a saved UIDNEXT
 * whose locations were lost would hide those messages from every later sync.
 */
async function savedStateCovered(ts: TestStore, accountId: number, user: string, pw: string): Promise<void> {
  const folders = await ts.store.db.selectFrom('folders').select(['id', 'path', 'uidnext']).where('account_id', '=', accountId).execute();
  for (const f of folders) {
    if (f.uidnext === null) continue;
    const mirrored = await ts.store.db.selectFrom('server_messages').select('uid').where('folder_id', '=', f.id).execute();
    const below = (await d.folderState(user, pw, f.path)).map((m) => m.uid).filter((u) => u < Number(f.uidnext));
    expect(new Set(mirrored.map((r) => Number(r.uid))), f.path).toEqual(new Set(below));
  }
}

describe.each(await storeKinds())('sync engine: a bulk first sync on %s', (kind) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(async () => {
    proxy.reset();
    await ts?.cleanup();
  });

  it('stores every message once, each copy under its own ordinal, exactly as on the server, readable', async () => {
    const { user, pw } = users.take();
    fill(user);
    const acc = await createTestAccount(ts.store, { host: d.host, port: d.port }, { username: user, password: pw });
    const stats = await syncAccount(acc.input());
    expect([stats.fetched, stats.new, stats.remaining, stats.parseProblems]).toEqual([COUNT, COUNT, 0, 0]);
    expect(stats.bytesFetched).toBeGreaterThan(COUNT * 200);
    expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, FOLDERS));
    const ids = await ts.store.db.selectFrom('messages').select('stable_id').where('account_id', '=', acc.account.id).execute();
    expect(new Set(ids.map((r) => r.stable_id)).size).toBe(COUNT);
    expect(await countRows(ts.store, 'server_messages')).toBeGreaterThanOrEqual(COUNT);
    // The copies share one base id and hold ordinals 1..n (ids with a colon are ordinals above 1).
    const copies = ids.filter((r) => r.stable_id.includes(':'));
    expect(copies).toHaveLength(Math.ceil(COUNT / 50) - 1);
    const row = await ts.store.db
      .selectFrom('messages')
      .select('id')
      .where('stable_id', '=', copies[0].stable_id)
      .executeTakeFirstOrThrow();
    const detail = await getMessage(ts.store.db, acc.dek, acc.userId, row.id);
    expect([detail?.subject, detail?.text?.trim()]).toEqual(['the same', 'identical']);
    expect((await listMessages(ts.store.db, acc.dek, acc.userId, { accountId: acc.account.id })).total).toBe(COUNT);
    expect((await syncAccount(acc.input())).fetched).toBe(0);
  });

  it('keeps what it writes in bulk in the account pack files on SQLite, in blob_chunks on PostgreSQL (ciphertext only, each source as on the server); deleting the account removes them', async () => {
    const { user, pw } = users.take();
    fill(user);
    const acc = await createTestAccount(ts.store, { host: d.host, port: d.port }, { username: user, password: pw });
    expect((await syncAccount(acc.input())).fetched).toBe(COUNT);
    const rows = await ts.store.db.selectFrom('messages').select(['raw_ref', 'raw_enc']).where('account_id', '=', acc.account.id).execute();
    const file = ts.store.sqliteFile?.path;
    const packs = file ? join(packDirOf(file), `a${acc.account.id}`) : null;
    if (packs) {
      expect(rows.filter((r) => r.raw_ref !== null && r.raw_enc === null)).toHaveLength(COUNT);
      const files = new Map(readdirSync(packs).map((f) => [f, readFileSync(join(packs, f))]));
      const bytes = Buffer.concat([...files.values()]);
      // Nothing but the sources: between them only the zeros that pad a direct write to its last block,
      // and a pack's own first block where it was written directly (direct-write.ts).
      const refs = rows.map((r) => r.raw_ref!.split(':')).map(([f, at, n]) => ({ f, at: Number(at), end: Number(at) + Number(n) }));
      for (const [f, content] of files) {
        let at = 0;
        for (const r of refs.filter((x) => x.f === f).sort((x, y) => x.at - y.at)) {
          const gap = content.subarray(at, r.at);
          if (at === 0 && gap.length > 0) expect(gap.subarray(0, 17).toString()).toBe('mail-helper pack ');
          else expect(gap.every((b) => b === 0)).toBe(true);
          at = r.end;
        }
        expect(content.subarray(at).every((b) => b === 0)).toBe(true);
        expect(at).toBeLessThanOrEqual(content.length);
      }
      // Sealed: neither a subject nor a body line of any message is in the pack files.
      for (const clear of ['bulk 7', 'same-everywhere', 'identical', 'Subject:']) expect(bytes.includes(clear)).toBe(false);
    } else {
      expect(rows.filter((r) => r.raw_ref !== null && isChunkRef(r.raw_ref) && r.raw_enc === null)).toHaveLength(COUNT);
      const bytes = Buffer.concat((await chunksOf(acc.account.id)).map((c) => c.data));
      expect(bytes.length).toBe(rows.reduce((n, r) => n + Number(r.raw_ref!.split(':')[2]), 0));
      for (const clear of ['bulk 7', 'same-everywhere', 'identical', 'Subject:']) expect(bytes.includes(clear)).toBe(false);
    }
    // Every raw source reads back exactly as written to the server.
    const seven = await findBySubject(ts, acc, 'bulk 7');
    const expected = rawMessage({ id: 'bulk-7', subject: 'bulk 7', body: `${'x'.repeat(7)} 7\r\n` });
    expect((await getRawMessage(ts.store.db, acc.dek, acc.userId, seven.id))?.toString()).toBe(expected);
    if (packs) expect(existsSync(packs)).toBe(true);
    expect(await deleteAccount(ts.store.db, acc.userId, acc.account.id)).toBe(true);
    if (packs) expect(existsSync(packs)).toBe(false);
    else expect(await chunksOf(acc.account.id)).toEqual([]);
  });

  const chunksOf = (accountId: number) =>
    ts.store.db.selectFrom('blob_chunks').select('data').where('account_id', '=', accountId).orderBy('pack').orderBy('seq').execute();

  /** A bulk first sync whose parse pool is closed at the first progress report `when` accepts; returns its error. */
  async function syncLosingThread(when: (p: SyncProgress) => boolean) {
    const { user, pw } = users.take();
    fill(user);
    const acc = await createTestAccount(ts.store, { host: d.host, port: d.port }, { username: user, password: pw });
    let closing: Promise<void> | undefined;
    const err = await syncAccount(
      acc.input({
        onProgress: (p) => {
          if (when(p) && !closing) closing = sharedParserPool()?.close();
        },
      }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    await closing;
    expect(closing).toBeDefined();
    expect(err).toBeInstanceOf(SyncError);
    return { user, pw, acc, err: err as SyncError };
  }

  /** The rerun after a lost thread completes, exactly as on the server, every message once. */
  async function rerunIsExact(acc: TestAccount, user: string, pw: string): Promise<void> {
    const stats = await syncAccount(acc.input());
    expect(stats.remaining).toBe(0);
    expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, FOLDERS));
    const ids = await ts.store.db.selectFrom('messages').select('stable_id').where('account_id', '=', acc.account.id).execute();
    expect(new Set(ids.map((r) => r.stable_id)).size).toBe(COUNT);
  }

  it('the parse thread lost in the middle of the bulk: a transient failure, not a hang; a rerun completes exactly', async () => {
    // The second folder's bodies are about to come: the first folder's batches are all written, so
    // no job is pending when the thread goes; the next one is sent to a pool that has none left.
    const { user, pw, acc, err } = await syncLosingThread((p) => p.phase === 'fetch' && p.folderIndex === 2 && p.done === 0);
    expect([err.kind, err.code]).toEqual(['transient', 'internal']);
    await rerunIsExact(acc, user, pw);
  });

  it('the parse thread lost while the first folder is still being written: no folder state saved ahead of its messages', async () => {
    // Pass B of the first folder has read its last body; its last batches may still be on their way.
    const { user, pw, acc, err } = await syncLosingThread((p) => p.phase === 'state' && p.folderIndex === 2);
    expect(err.kind).toBe('transient');
    await savedStateCovered(ts, acc.account.id, user, pw);
    await rerunIsExact(acc, user, pw);
    await savedStateCovered(ts, acc.account.id, user, pw);
  });

  it('cut in the middle of the bulk, then rerun: exact, no duplicates, nothing fetched twice', async () => {
    const { user, pw } = users.take();
    fill(user);
    const acc = await createTestAccount(ts.store, { host: proxy.host, port: proxy.port }, { username: user, password: pw });
    proxy.reset();
    void proxy.cutAfter(150_000);
    const err = await syncAccount(acc.input()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SyncError);
    expect((err as SyncError).kind).toBe('transient');
    proxy.reset();
    const partial = Number(
      (
        await ts.store.db
          .selectFrom('messages')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('account_id', '=', acc.account.id)
          .executeTakeFirstOrThrow()
      ).n,
    );
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(COUNT);
    await savedStateCovered(ts, acc.account.id, user, pw);
    const stats = await syncAccount(acc.input());
    expect(stats.fetched + partial).toBe(COUNT);
    expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, FOLDERS));
    expect((await syncAccount(acc.input())).fetched).toBe(0);
  });
});
