// The writes of a sealed batch, for a parse thread with its own SQLite connection (parse-worker.ts):
// on SQLite the reading thread's largest cost in an initial sync was inserting the sealed bytes
// (~40 µs a message, most of it copying them into the WAL). The thread that seals a batch writes it,
// server locations and messages in one transaction, so the sealed bytes never travel back either.
// The same statements as sync-store.ts and fetch-step.ts issue through Kysely on the other path, bound
// by name from the same row objects (ServerMessageRow, messageRow), except that the sealed raw sources
// go to pack files (src/store/blob-packs.ts), synced before the rows that name them are committed.
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { packDirOf, PackWriter } from '../store/blob-packs.js';
import { messageRow, type MessageBase, type SealedMessage } from './seal-message.js';
import type { ServerMessageRow } from './sync-store.js';

/** Where the thread writes: the database file and its connection's automatic checkpoint setting. */
export interface ThreadStoreTarget {
  path: string;
  /** Pages (0: never), as the owning connection has it: 0 while a checkpoint thread runs. */
  walAutoCheckpoint: number;
}

interface Connection {
  db: Database.Database;
  /** The file it opened: a store deleted and created anew at the same path is another file. */
  ino: number;
  insertLocation: Database.Statement;
  insertMessage: Database.Statement;
  packs: PackWriter;
  write: Database.Transaction<
    (server: ServerMessageRow[], messages: [MessageBase, SealedMessage][], rawRefs: string[], now: number) => WrittenRows
  >;
}

/** How many of a batch's rows were inserted (the others were there already: a conflict). */
export interface WrittenRows {
  locations: number;
  messages: number;
}

const connections = new Map<string, Connection>();
/** Pack writers by database path, for the file (inode) they write for: they outlive the connections, so batches keep appending to the same packs. */
const packWriters = new Map<string, { ino: number; writer: PackWriter }>();
let idleTimer: NodeJS.Timeout | null = null;
/** Connections close when the thread has had nothing to write for this long, so no file stays open behind a store's close(). */
const IDLE_CLOSE_MS = 200;

function connect(t: ThreadStoreTarget): Connection {
  const ino = statSync(t.path).ino;
  const open = connections.get(t.path);
  if (open && open.ino === ino) return open;
  if (open) {
    connections.delete(t.path);
    try {
      open.packs.close();
      open.db.close();
    } catch {
      // As in closeAll.
    }
  }
  const db = new Database(t.path, { timeout: 5000, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  db.pragma(`wal_autocheckpoint = ${Math.max(0, Math.trunc(t.walAutoCheckpoint))}`);
  const insertLocation = db.prepare(
    `insert into server_messages (folder_id, uid, account_id, stable_id, flags, internal_date, size)
     values (@folder_id, @uid, @account_id, @stable_id, @flags, @internal_date, @size) on conflict (folder_id, uid) do nothing`,
  );
  const insertMessage = db.prepare(
    `insert into messages (user_id, account_id, stable_id, folder_id, uid, flags, sent_at, size, meta_enc, body_enc,
       raw_enc, raw_ref, parse_error, has_skipped_attachments, deleted_at, created_at, updated_at)
     values (@user_id, @account_id, @stable_id, @folder_id, @uid, @flags, @sent_at, @size, @meta_enc, @body_enc,
       @raw_enc, @raw_ref, @parse_error, @has_skipped_attachments, @deleted_at, @created_at, @updated_at)
     on conflict (account_id, stable_id) do nothing`,
  );
  const write = db.transaction((server: ServerMessageRow[], messages: [MessageBase, SealedMessage][], rawRefs: string[], now: number) => {
    const n = { locations: 0, messages: 0 };
    for (const r of server) n.locations += insertLocation.run(r).changes;
    messages.forEach(([b, s], i) => {
      n.messages += insertMessage.run(messageRow(b, s, now, rawRefs[i])).changes;
    });
    return n;
  });
  let w = packWriters.get(t.path);
  if (w?.ino !== ino) packWriters.set(t.path, (w = { ino, writer: new PackWriter(packDirOf(t.path)) })); // a store created anew
  const c = { db, ino, insertLocation, insertMessage, packs: w.writer, write };
  connections.set(t.path, c);
  return c;
}

function closeAll(): void {
  idleTimer = null;
  for (const c of connections.values()) {
    try {
      c.packs.close();
      c.db.close();
    } catch {
      // Its file may be gone (a store deleted after its close); nothing is left to write.
    }
  }
  connections.clear();
}

/** Batches between their pack append's start and their commit; the connections stay open while any is. */
let writing = 0;
/** The last batch's commit: each batch commits after the one before it, in the order they came. */
let lastCommit: Promise<unknown> = Promise.resolve();

/**
 * Seals the batch (`seal`), appends its sealed raw sources to the account's pack (synced), then writes
 * its new server locations and its messages in one transaction; says how many rows were new. The
 * append's writes and sync run on libuv's threads: meanwhile this thread seals the next batch (a
 * blocking fdatasync kept it idle for ~0.5 s of a 10,000-message first sync, with the reading thread
 * waiting on it). A batch is announced to the pack writer before it is sealed, so that the batches
 * before it wait for its bytes and one sync covers them all (PackWriter.hold); `written` is called once
 * its bytes are in the pack (or it failed before), its sealed sources let go meanwhile.
 */
export async function writeSealedBatch(
  t: ThreadStoreTarget,
  server: ServerMessageRow[],
  seal: () => Promise<[MessageBase, SealedMessage][]>,
  written: () => void = () => {},
): Promise<WrittenRows> {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = null;
  writing++;
  let messages: [MessageBase, SealedMessage][] = [];
  let blobs: Buffer[][] = [];
  let release = () => {};
  let done = false;
  const wrote = () => {
    if (done) return;
    done = true;
    release();
    // The commit needs the rows, not the sources: they go now, not when the commit (behind a sync) is done.
    blobs.length = 0;
    for (const [, s] of messages) s.rawEnc = [];
    written();
  };
  try {
    const c = connect(t);
    release = c.packs.hold();
    messages = await seal();
    // A batch is one sync's, so one account's: its sources go to that account's pack.
    const accountId = messages[0]?.[0].account_id;
    if (messages.some(([b]) => b.account_id !== accountId)) throw new Error('a batch mixes the messages of several accounts');
    blobs = messages.map(([, s]) => s.rawEnc);
    // Without messages nothing is written; held longer, the batches before it would wait for its commit, it for theirs.
    if (accountId === undefined) wrote();
    const appended = accountId === undefined ? Promise.resolve([]) : c.packs.append(accountId, blobs, wrote);
    const commit = Promise.all([appended, lastCommit]).then(([rawRefs]) => c.write(server, messages, rawRefs, Date.now()));
    lastCommit = commit.catch(() => {});
    return await commit;
  } finally {
    wrote();
    if (--writing === 0) {
      idleTimer = setTimeout(closeAll, IDLE_CLOSE_MS);
      idleTimer.unref();
    }
  }
}
