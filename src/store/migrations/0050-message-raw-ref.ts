/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists */
import type { Kysely } from 'kysely';
import type { Migration } from './types.js';

// Where a message's sealed raw source is when it is not in raw_enc: `<pack file>:<offset>:<length>` in
// the account's pack directory beside a SQLite database (src/store/blob-packs.ts); on PostgreSQL, from
// migration 0070 on, a range of blob_chunks (src/store/blob-chunks.ts).
export const messageRawRef: Migration = {
  name: '0050-message-raw-ref',
  async up(db: Kysely<any>) {
    await db.schema.alterTable('messages').addColumn('raw_ref', 'text').execute();
  },
};
