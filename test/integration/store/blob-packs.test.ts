// Pack files beside a SQLite store (src/store/blob-packs.ts): what a row names reads back byte for byte;
// a missing or cut pack is a clear error; an account's packs go with the account, with its user, and
// with its messages when an admin reset drops them; a store opened again sweeps the packs of accounts
// that no longer exist. PostgreSQL keeps no packs: the same calls leave it alone.
import { existsSync, mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteAccount } from '../../../src/accounts/account-repo.js';
import { dropAccountPacks, packDirFor, packDirOf, PackWriter, readPacked } from '../../../src/store/blob-packs.js';
import { openStore } from '../../../src/store/db.js';
import { adminResetPassword, deleteUser } from '../../../src/users/user-service.js';
import { createTestAccount } from '../../fixtures/sync-account.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';

const stores: TestStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

async function sqliteStore(): Promise<{ ts: TestStore; dir: string }> {
  const ts = await createTestStore('sqlite');
  stores.push(ts);
  return { ts, dir: packDirOf(ts.store.sqliteFile!.path) };
}

const account = (ts: TestStore) => createTestAccount(ts.store, { host: '127.0.0.1', port: 1 }, { username: 'u', password: 'p' });

describe('pack files on SQLite', () => {
  it('each reference reads back its own bytes, across batches and accounts', async () => {
    const { ts, dir } = await sqliteStore();
    expect(packDirFor(ts.store.db)).toBe(dir);
    const [a, b] = [await account(ts), await account(ts)];
    const w = new PackWriter(dir);
    const blobs = [Buffer.from('first'), Buffer.alloc(0), Buffer.alloc(300_000, 7), Buffer.from('last')];
    const refs = [...(await w.append(a.account.id, blobs.slice(0, 2))), ...(await w.append(a.account.id, blobs.slice(2)))];
    const other = await w.append(b.account.id, [Buffer.from('elsewhere')]);
    // A blob in pieces (a sealed source's head and ciphertext) is one blob: one reference to their bytes in order.
    const pieces = [Buffer.from('head-'), Buffer.alloc(70_000, 3), Buffer.from('-tail')];
    const pieced = await w.append(a.account.id, [Buffer.from('before'), pieces, [], Buffer.from('after')]);
    w.close();
    for (const [i, ref] of refs.entries()) expect(await readPacked(dir, a.account.id, ref)).toEqual(blobs[i]);
    expect((await Promise.all(pieced.map((ref) => readPacked(dir, a.account.id, ref)))).map((x) => x.length)).toEqual([6, 70_010, 0, 5]);
    expect(await readPacked(dir, a.account.id, pieced[1])).toEqual(Buffer.concat(pieces));
    expect((await readPacked(dir, a.account.id, pieced[3])).toString()).toBe('after');
    expect((await readPacked(dir, b.account.id, other[0])).toString()).toBe('elsewhere');
    // A reference names a file of its own account only.
    await expect(readPacked(dir, b.account.id, refs[0])).rejects.toThrow(/is missing/);
  });

  it('a closed writer appends to the same pack again, unless the pack is gone or changed', async () => {
    const { ts, dir } = await sqliteStore();
    const a = await account(ts);
    const w = new PackWriter(dir);
    const [first] = await w.append(a.account.id, [Buffer.from('one')]);
    w.close();
    const [second] = await w.append(a.account.id, [Buffer.from('two')]);
    // The same file, after the first one's bytes (a pack written directly starts each append on a block).
    expect(second.split(':')[0]).toBe(first.split(':')[0]);
    expect(Number(second.split(':')[1])).toBeGreaterThanOrEqual(Number(first.split(':')[1]) + 3);
    w.close();
    const file = join(dir, `a${a.account.id}`, first.split(':')[0]);
    writeFileSync(file, 'changed behind its back');
    const [third] = await w.append(a.account.id, [Buffer.from('three')]);
    expect(third.split(':')[0]).not.toBe(first.split(':')[0]);
    rmSync(join(dir, `a${a.account.id}`), { recursive: true });
    w.close();
    const [fourth] = await w.append(a.account.id, [Buffer.from('four')]);
    expect((await readPacked(dir, a.account.id, fourth)).toString()).toBe('four');
    // Removed while open (an admin reset drops the account's mail during a sync): the next batch gets a new file.
    dropAccountPacks(ts.store.db, [a.account.id]);
    const [fifth] = await w.append(a.account.id, [Buffer.from('five')]);
    w.close();
    expect((await readPacked(dir, a.account.id, fifth)).toString()).toBe('five');
  });

  it('an append is synced and done only once every batch announced before its sync has written its bytes, or will write none', async () => {
    const { ts, dir } = await sqliteStore();
    const a = await account(ts);
    const w = new PackWriter(dir);
    const held = w.hold();
    let done = false;
    const first = w.append(a.account.id, [Buffer.from('one')]).then((refs) => {
      done = true;
      return refs;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    let written = 0;
    const second = w.append(a.account.id, [Buffer.from('two')], () => {
      written++;
      held();
    });
    const [[one], [two]] = await Promise.all([first, second]);
    expect(written).toBe(1);
    // Announced, then let go without an append (its batch failed, or had no messages): the others go on.
    const none = w.hold();
    const third = w.append(a.account.id, [Buffer.from('three')]);
    none();
    const [three] = await third;
    w.close();
    expect(await Promise.all([one, two, three].map(async (ref) => (await readPacked(dir, a.account.id, ref)).toString()))).toEqual([
      'one',
      'two',
      'three',
    ]);
  });

  it('a malformed reference, a missing pack and a cut pack are errors that say so', async () => {
    const { ts, dir } = await sqliteStore();
    const a = await account(ts);
    const w = new PackWriter(dir);
    const [ref] = await w.append(a.account.id, [Buffer.alloc(1000, 1)]);
    w.close();
    await expect(readPacked(dir, a.account.id, '../../etc/passwd:0:10')).rejects.toThrow(/malformed reference/);
    await expect(readPacked(dir, a.account.id, 'nothere.pack:0:10')).rejects.toThrow(/does not exist/);
    truncateSync(join(dir, `a${a.account.id}`, ref.split(':')[0]), 500);
    await expect(readPacked(dir, a.account.id, ref)).rejects.toThrow(/cut short/);
  });

  it("an account's packs go with the account, with its user, and with its messages on an admin reset", async () => {
    const { ts, dir } = await sqliteStore();
    const [a, b, c] = [await account(ts), await account(ts), await account(ts)];
    const w = new PackWriter(dir);
    for (const x of [a, b, c]) await w.append(x.account.id, [Buffer.from('sealed')]);
    w.close();
    const packs = (x: typeof a) => existsSync(join(dir, `a${x.account.id}`));
    expect(await deleteAccount(ts.store.db, a.userId, a.account.id)).toBe(true);
    expect([packs(a), packs(b), packs(c)]).toEqual([false, true, true]);
    await adminResetPassword(ts.store.db, ts.config.auth.argon2, b.userId, 'a new long password 1');
    expect([packs(b), packs(c)]).toEqual([false, true]);
    expect(await deleteUser(ts.store.db, c.userId)).toBe(true);
    expect(packs(c)).toBe(false);
  });

  it('a store opened again sweeps the packs of accounts that no longer exist, and keeps the others', async () => {
    const { ts, dir } = await sqliteStore();
    const a = await account(ts);
    const w = new PackWriter(dir);
    await w.append(a.account.id, [Buffer.from('kept')]);
    w.close();
    // Left by a process that stopped between an account's deletion and its packs' removal.
    mkdirSync(join(dir, 'a999999'));
    writeFileSync(join(dir, 'a999999', 'x.pack'), 'orphan');
    const again = openStore(ts.config);
    await again.close();
    expect([existsSync(join(dir, `a${a.account.id}`)), existsSync(join(dir, 'a999999'))]).toEqual([true, false]);
  });
});

describe.runIf((await storeKinds()).includes('postgres'))('no pack files on PostgreSQL', () => {
  it('has no pack directory; dropping packs does nothing', async () => {
    const ts = await createTestStore('postgres');
    stores.push(ts);
    expect(packDirFor(ts.store.db)).toBeNull();
    expect(() => dropAccountPacks(ts.store.db, [1, 2])).not.toThrow();
  });
});
