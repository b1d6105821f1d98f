// The store: one Kysely instance over SQLite (embedded) or PostgreSQL (distributed).
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type pg from 'pg';
import { describeStore, type Config, type StoreKind } from '../config/config.js';
import type { Database } from './schema.js';
import { deferredCheckpointer } from './sqlite-checkpointer.js';
import { closePackWriter, packDirOf, packedAccounts, registerPackDir, removeAccountPacks } from './blob-packs.js';
import { StartupError } from '../config/startup-error.js';
import { copyRows, type CopyColumn, type CopyValue } from './pg-copy.js';

export interface Store {
  db: Kysely<Database>;
  /**
   * The same database, for writes the next sync can redo (the mirror of an IMAP server and the
   * messages fetched into it). On PostgreSQL its connections commit without waiting for the WAL to
   * reach the disk (synchronous_commit=off), the trade SQLite's WAL with synchronous=NORMAL makes for
   * every commit: a crash of the database server or the machine can lose the last moments of such
   * commits, never their order or consistency. It spares a sync one disk flush per statement (5–15 ms
   * each here), most of a small sync's time on PostgreSQL. A sync reads through it too (SyncStore.db):
   * a fresh process then warms one pool's connections, not two. On SQLite it is `db`.
   */
  redoable: Kysely<Database>;
  dialect: StoreKind;
  description: string;
  /**
   * SQLite on a file: where another connection (a sync's parse thread) can open it, and how this one
   * checkpoints. expectBulkWrites() starts the checkpoint thread now, if it does not run yet.
   */
  sqliteFile?: { path: string; expectBulkWrites(): void; walAutoCheckpoint(): number };
  /** PostgreSQL: a bulk insert by COPY (pg-copy.ts) through `redoable`'s connections; says how many rows it inserted. */
  copyRows?: (table: keyof Database, columns: readonly CopyColumn[], rows: Iterable<readonly CopyValue[]>) => Promise<number>;
  close(): Promise<void>;
}

export class StoreUnavailableError extends StartupError {
  constructor(description: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message || (cause as NodeJS.ErrnoException).code || cause.name : String(cause);
    super(`Cannot reach the store (${description}): ${reason}`, { cause });
    this.name = 'StoreUnavailableError';
  }
}

/**
 * pg, loaded when a PostgreSQL store is opened: importing it took ~70 ms here (it looks for a fetch
 * Response, which makes Node load its HTTP client), paid by every process on SQLite too.
 */
let pgModule: typeof pg | undefined;
function loadPg(): typeof pg {
  return (pgModule ??= createRequire(import.meta.url)('pg') as typeof pg);
}

// BIGINT and COUNT(*) arrive as strings from pg; our bigints are timestamps and ids, all far below 2^53.
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (v: string) => Number(v);
    return loadPg().types.getTypeParser(oid, format);
  },
};

/**
 * Kysely prepares every SQLite statement anew; a sync's batched inserts (hundreds of parameters)
 * spent more time compiling than binding. Statements are reused by their SQL text (a connection
 * runs one query at a time, so a cached statement is never busy). Transactions begin immediate (below).
 */
function withStatementCache(database: SQLite.Database, size = 100): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = database.prepare.bind(database);
  database.prepare = ((text: string) => {
    // Kysely begins transactions deferred. A deferred transaction that reads before it writes fails at
    // once with SQLITE_BUSY (no waiting helps: its snapshot is stale) when another connection wrote in
    // between, as a sync's parse thread (src/sync/thread-store.ts) or another process does. Immediate:
    // the write lock is taken at BEGIN, waiting for it like any write.
    const source = text === 'begin' ? 'begin immediate' : text;
    let stmt = cache.get(source);
    if (stmt) {
      cache.delete(source); // most recently used goes last
    } else {
      stmt = prepare(source);
      if (cache.size >= size) cache.delete(cache.keys().next().value!);
    }
    cache.set(source, stmt);
    return stmt;
  }) as typeof database.prepare;
  return database;
}

/**
 * Removes the pack directories of accounts that no longer exist: their deletion removes them, unless the
 * process stopped in between or a sync still running wrote to one afterwards (its rows then failed).
 */
function sweepPacks(database: SQLite.Database, dir: string): void {
  const ids = packedAccounts(dir);
  if (ids.length === 0) return;
  try {
    const exists = database.prepare('select 1 from mail_accounts where id = ?').pluck();
    removeAccountPacks(
      dir,
      ids.filter((id) => exists.get(id) === undefined),
    );
  } catch {
    // Not migrated yet (no accounts table): nothing can refer to a pack.
  }
}

