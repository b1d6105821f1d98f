/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists */
import type { Kysely } from 'kysely';
import { columnTypes, type Migration } from './types.js';

// Per account: is there sync work left over (state changed but not yet reconciled, or messages
// still to fetch)? A run that finds the server unchanged and nothing left over skips the
// whole-account queries, so a no-change sync costs the same at 2,500 and at 100,000 messages.
export const syncAccountState: Migration = {
  name: '0011-sync-account-state',
  async up(db: Kysely<any>, dialect) {
    const t = columnTypes(dialect);
    await db.schema
      .createTable('sync_account_state')
      .addColumn('account_id', t.bigint, (c) => c.primaryKey().references('mail_accounts.id').onDelete('cascade'))
      .addColumn('dirty', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('settings_hash', 'text')
      .addColumn('updated_at', t.bigint, (c) => c.notNull())
      .execute();
  },
};
