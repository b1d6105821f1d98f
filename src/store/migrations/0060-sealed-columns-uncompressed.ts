/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists */
import { sql, type Kysely } from 'kysely';
import type { Migration } from './types.js';

/**
 * PostgreSQL tries to compress (pglz) every value it moves out of line, and sealed columns are
 * ciphertext, which never compresses: EXTERNAL stores them out of line without the attempt. A change
 * of the catalog only (no table rewrite); SQLite has no such setting.
 */
export const sealedColumnsUncompressed: Migration = {
  name: '0060-sealed-columns-uncompressed',
  async up(db: Kysely<any>, dialect) {
    if (dialect !== 'postgres') return;
    const sealed: [string, string[]][] = [
      ['messages', ['meta_enc', 'body_enc', 'raw_enc']],
      ['attachments', ['content_enc']],
    ];
    for (const [table, columns] of sealed)
      await sql`alter table ${sql.table(table)} ${sql.join(columns.map((c) => sql`alter column ${sql.ref(c)} set storage external`))}`.execute(
        db,
      );
  },
};