export function openStore(config: Pick<Config, 'store'>, opts: { poolSize?: number } = {}): Store {
  const description = describeStore(config as Config);
  if (config.store.kind === 'sqlite') {
    mkdirSync(dirname(config.store.path), { recursive: true });
    const database = new SQLite(config.store.path, { timeout: 5000 });
    // WAL: readers never block the writer; busy timeout: a second process waits instead of failing.
    // Message rows carry 2–100 KB blobs: 16 KB pages (new files only; must precede WAL) halve the
    // overflow-page work (bench/sync-bench.ts). The WAL is truncated back to 64 MB when it restarts.
    database.pragma('page_size = 16384');
    database.pragma('journal_mode = WAL');
    database.pragma('journal_size_limit = 67108864');
    database.pragma('busy_timeout = 5000');
    database.pragma('foreign_keys = ON');
    database.pragma('synchronous = NORMAL');
    // Checkpoints (copy + fsync) run in their own thread once it runs, else every 64 MB here (see
    // deferredCheckpointer). An in-memory database has no WAL to checkpoint.
    const checkpointer = config.store.path === ':memory:' ? null : deferredCheckpointer(config.store.path, database);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
    const file = config.store.path === ':memory:' ? undefined : resolve(config.store.path);
    if (file) {
      const packs = packDirOf(file);
      registerPackDir(db, packs);
      sweepPacks(database, packs);
    }
    return {
      db,
      redoable: db,
      dialect: 'sqlite',
      description,
      sqliteFile: file
        ? {
            path: file,
            expectBulkWrites: () => checkpointer?.start(),
            walAutoCheckpoint: () => (database.open ? Number(database.pragma('wal_autocheckpoint', { simple: true })) : 0),
          }
        : undefined,
      close: async () => {
        await checkpointer?.close();
        closePackWriter(db);
        await db.destroy();
      },
    };
  }
  const url = config.store.url;
  const pool = (options?: string, min = 0): pg.Pool => {
    const p = new (loadPg().Pool)({
      connectionString: url,
      max: opts.poolSize ?? 10,
      min,
      types: pgTypes,
      connectionTimeoutMillis: 5000,
      ...(options ? { options } : {}),
    });
    // A client losing its server (PostgreSQL restarted) must not crash the process. The pool listens on
    // idle clients only; a checked-out one (e.g. held by a transaction between two queries) emits 'error'
    // on itself, so every client gets a listener. The broken client's next query fails with a store error
    // (transient: retried), and the pool discards it when released.
    p.on('error', () => {});
    p.on('connect', (client) => client.on('error', () => {}));
    return p;
  };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: pool() }) });
  // Connections are opened on first use: a process that never syncs never opens one.
  // Any options the URL already sets (e.g. a search_path) are kept.
  const urlOptions = URL.canParse(url) ? (new URL(url).searchParams.get('options') ?? '') : '';
  // Two of the sync pool's connections outlive pg's 10 s idle timeout: a worker's next scheduled sync
  // then finds their backends running and their caches warm instead of opening new ones (a sync after
  // 100 new messages, 12 s after the last: 294 -> 253 ms median, faster in 6 of 8 rounds).
  const redoablePool = pool(`${urlOptions} -c synchronous_commit=off`.trim(), 2);
  const redoable = new Kysely<Database>({ dialect: new PostgresDialect({ pool: redoablePool }) });
  return {
    db,
    redoable,
    dialect: 'postgres',
    description,
    copyRows: (table, columns, rows) => copyRows(redoablePool, table, columns, rows),
    close: async () => {
      await Promise.all([db.destroy(), redoable.destroy()]);
    },
  };
}

/**
 * PostgreSQL plans by table statistics that autovacuum refreshes only now and then (never where it is
 * off): right after a bulk load the planner takes the tables for empty and walks a whole index where
 * one lookup would do (29 ms instead of 0.3 ms for one reconcile statement after a 10,000-message first
 * sync). So a write of at least 1,000 rows and a tenth of the tables' size refreshes them, as autovacuum's
 * own threshold would. SQLite's statements are written to plan well without statistics.
 */
export async function refreshStatistics(store: Store, tables: (keyof Database)[], rowsWritten: number): Promise<void> {
  if (store.dialect !== 'postgres' || rowsWritten < 1000) return;
  const r = await sql<{ n: number }>`
    select coalesce(sum(greatest(reltuples, 0)), 0)::bigint as n from pg_class where relname in (${sql.join(tables)})`.execute(store.db);
  if (rowsWritten < 0.1 * Number(r.rows[0]?.n ?? 0)) return;
  await sql`analyze ${sql.join(tables.map((t) => sql.table(t)))}`.execute(store.db);
}

/** Throws StoreUnavailableError naming where the store is and why it failed. */
export async function checkStore(store: Store): Promise<void> {
  try {
    await sql`select 1`.execute(store.db);
  } catch (err) {
    throw new StoreUnavailableError(store.description, err);
  }
}
