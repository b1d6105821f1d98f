// BullMQ producer side: puts a job (only the task id) into Redis. Fails fast when Redis is down so the
// caller can answer 503 instead of waiting or dropping the task.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { redactUrl } from '../../config/config.js';
import type { Task } from '../../store/schema.js';
import { pingRedis } from '../redis.js';
import { QueueUnavailableError, type QueueBackend } from '../types.js';
import { jobOptions, QUEUE_NAME, type JobData } from './queue-name.js';

const ADD_TIMEOUT_MS = 5_000;

export class BullmqBackend implements QueueBackend {
  readonly kind = 'bullmq' as const;
  readonly queue: Queue<JobData>;
  private readonly connection: Redis;

  constructor(private readonly opts: { redisUrl: string; prefix: string; retryAttempts: number }) {
    // Not the blocking worker connection: a command fails after a reconnect attempt instead of waiting forever.
    this.connection = new Redis(opts.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(200 * n, 2000) });
    this.connection.on('error', () => {});
    this.queue = new Queue<JobData>(QUEUE_NAME, { connection: this.connection, prefix: opts.prefix });
    this.queue.on('error', () => {});
  }

  async dispatch(task: Task): Promise<void> {
    const delay = task.next_attempt_at ? task.next_attempt_at - Date.now() : 0;
    if (this.connection.status !== 'ready' && this.connection.status !== 'connecting' && this.connection.status !== 'connect')
      throw this.unavailable();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.queue.add(task.type, { taskId: task.id }, jobOptions(task.id, this.opts.retryAttempts, delay)),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${ADD_TIMEOUT_MS / 1000} s`)), ADD_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      throw this.unavailable(err);
    } finally {
      clearTimeout(timer);
    }
  }

  async withdraw(taskId: string): Promise<void> {
    try {
      await this.queue.remove(taskId);
    } catch {
      // A running or locked job cannot be removed; the worker sees the REVOKED row and skips it.
    }
  }

  check(): Promise<void> {
    return pingRedis(this.opts.redisUrl);
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => {});
    this.connection.disconnect();
  }

  private unavailable(cause?: unknown): QueueUnavailableError {
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    return new QueueUnavailableError(
      `The task queue is unavailable: Redis at ${redactUrl(this.opts.redisUrl)} does not answer${why}. Nothing was queued; try again when Redis is back.`,
      cause,
    );
  }
}
