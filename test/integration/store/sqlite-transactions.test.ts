// SQLite transactions begin immediate (src/store/db.ts): a transaction that reads before it writes is
// not failed by another connection writing in between (a sync's parse thread, another process).
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestStore, type TestStore } from '../../fixtures/stores.js';

const stores: TestStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

describe('SQLite transactions and a second writer', () => {
  it('a transaction that reads, then writes, completes while another connection tries to write in between', async () => {
    const ts = await createTestStore('sqlite');
    stores.push(ts);
    const other = new Database(ts.store.sqliteFile!.path, { timeout: 50 });
    try {
      let otherWrote: boolean | undefined;
      await ts.store.db.transaction().execute(async (trx) => {
        await trx.selectFrom('app_settings').selectAll().execute();
        // The other connection waits for the lock held since BEGIN (here: gives up after 50 ms) instead
        // of slipping a write under this transaction's snapshot, which would fail the write below.
        try {
          other.prepare(`insert into app_settings (key, value, updated_at) values ('other', '1', 0)`).run();
          otherWrote = true;
        } catch (err) {
          expect((err as { code?: string }).code).toBe('SQLITE_BUSY');
          otherWrote = false;
        }
        await trx.insertInto('app_settings').values({ key: 'mine', value: '1', updated_at: 0 }).execute();
      });
      expect(otherWrote).toBe(false);
      const keys = (await ts.store.db.selectFrom('app_settings').select('key').execute()).map((r) => r.key);
      expect(keys).toContain('mine');
      // Once the transaction is over, the other connection writes as usual.
      other.prepare(`insert into app_settings (key, value, updated_at) values ('other', '1', 0)`).run();
    } finally {
      other.close();
    }
  });
});
