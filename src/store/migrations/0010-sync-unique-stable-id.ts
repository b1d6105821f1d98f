/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists */
import type { Kysely } from 'kysely';
import type { Migration } from './types.js';

// The sync engine gives every server copy of a message its own stable id (an ordinal suffix tells
// copies and Message-ID collisions apart), so a stable id names one server location per account:
// the store enforces it, and reruns after an interruption cannot create a second claim.
export const syncUniqueStableId: Migration = {
  name: '0010-sync-unique-stable-id',
  async up(db: Kysely<any>) {
    await db.schema.dropIndex('server_messages_stable').execute();
    await db.schema
      .createIndex('server_messages_account_stable')
      .on('server_messages')
      .columns(['account_id', 'stable_id'])
      .unique()
      .execute();
    // Reconcile and the read model look up live messages per account and folder.
    await db.schema.createIndex('messages_account_deleted').on('messages').columns(['account_id', 'deleted_at']).execute();
  },
};
