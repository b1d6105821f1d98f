// SyncStore's bookkeeping for step 3: which touched ids a run settled (stored from their new location,
// untouched since), so that reconcile skips exactly those; and which accounts count as having work
// left over. On a real store, without IMAP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { SyncStore, type ServerMessageRow } from '../../../src/sync/sync-store.js';
import { isChunkRef, readChunked } from '../../../src/store/blob-chunks.js';
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

  it('inserts fetched messages with their sealed sources from pieces, and a batch holding a stored one inserts only the rest', async () => {
    const { store, folderId, accountId } = await setup();
    const { userId } = await ts.store.db
      .selectFrom('mail_accounts')
      .select('user_id as userId')
      .where('id', '=', accountId)
      .executeTakeFirstOrThrow();
    const message = (n: number) => ({
      user_id: userId,
      account_id: accountId,
      stable_id: `m-${n}`,
      folder_id: folderId,
      uid: n,
      flags: n % 2 ? '["\\Seen"]' : '[]',
      sent_at: n === 2 ? null : 1_700_000_000_000 + n,
      size: 100 * n,
      meta_enc: randomBytes(50 + n),
      body_enc: null,
      raw_enc: null,
      raw_ref: null,
      parse_error: n === 3 ? 'bad MIME: ünclosed part' : null,
      has_skipped_attachments: n === 3 ? 1 : 0,
      deleted_at: null,
      created_at: 1000 + n,
      updated_at: 2000 + n,
    });
    // Pieces as sealing makes them: a short header, then a body of any size (an empty one, a large one).
    const raw = (n: number) => [randomBytes(29), randomBytes([0, 10, 5000, 300_000][n % 4])];
    const first = [1, 2, 3].map(message);
    const firstRaw = [1, 2, 3].map(raw);
    expect(await store.insertMessages(first, firstRaw)).toBe(3);
    // m-2 is there already: 4 and 5 are inserted all the same, m-2 left as it was.
    const second = [4, 2, 5].map(message);
    expect(await store.insertMessages(second, [4, 2, 5].map(raw))).toBe(2);
    const rows = await ts.store.db.selectFrom('messages').selectAll().where('account_id', '=', accountId).orderBy('uid').execute();
    const expected = [...first, second[0], second[2]].sort((a, b) => a.uid - b.uid);
    const expectedRaw = [firstRaw[0], firstRaw[1], firstRaw[2]];
    expect(rows.map(({ id: _id, ...r }) => ({ ...r, raw_enc: null, raw_ref: null }))).toEqual(expected);
    // SQLite (not through a parse thread's pack here): in the row. PostgreSQL: in blob_chunks, which the row names.
    const chunked = kind === 'postgres';
    expect(rows.every((r) => (chunked ? r.raw_enc === null && isChunkRef(r.raw_ref!) : r.raw_ref === null))).toBe(true);
    const sealed = await Promise.all(rows.map((r) => r.raw_enc ?? readChunked(ts.store.db, accountId, r.raw_ref!)));
    sealed.slice(0, 3).forEach((b, i) => expect(b.equals(Buffer.concat(expectedRaw[i]))).toBe(true));
    expect(sealed[3].length).toBe(29 + 0);
    expect(sealed[4].length).toBe(29 + 10);
  });

  it('an account that stores nothing and has no state row left nothing over; one with mirrored rows did', async () => {
    const { store, row, accountId } = await setup();
    expect(await store.leftover('hash')).toBe(false);
    // Rows without the state row: as a store written before the row existed.
    await ts.store.db.insertInto('server_messages').values(row(1)).execute();
    expect(await new SyncStore(ts.store, accountId).leftover('hash')).toBe(true);
  });

  it('a run that found the mirror empty claims from what it wrote, and from the store again once something is removed', async () => {
    const { store, folderId, row } = await setup();
    store.mirrorStartsEmpty();
    const base = row(1).stable_id;
    const [a, b, c] = [row(1), { ...row(2), stable_id: `${base}:2` }, row(3)];
    await store.insertServerMessages([a, b]);
    await store.beforeInsertElsewhere([c]); // in flight to another connection: claimed all the same
    expect([...(await store.claimedIds(a.account_id, [base, c.stable_id, 'other']))].sort()).toEqual(
      [base, `${base}:2`, c.stable_id].sort(),
    );
    expect(await store.flagsOf(folderId, [4, 5])).toEqual(new Map());
    // A UID this run mirrored is read from the store, with its flags as stored.
    expect(await store.flagsOf(folderId, [1, 4])).toEqual(new Map([[1, '[]']]));
    // a leaves the folder (a move, say): its id is free again, as only the store can tell now (a family
    // whose base is free claims nothing: its next message takes the base).
    await store.applyStateChanges(folderId, [], [1]);
    expect(await store.claimedIds(a.account_id, [base])).toEqual(new Set());
  });

  it('a ledger that meets a location stored already gives way to the store', async () => {
    const { store, folderId, row } = await setup();
    store.mirrorStartsEmpty();
    // Written behind the run's back: the mirror was not empty after all.
    await ts.store.db
      .insertInto('server_messages')
      .values([row(7), row(9)])
      .execute();
    await store.beforeInsertElsewhere([row(7), row(8)]);
    store.locationsWritten([row(7), row(8)], false); // the insert met row 7
    expect(await store.flagsOf(folderId, [9])).toEqual(new Map([[9, '[]']]));
    expect([...(await store.claimedIds(row(9).account_id, [row(9).stable_id]))]).toEqual([row(9).stable_id]);
  });

  it('looks up known UIDs and claimed families in one statement, as flagsOf and claimedIds do apart', async () => {
    const { store, folderId, row, accountId } = await setup();
    const base = row(1).stable_id;
    // base and its second ordinal in this folder, a third ordinal elsewhere in the account; row 3 stands alone.
    const other = await store.upsertFolder(accountId, { path: 'Archive', delimiter: '/', specialUse: null, flags: new Set() });
    await store.insertServerMessages([row(1, '["\\Seen"]'), { ...row(2), stable_id: `${base}:2` }, row(3)]);
    await store.insertServerMessages([{ ...row(1), folder_id: other, stable_id: `${base}:3` }]);
    const uids = [1, 3, 9];
    const bases = [base, 'unclaimed', base];
    const together = await store.claimLookup(folderId, uids, bases);
    expect(together.known).toEqual(await store.flagsOf(folderId, uids));
    expect(together.known).toEqual(
      new Map([
        [1, '["\\Seen"]'],
        [3, '[]'],
      ]),
    );
    expect([...together.claimed].sort()).toEqual([...(await store.claimedIds(accountId, bases))].sort());
    expect([...together.claimed].sort()).toEqual([base, `${base}:2`, `${base}:3`].sort());
    // Nothing known, nothing claimed: both empty.
    expect(await store.claimLookup(folderId, [42], ['nobody'])).toEqual({ known: new Map(), claimed: new Set() });
  });
});
