// Moves SQLite's WAL checkpoints off the event loop. With automatic checkpoints, the commit that
// crosses the threshold copies the WAL into the database and waits for fsync, in the thread that
// serves requests and syncs mail; a bulk sync spent more than half its SQL time there. Here the
// owning connection never checkpoints; a thread with its own connection runs a PASSIVE checkpoint
// (which never blocks readers or writers) shortly after the WAL changes. Safety does not depend on
// it: if the thread is not running, SQLite checkpoints on the next open.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const POLL_MS = 250;

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
