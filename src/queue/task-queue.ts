// The queue as callers see it (web, CLI, programmatic API): enqueue with deduplication, read, list,
// cancel, retry — the same for both backends, because the tasks table is the record.
import type { Config } from '../config/config.js';
import { deleteTaskGrant } from '../grants/grant-store.js';
import type { Store } from '../store/db.js';
import type { Grant, Task } from '../store/schema.js';
import { BullmqBackend } from './bullmq/bullmq-backend.js';
import { LocalBackend } from './local/local-backend.js';
import { settleParent } from './runner.js';
import { childrenOf, findTask, findUserTask, finishTask, insertTask, listUserTasks, requestCancel, type TaskFilter } from './task-repo.js';
import { LIVE_STATES, TERMINAL_STATES, type EnqueueRequest, type EnqueueResult, type HandlerMap, type QueueBackend } from './types.js';

export class TaskQueue {
  constructor(
    readonly store: Store,
    readonly backend: QueueBackend,
    readonly handlers: HandlerMap,
    private readonly retryAttempts: number,
  ) {}

  get kind() {
    return this.backend.kind;
  }

  /** Inserts the task and hands it to the backend. If the backend refuses, the task ends FAILURE and the error is thrown. */
  async enqueue(req: EnqueueRequest): Promise<EnqueueResult> {
    const res = await insertTask(this.store, this.backend.kind, req, { maxAttempts: this.retryAttempts + 1 });
    if (res.deduplicated) return res;
    try {
      await this.backend.dispatch(res.task);
    } catch (err) {
      await finishTask(this.store, res.task.id, 'FAILURE', {
        error: err instanceof Error ? err.message : String(err),
        errorKind: 'transient',
      });
      await deleteTaskGrant(this.store, res.task.grant_id);
      throw err;
    }
    return res;
  }

  get(id: string, userId?: number): Promise<Task | undefined> {
    return userId === undefined ? findTask(this.store, id) : findUserTask(this.store, id, userId);
  }

  list(userId: number, filter: TaskFilter = {}) {
    return listUserTasks(this.store, userId, filter);
  }

  children(id: string): Promise<Task[]> {
    return childrenOf(this.store, id);
  }

  /** Cancels a user's live task (and its live children). Returns the task as it is now, or undefined if not theirs. */
  async cancel(id: string, userId: number): Promise<Task | undefined> {
    const task = await findUserTask(this.store, id, userId);
    if (!task) return undefined;
    if (TERMINAL_STATES.includes(task.state)) return task;
    for (const child of await childrenOf(this.store, id)) if (LIVE_STATES.includes(child.state)) await this.cancelOne(child);
    await this.cancelOne(task);
    return findTask(this.store, id);
  }

  private async cancelOne(task: Task): Promise<void> {
    const { revokedNow } = await requestCancel(this.store, task.id);
    if (!revokedNow) return;
    await this.backend.withdraw(task.id);
    await deleteTaskGrant(this.store, task.grant_id);
    if (task.parent_id) await settleParent(this.store, this.handlers, task.parent_id);
  }

  /**
   * Runs a finished-but-failed (or cancelled) task again as a new task with the same payload. A new
   * grant is needed because the old one ended with the task.
   */
  async retry(
    id: string,
    userId: number,
    opts: { grant?: Grant; dedupeKey?: string | null } = {},
  ): Promise<{ from: Task; result: EnqueueResult } | undefined> {
    const task = await findUserTask(this.store, id, userId);
    if (!task) return undefined;
    if (task.state !== 'FAILURE' && task.state !== 'REVOKED') throw new TaskNotRetryableError(task);
    const result = await this.enqueue({
      type: task.type,
      userId,
      accountId: task.account_id,
      payload: JSON.parse(task.payload) as Record<string, unknown>,
      dedupeKey: opts.dedupeKey ?? null,
      grant: opts.grant,
    });
    return { from: task, result };
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}

export class TaskNotRetryableError extends Error {
  constructor(readonly task: Task) {
    super(`Only a failed or cancelled task can be retried; this one is ${task.state}.`);
    this.name = 'TaskNotRetryableError';
  }
}

export function createBackend(config: Config, store: Store): QueueBackend {
  return config.queue.kind === 'bullmq'
    ? new BullmqBackend({ redisUrl: config.queue.redisUrl, prefix: config.queue.prefix, retryAttempts: config.worker.retryAttempts })
    : new LocalBackend(store);
}
