/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists */
import { sql, type Kysely } from 'kysely';
import { columnTypes, type Migration } from './types.js';

/**
 * PostgreSQL keeps the sealed raw sources a sync stores in page-sized chunks (src/store/blob-chunks.ts):
 * PLAIN storage, so a chunk is stored as it is, never compressed or moved out of line. No foreign key (a
 * check per chunk doubled a COPY's time): a trigger deletes an account's chunks with the account, also
 * where a user's deletion cascades to it. SQLite keeps its sources in pack files: its table stays empty,
 * there so that statements which drop chunks run on either store.
 */
export const blobChunks: Migration = {
  name: '0070-blob-chunks',
  async up(db: Kysely<any>, dialect) {
    const t = columnTypes(dialect);
    await db.schema
      .createTable('blob_chunks')
      .addColumn('account_id', t.bigint, (c) => c.notNull())
      .addColumn('pack', t.bigint, (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('data', t.blob, (c) => c.notNull())
      .addPrimaryKeyConstraint('blob_chunks_pkey', ['account_id', 'pack', 'seq'])
      .execute();
    if (dialect !== 'postgres') return;
    await sql`alter table blob_chunks alter column data set storage plain`.execute(db);
    await sql`
      create function mail_helper_drop_account_chunks() returns trigger language plpgsql as $$
      begin
        delete from blob_chunks where account_id = old.id;
        return null;
      end $$`.execute(db);
    await sql`
      create trigger mail_accounts_drop_chunks after delete on mail_accounts
      for each row execute function mail_helper_drop_account_chunks()`.execute(db);
  },
};
