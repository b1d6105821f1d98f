// Moves SQLite's WAL checkpoints off the event loop. With automatic checkpoints, the commit that
// crosses the threshold copies the WAL into the database and waits for fsync, in the thread that
// serves requests and syncs mail; a bulk sync spent more than half its SQL time there. Here the
// owning connection never checkpoints; a thread with its own connection runs a PASSIVE checkpoint
// (which never blocks readers or writers) shortly after the WAL changes. Safety does not depend on
// it: if the thread is not running, SQLite checkpoints on the next open.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const POLL_MS = 250;
/** SQLite's own checkpoints, where the thread does not run: every 4096 pages (64 MB of 16 KB pages). */
const AUTO_CHECKPOINT_PAGES = 4096;
/** When a serving process starts the thread without being asked (see deferredCheckpointer). */
export const CHECKPOINTER_AFTER_MS = 1000;

// Plain JavaScript (eval'd), so it runs the same from dist/ and under tsx/vitest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: 5000 });
let seen = 0;
const tick = () => {
  let mtime;
  try { mtime = fs.statSync(workerData.path + '-wal').mtimeMs; } catch { return; }
  if (mtime === seen) return;
  seen = mtime;
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { seen = 0; /* busy or locked: next tick */ }
};
const timer = setInterval(tick, workerData.pollMs);
parentPort.on('message', (m) => {
  if (m !== 'close') return;
  clearInterval(timer);
  try { db.close(); } catch {}
  parentPort.postMessage('closed');
});
`;

export interface Checkpointer {
  close(): Promise<void>;
}

/**
 * Starts the checkpoint thread for a WAL database file; null when no thread can start (keep automatic
 * checkpoints then). `onLost` runs if the thread ends unasked, so the caller can turn them back on.
 */
export function startCheckpointer(path: string, onLost: () => void): Checkpointer | null {
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path, driver: fileURLToPath(import.meta.resolve('better-sqlite3')), pollMs: POLL_MS },
      // It only runs a pragma now and then: a small heap keeps the thread from adding to peak RSS.
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
    });
  } catch {
    return null;
  }
  worker.unref();
  let closed: Promise<void> | null = null;
  let exited = false;
  worker.on('error', () => {});
  worker.on('exit', () => {
    exited = true;
    if (!closed) onLost();
  });
  return {
    close() {
      closed ??= new Promise<void>((resolve) => {
        if (exited) return resolve();
        const timer = setTimeout(resolve, 2000);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        worker.once('message', done);
        worker.once('exit', done);
        worker.postMessage('close');
      }).then(() => worker.terminate().then(() => {}));
      return closed;
    },
  };
}

/** What deferredCheckpointer needs of the serving connection (a better-sqlite3 Database). */
interface Connection {
  readonly open: boolean;
  pragma(source: string): unknown;
}

export interface DeferredCheckpointer extends Checkpointer {
  /** Starts the thread now unless it runs (or the store is closed): a second connection will write in bulk. */
  start(): void;
}

/**
 * The checkpoint thread of `connection`, started when a bulk writer asks (start()) or `afterMs` after
 * this call (a serving process gets it soon anyway). Until then the connection checkpoints by itself
 * every 64 MB, more than a small sync writes: so a short-lived process (a sync of new mail from the
 * command line) does not pay for the thread's start, ~80 core-ms, ~10 ms of such a sync on 2 cores.
 */
export function deferredCheckpointer(path: string, connection: Connection, afterMs = CHECKPOINTER_AFTER_MS): DeferredCheckpointer {
  const auto = () => connection.open && connection.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  auto();
  let thread: Checkpointer | null = null;
  let closed = false;
  const start = () => {
    clearTimeout(timer);
    if (thread || closed || !connection.open) return;
    thread = startCheckpointer(path, auto);
    if (thread) connection.pragma('wal_autocheckpoint = 0');
  };
  const timer = setTimeout(start, afterMs).unref();
  return {
    start,
    async close() {
      closed = true;
      clearTimeout(timer);
      await thread?.close();
    },
  };
}
