import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncAccount } from '../../../src/sync/engine.js';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { createTestAccount, rawMessage } from '../../fixtures/sync-account.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';
import { malformedCorpus } from '../../fixtures/mail-corpus.js';
import { countRows, onServer, serverLocations, storedLive, UserPool } from './sync-helpers.js';

let d: Dovecot;
let users: UserPool;
beforeAll(async () => {
  d = await startDovecot();
  users = new UserPool(d);
});
afterAll(async () => {
  await d?.stop();
});

describe.each(await storeKinds())('sync engine: moves and folders on %s', (kind) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(async () => {
    await ts?.cleanup();
  });

  async function setup(settings: Parameters<typeof createTestAccount>[3] = {}) {
    const { user, pw } = users.take();
    const acc = await createTestAccount(ts.store, { host: d.host, port: d.port }, { username: user, password: pw }, settings);
    const exact = async (folders: string[]) =>
      expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, folders));
    return { user, pw, acc, exact };
  }

  it('a message moved with MOVE is not fetched again', async () => {
    const { user, pw, acc, exact } = await setup();
    for (let i = 0; i < 3; i++) d.writeMessage(user, 'INBOX', rawMessage({ subject: `m ${i}` }));
    d.writeMessage(user, 'Archive', rawMessage({ subject: 'already there' }));
    await syncAccount(acc.input());
    const before = await countRows(ts.store, 'messages');
    await onServer(d, user, pw, 'INBOX', (c) => c.messageMove('1:2', 'Archive', { uid: true }));
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(0);
    expect(stats.moved).toBe(2);
    expect(stats.deleted).toBe(0);
    expect(await countRows(ts.store, 'messages')).toBe(before);
    await exact(['INBOX', 'Archive']);
  });

  it('a message moved with COPY + EXPUNGE is not fetched again', async () => {
    const { user, pw, acc, exact } = await setup();
    d.writeMessage(user, 'INBOX', rawMessage({ subject: 'to copy' }), { flags: ['\\Seen'] });
    d.writeMessage(user, 'Sent', rawMessage({ subject: 'sent' }));
    await syncAccount(acc.input());
    await onServer(d, user, pw, 'INBOX', async (c) => {
      await c.messageCopy('1', 'Sent', { uid: true });
      await c.messageDelete('1', { uid: true });
    });
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(0);
    expect(stats.moved).toBe(1);
    await exact(['INBOX', 'Sent']);
  });

  it('a copy kept in two folders is stored twice and both stay exact', async () => {
    const { user, pw, acc, exact } = await setup();
    d.writeMessage(user, 'INBOX', rawMessage({ id: 'same-one', subject: 'copied' }));
    await syncAccount(acc.input());
    await onServer(d, user, pw, 'INBOX', async (c) => {
      await c.mailboxCreate('Archive');
      expect(await c.messageCopy('1', 'Archive', { uid: true })).toBeTruthy();
    });
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(1);
    await exact(['INBOX', 'Archive']);
  });

  it('a changed UIDVALIDITY rescans the folder without fetching bodies again', async () => {
    const { user, acc, exact } = await setup();
    for (let i = 0; i < 3; i++) d.writeMessage(user, 'Archive', rawMessage({ subject: `m ${i}` }));
    await syncAccount(acc.input());
    d.setUidValidity(user, 'Archive', 777777);
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(0);
    expect(stats.deleted).toBe(0);
    const f = await ts.store.db
      .selectFrom('folders')
      .select('uidvalidity')
      .where('account_id', '=', acc.account.id)
      .where('path', '=', 'Archive')
      .executeTakeFirstOrThrow();
    expect(Number(f.uidvalidity)).toBe(777777);
    await exact(['INBOX', 'Archive']);
  });

  it('a message moved out of a folder whose UIDVALIDITY then changed is a move, not fetched again', async () => {
    const { user, pw, acc, exact } = await setup();
    d.writeMessage(user, 'INBOX', rawMessage({ subject: 'stays' }));
    for (let i = 0; i < 3; i++) d.writeMessage(user, 'Archive', rawMessage({ id: `archived-${i}`, subject: `a ${i}` }));
    await syncAccount(acc.input());
    const before = await countRows(ts.store, 'messages');
    // INBOX, where the message lands, is visited before Archive, whose old locations all go.
    await onServer(d, user, pw, 'Archive', (c) => c.messageMove('1', 'INBOX', { uid: true }));
    d.setUidValidity(user, 'Archive', 888888);
    const stats = await syncAccount(acc.input());
    expect([stats.fetched, stats.moved, stats.deleted]).toEqual([0, 1, 0]);
    expect(await countRows(ts.store, 'messages')).toBe(before);
    await exact(['INBOX', 'Archive']);
  });

  it('a first sync reads bodies once; their identity matches what a header-only rescan computes', async () => {
    const { user, acc, exact } = await setup();
    const corpus = malformedCorpus();
    for (const m of corpus) d.writeMessage(user, 'Archive', m.raw);
    d.writeMessage(user, 'Archive', rawMessage({ subject: 'no id', id: null }));
    const first = await syncAccount(acc.input());
    expect(first.fetched).toBe(corpus.length + 1);
    d.setUidValidity(user, 'Archive', 424242);
    const stats = await syncAccount(acc.input());
    expect([stats.fetched, stats.deleted, stats.new]).toEqual([0, 0, 0]);
    await exact(['INBOX', 'Archive']);
  });

  it('folders added, renamed and deleted on the server are followed', async () => {
    const { user, pw, acc, exact } = await setup();
    d.writeMessage(user, 'Projects', rawMessage({ subject: 'p1' }));
    d.writeMessage(user, 'Old', rawMessage({ subject: 'o1' }));
    await syncAccount(acc.input());
    d.writeMessage(user, 'Brand new', rawMessage({ subject: 'n1' }));
    await d.withClient(user, pw, async (c) => {
      await c.mailboxRename('Projects', 'Projects 2024');
      await c.mailboxDelete('Old');
    });
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(1); // only the new folder's message; the renamed one is a move
    expect(stats.moved).toBe(1);
    expect(stats.deleted).toBe(1);
    const folders = await ts.store.db
      .selectFrom('folders')
      .select(['path', 'status'])
      .where('account_id', '=', acc.account.id)
      .orderBy('path')
      .execute();
    expect(folders.filter((f) => f.status === 'active').map((f) => f.path)).toEqual(['Brand new', 'INBOX', 'Projects 2024']);
    expect(folders.filter((f) => f.status === 'gone').map((f) => f.path)).toEqual(['Old', 'Projects']);
    await exact(['INBOX', 'Brand new', 'Projects 2024']);
  });

  it('an expunged message is soft-deleted and restored when it comes back', async () => {
    const { user, pw, acc, exact } = await setup();
    d.writeMessage(user, 'INBOX', rawMessage({ id: 'boomerang', subject: 'b' }));
    await syncAccount(acc.input());
    await onServer(d, user, pw, 'INBOX', async (c) => {
      await c.mailboxCreate('Trash');
      expect(await c.messageMove('1', 'Trash', { uid: true })).toBeTruthy();
    });
    await syncAccount(acc.input({ account: { ...acc.account, excludeFolders: ['Trash'] } }));
    const gone = await ts.store.db
      .selectFrom('messages')
      .select('deleted_at')
      .where('account_id', '=', acc.account.id)
      .executeTakeFirstOrThrow();
    expect(gone.deleted_at).not.toBeNull();
    const stats = await syncAccount(acc.input());
    expect(stats.restored).toBe(1);
    expect(stats.fetched).toBe(0);
    await exact(['INBOX', 'Trash']);
  });
});
