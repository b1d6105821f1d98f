/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists */
// A small migrator: each migration and its bookkeeping row commit in one transaction,
// so a failing migration leaves the database as it was (both dialects have transactional DDL).
import { sql, type Kysely } from 'kysely';
import type { StoreKind } from '../config/config.js';
import { migrations as allMigrations } from './migrations/index.js';
import { StartupError } from '../config/startup-error.js';
import type { Migration } from './migrations/types.js';

export class MigrationError extends StartupError {
  constructor(
    readonly migration: string,
    cause: unknown,
  ) {
    super(`Migration ${migration} failed and was rolled back: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'MigrationError';
  }
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

const LOCK_KEY = 7_160_201; // any constant: serialises migrators started at once on PostgreSQL

export async function migrate(db: Kysely<any>, dialect: StoreKind, list: readonly Migration[] = allMigrations): Promise<MigrateResult> {
  await db.schema
    .createTable('schema_migrations')
    .ifNotExists()
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('applied_at', dialect === 'postgres' ? 'bigint' : 'integer', (c) => c.notNull())
    .execute();
  const applied: string[] = [];
  let alreadyApplied = 0;
  for (const m of list) {
    const done = await db.transaction().execute(async (trx) => {
      if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${LOCK_KEY})`.execute(trx);
      const row = await sql<{ name: string }>`select name from schema_migrations where name = ${m.name}`.execute(trx);
      if (row.rows.length > 0) return true;
      try {
        await m.up(trx, dialect);
      } catch (err) {
        throw new MigrationError(m.name, err);
      }
      await sql`insert into schema_migrations (name, applied_at) values (${m.name}, ${Date.now()})`.execute(trx);
      return false;
    });
    if (done) alreadyApplied++;
    else applied.push(m.name);
  }
  return { applied, alreadyApplied };
}
