// BullMQ consumer: `mail-helper worker` runs this. BullMQ gives the job lock, stalled-job recovery and
// reconnects; our runner keeps the tasks table as the record and decides retries (custom backoff).
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { connectRedis } from '../redis.js';
import { Heartbeat, newWorkerId } from '../heartbeat.js';
import { runTask, type RunnerEnv } from '../runner.js';
import type { WorkerRuntime } from '../types.js';
import type { BullmqBackend } from './bullmq-backend.js';
import { overdueBullmqTasks } from './orphan-sweep.js';
import { BACKOFF_TYPE, QUEUE_NAME, type JobData } from './queue-name.js';

/** Thrown to BullMQ to ask for a retry after exactly the delay our policy chose. */
class RetryLater extends Error {
  constructor(
    readonly delayMs: number,
    message: string,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

export interface BullmqWorkerOptions {
  env: Omit<RunnerEnv, 'workerId' | 'queue' | 'dispatch'>;
  backend: BullmqBackend;
  redisUrl: string;
  prefix: string;
  concurrency: number;
}

export class BullmqWorker implements WorkerRuntime {
  readonly id = newWorkerId();
  private worker: Worker<JobData> | undefined;
  private readonly running = new Set<string>();
  private readonly shutdown = new AbortController();
  private readonly heartbeat: Heartbeat;
  private readonly env: RunnerEnv;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: BullmqWorkerOptions) {
    this.env = { ...opts.env, workerId: this.id, queue: 'bullmq', dispatch: (t) => opts.backend.dispatch(t) };
    this.heartbeat = new Heartbeat(
      opts.env.store,
      this.id,
      { queue: 'bullmq', concurrency: opts.concurrency, taskTypes: [...opts.env.handlers.keys()] },
      () => [...this.running],
    );
  }

  async start(): Promise<void> {
    await this.heartbeat.start();
    const lease = this.opts.env.leaseMs;
    this.worker = new Worker<JobData>(QUEUE_NAME, (job, token) => this.process(job, token), {
      connection: connectRedis(this.opts.redisUrl),
      prefix: this.opts.prefix,
      concurrency: this.opts.concurrency,
      lockDuration: lease,
      stalledInterval: lease,
      maxStalledCount: 10,
      settings: {
        backoffStrategy: (_attempts: number, type?: string, err?: Error) =>
          type === BACKOFF_TYPE && err instanceof RetryLater ? err.delayMs : this.opts.env.retry.retryBaseMs,
      },
    });
    this.worker.on('error', (err) => this.opts.env.logger.warn({ err: err.message }, 'BullMQ worker error (reconnecting)'));
    await this.worker.waitUntilReady();
    this.sweepTimer = setInterval(() => void this.sweep(), Math.max(1_000, lease));
    this.sweepTimer.unref();
    this.opts.env.logger.info({ workerId: this.id, concurrency: this.opts.concurrency }, 'BullMQ worker started');
  }

  private async process(job: Job<JobData>, token?: string): Promise<unknown> {
    const taskId = job.data.taskId;
    this.running.add(taskId);
    try {
      const outcome = await runTask(taskId, this.env, this.shutdown.signal);
      switch (outcome.kind) {
        case 'retry':
          throw new RetryLater(outcome.delayMs, outcome.message);
        case 'failure':
          throw new UnrecoverableError(outcome.message);
        case 'busy':
          // Still running elsewhere (its lease is renewed): look again when that lease would have lapsed.
          await job.moveToDelayed(outcome.retryAt, token);
          throw new DelayedError();
        case 'handed-back':
          // Back to the queue without spending an attempt: another worker takes it.
          await job.moveToDelayed(Date.now(), token);
          throw new DelayedError();
        default:
          return { outcome: outcome.kind };
      }
    } finally {
      this.running.delete(taskId);
    }
  }

  /** Re-adds overdue tasks whose job Redis no longer holds (see orphan-sweep.ts). */
  private async sweep(): Promise<void> {
    try {
      const queue = this.opts.backend.queue;
      for (const task of await overdueBullmqTasks(this.opts.env.store, this.opts.env.leaseMs)) {
        const job = await queue.getJob(task.id);
        const state = job ? await job.getState() : 'missing';
        if (state === 'missing' || state === 'unknown' || state === 'completed' || state === 'failed') {
          if (job) await job.remove().catch(() => {});
          await this.opts.backend.dispatch({ ...task, next_attempt_at: null });
          this.opts.env.logger.warn({ taskId: task.id, jobState: state }, 'task had no live job in Redis: queued it again');
        }
      }
    } catch (err) {
      this.opts.env.logger.debug({ err: String(err) }, 'orphan sweep skipped (Redis or store unavailable)');
    }
  }

  async stop(graceMs = 30_000): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const worker = this.worker;
    if (worker) {
      const closed = worker.close();
      const inTime = await Promise.race([closed.then(() => true), sleep(graceMs).then(() => false)]);
      if (!inTime) {
        this.shutdown.abort(new Error('worker shutting down'));
        await Promise.race([closed, sleep(5_000)]);
        await worker.close(true).catch(() => {});
      }
    }
    await this.heartbeat.stop().catch(() => {});
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
