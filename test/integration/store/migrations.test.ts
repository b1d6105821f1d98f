import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { openStore, type Store } from '../../../src/store/db.js';
import { migrate, MigrationError } from '../../../src/store/migrate.js';
import { migrations } from '../../../src/store/migrations/index.js';
import { createPgDatabase, storeKinds } from '../../fixtures/stores.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function emptyStore(kind: 'sqlite' | 'postgres'): Promise<{ store: Store; drop(): Promise<void> }> {
  if (kind === 'sqlite') {
    const path = join(mkdtempSync(join(tmpdir(), 'mh-mig-')), 'x.db');
    const store = openStore(loadConfig({ env: { SQLITE_PATH: path }, envFile: false }));
    return { store, drop: async () => {} };
  }
  const db = await createPgDatabase();
  const store = openStore(loadConfig({ env: { DATABASE_URL: db.url }, envFile: false }));
  return { store, drop: db.drop };
}

async function tableColumns(store: Store): Promise<Record<string, string[]>> {
  const tables = await store.db.introspection.getTables();
  return Object.fromEntries(tables.map((t) => [t.name, t.columns.map((c) => c.name).sort()]).sort());
}

const kinds = await storeKinds();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe.each(kinds)('migrations on %s', (kind) => {
  it('apply from empty, and a re-run is a no-op', async () => {
    const { store, drop } = await emptyStore(kind);
    cleanups.push(async () => {
      await store.close();
      await drop();
    });
    const first = await migrate(store.db, store.dialect);
    expect(first.applied).toEqual(migrations.map((m) => m.name));
    const second = await migrate(store.db, store.dialect);
    expect(second).toEqual({ applied: [], alreadyApplied: migrations.length });
    const cols = await tableColumns(store);
    expect(Object.keys(cols)).toEqual(expect.arrayContaining(['users', 'mail_accounts', 'messages', 'tasks', 'schema_migrations']));
  });

  it.runIf(kind === 'postgres')(
    'store sealed columns out of line without trying to compress them (ciphertext does not compress)',
    async () => {
      const { store, drop } = await emptyStore(kind);
      cleanups.push(async () => {
        await store.close();
        await drop();
      });
      await migrate(store.db, store.dialect);
      const r = await sql<{ col: string; storage: string }>`
      select attrelid::regclass::text || '.' || attname as col, attstorage::text as storage from pg_attribute
      where attrelid in ('messages'::regclass, 'attachments'::regclass) and attname like '%\_enc' and attnum > 0 order by 1`.execute(
        store.db,
      );
      expect(r.rows).toEqual(
        ['attachments.content_enc', 'messages.body_enc', 'messages.meta_enc', 'messages.raw_enc'].map((col) => ({ col, storage: 'e' })),
      );
    },
  );

  it('a failing migration leaves the database as it was and names itself', async () => {
    const { store, drop } = await emptyStore(kind);
    cleanups.push(async () => {
      await store.close();
      await drop();
    });
    const broken = {
      name: '9999-broken',
      async up(db: Parameters<(typeof migrations)[0]['up']>[0]) {
        await db.schema.createTable('half_done').addColumn('x', 'integer').execute();
        await sql`select * from table_that_does_not_exist`.execute(db);
      },
    };
    await expect(migrate(store.db, store.dialect, [...migrations, broken])).rejects.toThrow(MigrationError);
    await expect(migrate(store.db, store.dialect, [...migrations, broken])).rejects.toThrow(
      /Migration 9999-broken failed and was rolled back/,
    );
    const tables = (await store.db.introspection.getTables()).map((t) => t.name);
    expect(tables).not.toContain('half_done');
    const rows = await sql<{ name: string }>`select name from schema_migrations`.execute(store.db);
    expect(rows.rows.map((r) => r.name)).not.toContain('9999-broken');
  });
});

it('produces the same logical schema on SQLite and PostgreSQL', async () => {
  if (!kinds.includes('postgres')) return;
  const a = await emptyStore('sqlite');
  const b = await emptyStore('postgres');
  cleanups.push(async () => {
    await a.store.close();
    await b.store.close();
    await b.drop();
  });
  await migrate(a.store.db, 'sqlite');
  await migrate(b.store.db, 'postgres');
  expect(await tableColumns(a.store)).toEqual(await tableColumns(b.store));
});
