// SyncStore's bookkeeping for step 3: which touched ids a run settled (stored from their new location,
// untouched since), so that reconcile skips exactly those; and which accounts count as having work
// left over. On a real store, without IMAP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncStore, type ServerMessageRow } from '../../../src/sync/sync-store.js';
import { createTestAccount } from '../../fixtures/sync-account.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';

describe.each(await storeKinds())('sync store bookkeeping on %s', (kind) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(async () => {
    await ts?.cleanup();
  });

  async function setup() {
    const acc = await createTestAccount(ts.store, { host: '127.0.0.1', port: 1 }, { username: 'u', password: 'p' });
    const accountId = acc.account.id;
    const store = new SyncStore(ts.store, accountId);
    const folderId = await store.upsertFolder(accountId, { path: 'INBOX', delimiter: '/', specialUse: null, flags: new Set() });
    const row = (uid: number, flags = '[]'): ServerMessageRow => ({
      folder_id: folderId,
      uid,
      account_id: accountId,
      stable_id: `id-${accountId}-${uid}`,
      flags,
      internal_date: null,
      size: 10,
    });
    return { accountId, store, folderId, row };
  }

  it('settles a new location whose message is stored, and nothing touched after its insertion', async () => {
    const { store, folderId, row } = await setup();
    const [a, b, c, d] = [row(1), row(2), row(3), row(4)];
    await store.insertServerMessages([a, b, c, d]);
    // b's flags change before its message is stored (from the row as inserted): step 3 must look at it.
    await store.applyStateChanges(folderId, [{ uid: 2, flags: '["\\\\Seen"]' }], []);
    store.settle([a.stable_id, b.stable_id, c.stable_id]);
    // c vanishes after its message was stored: settled no more.
    await store.applyStateChanges(folderId, [], [3]);
    expect([...store.unreconciled()].sort()).toEqual([b.stable_id, c.stable_id, d.stable_id].sort());
    expect(store.touched.size).toBe(4);
  });

  it('does not settle a location that was there already, nor one written elsewhere that the other connection did not insert', async () => {
    const { store, row } = await setup();
    await store.insertServerMessages([row(1)]);
    const again = new SyncStore(ts.store, row(1).account_id); // a later run: the row is there
    await again.insertServerMessages([row(1, '["\\\\Flagged"]'), row(2)]);
    again.settle([row(1).stable_id, row(2).stable_id]);
    expect([...again.unreconciled()].sort()).toEqual([row(1).stable_id, row(2).stable_id].sort());

    const elsewhere = new SyncStore(ts.store, row(1).account_id);
    await elsewhere.beforeInsertElsewhere([row(3), row(4)]);
    elsewhere.locationsWritten([row(3), row(4)], false);
    elsewhere.settle([row(3).stable_id, row(4).stable_id]);
    expect(elsewhere.unreconciled().size).toBe(2);
    const third = new SyncStore(ts.store, row(1).account_id);
    await third.beforeInsertElsewhere([row(5)]);
    third.locationsWritten([row(5)], true);
    third.settle([row(5).stable_id]);
    expect(third.unreconciled().size).toBe(0);
  });

  it('an account that stores nothing and has no state row left nothing over; one with mirrored rows did', async () => {
    const { store, row, accountId } = await setup();
    expect(await store.leftover('hash')).toBe(false);
    // Rows without the state row: as a store written before the row existed.
    await ts.store.db.insertInto('server_messages').values(row(1)).execute();
    expect(await new SyncStore(ts.store, accountId).leftover('hash')).toBe(true);
  });
});
