import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncAccount } from '../../../src/sync/engine.js';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { createTestAccount, rawMessage } from '../../fixtures/sync-account.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';
import { onServer, serverLocations, storedLive, UserPool } from './sync-helpers.js';

let d: Dovecot;
let users: UserPool;
beforeAll(async () => {
  d = await startDovecot({ condstore: false });
  users = new UserPool(d, 10);
});
afterAll(async () => {
  await d?.stop();
});

describe.each(await storeKinds())('sync engine without CONDSTORE/QRESYNC on %s', (kind) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(async () => {
    await ts?.cleanup();
  });

  it('falls back to UID + FLAGS and still follows new mail, flag changes, expunges and moves exactly', async () => {
    const { user, pw } = users.take();
    const acc = await createTestAccount(ts.store, { host: d.host, port: d.port }, { username: user, password: pw });
    const exact = async () =>
      expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, ['INBOX', 'Archive']));
    await d.withClient(user, pw, async (c) => expect(c.capabilities.has('CONDSTORE')).toBe(false));
    for (let i = 0; i < 6; i++) d.writeMessage(user, 'INBOX', rawMessage({ subject: `f${i}` }));
    d.writeMessage(user, 'Archive', rawMessage({ subject: 'arch' }));
    expect((await syncAccount(acc.input())).fetched).toBe(7);
    const f = await ts.store.db.selectFrom('folders').select('highestmodseq').where('account_id', '=', acc.account.id).execute();
    expect(f.every((r) => r.highestmodseq === null)).toBe(true);

    const idle = await syncAccount(acc.input());
    expect([idle.fetched, idle.bytesFetched, idle.flagChanges, idle.deleted]).toEqual([0, 0, 0, 0]);

    d.writeMessage(user, 'INBOX', rawMessage({ subject: 'late' }));
    await onServer(d, user, pw, 'INBOX', async (c) => {
      await c.messageFlagsAdd('1:2', ['\\Seen'], { uid: true });
      await c.messageDelete('3', { uid: true });
      await c.messageMove('4', 'Archive', { uid: true });
    });
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(1);
    expect(stats.flagChanges).toBe(2);
    expect(stats.deleted).toBe(1);
    expect(stats.moved).toBe(1);
    await exact();
  });
});
