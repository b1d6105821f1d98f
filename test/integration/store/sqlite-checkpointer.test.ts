import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { openStore, type Store } from '../../../src/store/db.js';
import { deferredCheckpointer, startCheckpointer } from '../../../src/store/sqlite-checkpointer.js';

describe('SQLite checkpoints', () => {
  const autoCheckpoint = async (store: Store) =>
    (await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(store.db)).rows[0].wal_autocheckpoint;

  it('run in their own thread once a bulk writer comes: the serving connection stops checkpointing, yet the WAL reaches the database file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mh-ckpt-')), 'x.db');
    const store = openStore(loadConfig({ env: { SQLITE_PATH: path }, envFile: false }));
    try {
      // Until then (a short-lived process need not start the thread) SQLite checkpoints every 64 MB.
      expect(await autoCheckpoint(store)).toBe(4096);
      store.sqliteFile!.expectBulkWrites();
      expect(store.sqliteFile!.walAutoCheckpoint()).toBe(0);
      expect(await autoCheckpoint(store)).toBe(0);
      const pageSize = await sql<{ page_size: number }>`pragma page_size`.execute(store.db);
      expect(pageSize.rows[0].page_size).toBe(16384);
      await sql`create table blobs (b blob)`.execute(store.db);
      for (let i = 0; i < 20; i++) await sql`insert into blobs (b) values (${randomBytes(1024 * 1024)})`.execute(store.db);
      const deadline = Date.now() + 5000;
      while (statSync(path).size < 20 * 1024 * 1024 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(statSync(path).size).toBeGreaterThanOrEqual(20 * 1024 * 1024);
      const rows = await sql<{ n: number }>`select count(*) as n from blobs`.execute(store.db);
      expect(Number(rows.rows[0].n)).toBe(20);
    } finally {
      await store.close();
    }
  });

  it('start by themselves a moment after the store opens, and not after it closed', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mh-ckpt-')), 'x.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    const cp = deferredCheckpointer(path, db, 50);
    try {
      expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(4096);
      const deadline = Date.now() + 5000;
      while (db.pragma('wal_autocheckpoint', { simple: true }) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    } finally {
      await cp.close();
    }
    const later = deferredCheckpointer(path, db, 10);
    await later.close();
    later.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(4096);
    db.close();
  });

  it('tells its owner when the thread ends unasked, so automatic checkpoints can come back', async () => {
    let lost = false;
    const cp = startCheckpointer(join(tmpdir(), 'no-such-dir-mh', 'x.db'), () => (lost = true));
    expect(cp).not.toBeNull();
    const deadline = Date.now() + 5000;
    while (!lost && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(lost).toBe(true);
    await cp!.close();
  });
});
