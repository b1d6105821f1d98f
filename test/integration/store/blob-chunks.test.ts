// Sealed sources in blob_chunks on PostgreSQL (src/store/blob-chunks.ts): each ref reads back its own
// bytes, across chunk boundaries, packs and accounts; a missing chunk is a clear error; an account's
// chunks go with the account, with its user (the trigger of migration 0070, through the cascade), and
// with its messages on an admin reset; other accounts keep theirs. The rows fill a page each.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteAccount } from '../../../src/accounts/account-repo.js';
import { CHUNK_BYTES, CHUNK_COPY, chunkPack, newPackId, readChunked } from '../../../src/store/blob-chunks.js';
import { adminResetPassword, deleteUser } from '../../../src/users/user-service.js';
import { createTestAccount } from '../../fixtures/sync-account.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';

const stores: TestStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

const account = (ts: TestStore) => createTestAccount(ts.store, { host: '127.0.0.1', port: 1 }, { username: 'u', password: 'p' });

describe.runIf((await storeKinds()).includes('postgres'))('blob chunks on PostgreSQL', () => {
  async function pgStore() {
    const ts = await createTestStore('postgres');
    stores.push(ts);
    return ts;
  }
  /** Writes the blobs as one pack of the account, as a sync's batch; returns their refs. */
  async function write(ts: TestStore, accountId: number, blobs: Buffer[][]) {
    const pack = chunkPack(accountId, newPackId(), blobs);
    expect(await ts.store.copyRows!('blob_chunks', CHUNK_COPY, pack.rows)).toBe(pack.rows.length);
    return pack.refs;
  }
  const chunksOf = async (ts: TestStore, accountId: number) =>
    Number(
      (
        await ts.store.db
          .selectFrom('blob_chunks')
          .select((e) => e.fn.countAll().as('n'))
          .where('account_id', '=', accountId)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('each reference reads back its own bytes, across chunks, packs and accounts', async () => {
    const ts = await pgStore();
    const [a, b] = [await account(ts), await account(ts)];
    const blobs = [
      [randomBytes(29), randomBytes(100)],
      [randomBytes(29), randomBytes(3 * CHUNK_BYTES)],
      [randomBytes(29), Buffer.alloc(0)],
    ];
    const refs = await write(ts, a.account.id, blobs);
    const more = await write(ts, a.account.id, [[randomBytes(CHUNK_BYTES)]]);
    const other = await write(ts, b.account.id, [[Buffer.from('elsewhere')]]);
    for (const [i, ref] of refs.entries())
      expect((await readChunked(ts.store.db, a.account.id, ref)).equals(Buffer.concat(blobs[i]))).toBe(true);
    expect((await readChunked(ts.store.db, a.account.id, more[0])).length).toBe(CHUNK_BYTES);
    expect((await readChunked(ts.store.db, b.account.id, other[0])).toString()).toBe('elsewhere');
    // A reference names chunks of its own account only.
    await expect(readChunked(ts.store.db, b.account.id, refs[0])).rejects.toThrow(/stored source is missing/);
    // Stored as they are, a page each: no TOAST table holds any of it.
    const r = await sql<{ toast: string }>`
      select coalesce(pg_relation_size(reltoastrelid), 0)::text as toast from pg_class where relname = 'blob_chunks'`.execute(ts.store.db);
    expect(r.rows[0].toast).toBe('0');
  });

  it('a missing chunk is an error that says so', async () => {
    const ts = await pgStore();
    const a = await account(ts);
    const [ref] = await write(ts, a.account.id, [[randomBytes(2 * CHUNK_BYTES + 5)]]);
    await ts.store.db.deleteFrom('blob_chunks').where('account_id', '=', a.account.id).where('seq', '=', 1).execute();
    await expect(readChunked(ts.store.db, a.account.id, ref)).rejects.toThrow(/stored source is missing/);
    await expect(readChunked(ts.store.db, a.account.id, 'x.pack:0:1')).rejects.toThrow(/Not a chunk reference/);
  });

  it("an account's chunks go with the account, with its user, and with its messages on an admin reset", async () => {
    const ts = await pgStore();
    const [a, b, c] = [await account(ts), await account(ts), await account(ts)];
    for (const x of [a, b, c]) await write(ts, x.account.id, [[randomBytes(3 * CHUNK_BYTES)]]);
    const counts = () => Promise.all([a, b, c].map((x) => chunksOf(ts, x.account.id)));
    expect(await counts()).toEqual([3, 3, 3]);
    expect(await deleteAccount(ts.store.db, a.userId, a.account.id)).toBe(true);
    expect(await counts()).toEqual([0, 3, 3]);
    await adminResetPassword(ts.store.db, ts.config.auth.argon2, b.userId, 'a new long password 1');
    expect(await counts()).toEqual([0, 0, 3]);
    expect(await deleteUser(ts.store.db, c.userId)).toBe(true);
    expect(await counts()).toEqual([0, 0, 0]);
  });
});
