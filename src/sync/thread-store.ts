// The writes of a sealed batch, for a parse thread with its own SQLite connection (parse-worker.ts):
// on SQLite the reading thread's largest cost in an initial sync was inserting the sealed bytes
// (~40 µs a message, most of it copying them into the WAL). The thread that seals a batch writes it,
// server locations and messages in one transaction, so the sealed bytes never travel back either.
// The same statements as sync-store.ts and fetch-step.ts issue through Kysely on the other path.
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { SealedMessage } from './seal-message.js';
import type { ServerMessageRow } from './sync-store.js';

/** Where the thread writes: the database file and its connection's automatic checkpoint setting. */
export interface ThreadStoreTarget {
  path: string;
  /** Pages (0: never), as the owning connection has it: 0 while a checkpoint thread runs. */
  walAutoCheckpoint: number;
}

/** What a stored message row takes from the mirror; the rest comes from sealing. */
export interface MessageBase {
  user_id: number;
  account_id: number;
  stable_id: string;
  folder_id: number;
  uid: number;
  flags: string;
  internal_date: number | null;
}

interface Connection {
  db: Database.Database;
  /** The file it opened: a store deleted and created anew at the same path is another file. */
  ino: number;
  insert(server: ServerMessageRow[], messages: [MessageBase, SealedMessage][], now: number): void;
  /** Sealed bytes written since the open transaction began. */
  pending: number;
  /** Why an idle commit failed: what the drain's commit() or the next write throws, so no loss goes unseen. */
  failed: unknown;
}

const connections = new Map<string, Connection>();
let idleTimer: NodeJS.Timeout | null = null;
let commitTimer: NodeJS.Timeout | null = null;
/** Connections close when the thread has had nothing to write for this long, so no file stays open behind a store's close(). */
const IDLE_CLOSE_MS = 200;
/**
 * Batches share a transaction until this many sealed bytes are in it. Every commit writes each index
 * page a transaction touched to the WAL again, and stable ids are random keys: with one commit per
 * 100-message batch the WAL grew to 759 MB for a 466 MB first sync (it never restarts while the sync
 * writes), one copy of each index page per batch. The reading thread's drain() commits (see commit()).
 */
const COMMIT_BYTES = 16 * 1024 * 1024;
/** An open transaction commits once nothing more came to write for this long: other writers never wait longer. */
const IDLE_COMMIT_MS = 2;

function connect(t: ThreadStoreTarget): Connection {
  const ino = statSync(t.path).ino;
  const open = connections.get(t.path);
  if (open && open.ino === ino) return open;
  if (open) {
    connections.delete(t.path);
    close(open);
  }
  const db = new Database(t.path, { timeout: 5000, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  db.pragma(`wal_autocheckpoint = ${Math.max(0, Math.trunc(t.walAutoCheckpoint))}`);
  // Room for the indexes' pages a shared transaction keeps touching; message bytes spill to the WAL.
  db.pragma('cache_size = -8192');
  const insertLocation = db.prepare(
    `insert into server_messages (folder_id, uid, account_id, stable_id, flags, internal_date, size)
     values (?, ?, ?, ?, ?, ?, ?) on conflict (folder_id, uid) do nothing`,
  );
  const insertMessage = db.prepare(
    `insert into messages (user_id, account_id, stable_id, folder_id, uid, flags, sent_at, size, meta_enc, body_enc,
       raw_enc, parse_error, has_skipped_attachments, deleted_at, created_at, updated_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, null, ?, ?, ?, null, ?, ?) on conflict (account_id, stable_id) do nothing`,
  );
  const insert = (server: ServerMessageRow[], messages: [MessageBase, SealedMessage][], now: number) => {
    for (const r of server) insertLocation.run(r.folder_id, r.uid, r.account_id, r.stable_id, r.flags, r.internal_date, r.size);
    for (const [b, s] of messages)
      insertMessage.run(
        b.user_id,
        b.account_id,
        b.stable_id,
        b.folder_id,
        b.uid,
        b.flags,
        s.sentAt ?? b.internal_date,
        s.size,
        s.metaEnc,
        s.rawEnc,
        s.parseError,
        s.hasSkippedAttachments ? 1 : 0,
        now,
        now,
      );
  };
  const c: Connection = { db, ino, insert, pending: 0, failed: null };
  connections.set(t.path, c);
  return c;
}

function commitOne(c: Connection): void {
  if (c.failed) {
    const err = c.failed;
    c.failed = null;
    throw err;
  }
  c.pending = 0;
  try {
    if (c.db.inTransaction) c.db.exec('COMMIT');
  } catch (err) {
    if (c.db.inTransaction) c.db.exec('ROLLBACK');
    throw err;
  }
}

function close(c: Connection): void {
  try {
    commitOne(c);
    c.db.close();
  } catch {
    // Its file may be gone (a store deleted after its close): nothing is left to write there.
  }
}

function closeAll(): void {
  idleTimer = null;
  for (const c of connections.values()) close(c);
  connections.clear();
}

/** Commits every open transaction of this thread; throws what the commit threw. */
export function commit(): void {
  if (commitTimer) clearTimeout(commitTimer);
  commitTimer = null;
  for (const c of connections.values()) commitOne(c);
}

/**
 * Writes the batch's new server locations, then its messages, into the open transaction (begun if none
 * is), committing it once COMMIT_BYTES are in it. A failure rolls back the whole open transaction:
 * the batches in it are fetched again by the next run.
 */
export function writeSealedBatch(t: ThreadStoreTarget, server: ServerMessageRow[], messages: [MessageBase, SealedMessage][]): void {
  if (idleTimer) clearTimeout(idleTimer);
  if (commitTimer) clearTimeout(commitTimer);
  try {
    const c = connect(t);
    try {
      if (c.failed) commitOne(c); // throws the idle commit's failure
      if (!c.db.inTransaction) c.db.exec('BEGIN IMMEDIATE');
      c.insert(server, messages, Date.now());
      for (const [, s] of messages) c.pending += s.rawEnc.length;
      if (c.pending >= COMMIT_BYTES) commitOne(c);
    } catch (err) {
      c.pending = 0;
      if (c.db.inTransaction) c.db.exec('ROLLBACK');
      throw err;
    }
  } finally {
    commitTimer = setTimeout(() => {
      commitTimer = null;
      for (const c of connections.values())
        try {
          commitOne(c);
        } catch (err) {
          c.failed = err;
        }
    }, IDLE_COMMIT_MS);
    commitTimer.unref();
    idleTimer = setTimeout(closeAll, IDLE_CLOSE_MS);
    idleTimer.unref();
  }
}
