// Worker heartbeats in the workers table: the health check and the Tasks page read them to tell
// whether anyone is running jobs (the seed's "task stays PENDING" trap).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Store } from '../store/db.js';
import type { Worker } from '../store/schema.js';
import { VERSION } from '../version.js';
import type { QueueKind } from './types.js';

export const HEARTBEAT_MS = 5_000;
/** A worker whose last heartbeat is older than this counts as gone. */
export const WORKER_STALE_MS = 20_000;

export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly store: Store,
    readonly workerId: string,
    private readonly info: { queue: QueueKind; concurrency: number; taskTypes: string[] },
    private readonly currentJobs: () => string[],
    private readonly intervalMs = HEARTBEAT_MS,
  ) {}

  async start(): Promise<void> {
    const now = Date.now();
    await this.store.db
      .insertInto('workers')
      .values({
        id: this.workerId,
        host: hostname(),
        pid: process.pid,
        queue: this.info.queue,
        concurrency: this.info.concurrency,
        version: VERSION,
        current_jobs: '[]',
        task_types: JSON.stringify(this.info.taskTypes),
        started_at: now,
        last_heartbeat_at: now,
      })
      .execute();
    this.timer = setInterval(() => void this.beat().catch(() => {}), this.intervalMs);
    this.timer.unref();
  }

  async beat(): Promise<void> {
    await this.store.db
      .updateTable('workers')
      .set({ last_heartbeat_at: Date.now(), current_jobs: JSON.stringify(this.currentJobs()) })
      .where('id', '=', this.workerId)
      .execute();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.store.db.deleteFrom('workers').where('id', '=', this.workerId).execute();
  }
}

export async function liveWorkers(store: Store, queue?: QueueKind, now = Date.now()): Promise<Worker[]> {
  let q = store.db
    .selectFrom('workers')
    .selectAll()
    .where('last_heartbeat_at', '>', now - WORKER_STALE_MS);
  if (queue) q = q.where('queue', '=', queue);
  return q.orderBy('started_at').execute();
}

/** Local workers on this machine whose process is gone (SIGKILL): their leases can be broken at once. */
export async function deadLocalWorkerIds(store: Store): Promise<string[]> {
  const rows = await store.db.selectFrom('workers').select(['id', 'pid']).where('host', '=', hostname()).execute();
  return rows.filter((r) => r.pid !== process.pid && !processAlive(r.pid)).map((r) => r.id);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
