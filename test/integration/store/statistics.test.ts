import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshStatistics } from '../../../src/store/db.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';

const kinds = await storeKinds();

describe.each(kinds)('store maintenance for the sync (%s)', (kind) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(async () => {
    await ts.cleanup();
  });

  const lastAnalyzed = async () =>
    (
      await sql<{
        t: string | null;
      }>`select max(coalesce(last_analyze, last_autoanalyze))::text as t from pg_stat_user_tables where relname = 'messages'`.execute(
        ts.store.db,
      )
    ).rows[0].t;

  it.runIf(kind === 'postgres')('refreshes the planner statistics after a bulk load, not after a small write', async () => {
    expect(await lastAnalyzed()).toBeNull();
    await refreshStatistics(ts.store, ['messages', 'server_messages'], 999);
    expect(await lastAnalyzed()).toBeNull();
    await refreshStatistics(ts.store, ['messages', 'server_messages'], 1000);
    // pg_stat is updated by the statistics collector shortly after the transaction
    await expect.poll(lastAnalyzed, { timeout: 5000 }).not.toBeNull();
  });

  it('a redoable transaction commits, rolls back on error, and only its connections skip the WAL flush', async () => {
    const before = await setting();
    await ts.store.redoable.transaction().execute(async (trx) => {
      await trx.insertInto('users').values(user('redo-a')).execute();
      if (kind === 'postgres') expect(await setting(trx)).toBe('off');
    });
    await expect(
      ts.store.redoable.transaction().execute(async (trx) => {
        await trx.insertInto('users').values(user('redo-b')).execute();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const names = (await ts.store.db.selectFrom('users').select('username').where('username', 'like', 'redo-%').execute()).map(
      (r) => r.username,
    );
    expect(names).toEqual(['redo-a']);
    expect(await setting()).toBe(before);
  });

  async function setting(db = ts.store.db): Promise<string | null> {
    if (kind !== 'postgres') return null;
    return (await sql<{ v: string }>`select current_setting('synchronous_commit') as v`.execute(db)).rows[0].v;
  }

  function user(username: string) {
    const now = Date.now();
    return {
      username,
      password_hash: 'x',
      is_admin: 0,
      kek_salt: Buffer.alloc(16),
      wrapped_dek: Buffer.alloc(60),
      key_id: username,
      failed_logins: 0,
      locked_until: null,
      created_at: now,
      updated_at: now,
    };
  }
});
