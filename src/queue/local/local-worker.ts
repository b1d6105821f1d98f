// The embedded worker: polls the tasks table (and wakes on enqueue in this process), runs up to
// `concurrency` tasks, holds a lease on each so a crashed process's tasks are resumed.
import type { Store } from '../../store/db.js';
import { deadLocalWorkerIds, Heartbeat, newWorkerId } from '../heartbeat.js';
import { runTask, type RunnerEnv } from '../runner.js';
import { dueLocalTaskIds } from '../task-repo.js';
import type { WorkerRuntime } from '../types.js';
import type { LocalBackend } from './local-backend.js';

export interface LocalWorkerOptions {
  env: Omit<RunnerEnv, 'workerId' | 'queue' | 'dispatch'>;
  backend: LocalBackend;
  concurrency: number;
  pollMs?: number;
}

export class LocalWorker implements WorkerRuntime {
  readonly id = newWorkerId();
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly shutdown = new AbortController();
  private readonly heartbeat: Heartbeat;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private again = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private readonly env: RunnerEnv;

  constructor(private readonly opts: LocalWorkerOptions) {
    this.env = { ...opts.env, workerId: this.id, queue: 'local', dispatch: () => opts.backend.dispatch() };
    this.heartbeat = new Heartbeat(
      opts.env.store,
      this.id,
      { queue: 'local', concurrency: opts.concurrency, taskTypes: [...opts.env.handlers.keys()] },
      () => [...this.running.keys()],
    );
  }

  async start(): Promise<void> {
    await this.heartbeat.start();
    await breakDeadLeases(this.opts.env.store);
    this.unsubscribe = this.opts.backend.onDispatch(() => this.poll());
    this.timer = setInterval(() => this.poll(), this.opts.pollMs ?? 500);
    this.poll();
    this.opts.env.logger.info({ workerId: this.id, concurrency: this.opts.concurrency }, 'local worker started');
  }

  /** One poll at a time; a wake-up during a poll triggers another right after. */
  private poll(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = true;
    void this.fill()
      .catch((err: unknown) => this.opts.env.logger.warn({ err: String(err) }, 'local queue poll failed'))
      .finally(() => {
        this.polling = false;
        if (this.again) {
          this.again = false;
          this.poll();
        }
      });
  }

  private async fill(): Promise<void> {
    const free = this.opts.concurrency - this.running.size;
    if (free <= 0) return;
    const ids = (await dueLocalTaskIds(this.opts.env.store, free + this.running.size)).filter((id) => !this.running.has(id)).slice(0, free);
    for (const id of ids) {
      const run = runTask(id, this.env, this.shutdown.signal)
        .catch((err: unknown) => this.opts.env.logger.error({ taskId: id, err: String(err) }, 'task run crashed'))
        .finally(() => {
          this.running.delete(id);
          this.poll();
        });
      this.running.set(id, run);
    }
  }

  async stop(graceMs = 30_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    const all = Promise.allSettled([...this.running.values()]);
    const inTime = await Promise.race([all.then(() => true), sleep(graceMs).then(() => false)]);
    if (!inTime) {
      this.shutdown.abort(new Error('worker shutting down'));
      await Promise.race([all, sleep(5_000)]);
    }
    await this.heartbeat.stop().catch(() => {});
  }
}

/** Tasks held by a process on this machine that no longer exists are free to take at once. */
async function breakDeadLeases(store: Store): Promise<void> {
  const dead = await deadLocalWorkerIds(store);
  if (dead.length === 0) return;
  await store.db
    .updateTable('tasks')
    .set({ lease_until: 0 })
    .where('worker_id', 'in', dead)
    .where('state', '=', 'STARTED')
    .where('lease_until', 'is not', null)
    .execute();
  await store.db.deleteFrom('workers').where('id', 'in', dead).execute();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
