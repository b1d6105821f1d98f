// One attempt of one task, the same for both backends: claim → run the handler → record the outcome
// (success, retry with backoff, failure, cancelled, handed back). The tasks table is the record.
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../store/db.js';
import type { Task } from '../store/schema.js';
import { deleteTaskGrant } from '../grants/grant-store.js';
import { decideRetry } from './retry-policy.js';
import {
  childrenOf,
  claimTask,
  findTask,
  finishAttempt,
  finishTask,
  handBack,
  insertTask,
  markWaitingForChildren,
  renewLease,
  retriesSoFar,
  saveProgress,
  scheduleRetry,
} from './task-repo.js';
import {
  LIVE_STATES,
  type ClassifiedError,
  type EnqueueRequest,
  type EnqueueResult,
  type HandlerMap,
  type QueueKind,
  type RetryConfig,
  type TaskContext,
  type TaskHandler,
  type TaskProgress,
} from './types.js';

export interface RunnerEnv {
  store: Store;
  handlers: HandlerMap;
  queue: QueueKind;
  workerId: string;
  leaseMs: number;
  retry: RetryConfig;
  logger: Logger;
  /** Task and sync counters for /metrics (absent in tools that export none). */
  metrics?: Metrics;
  /** Makes a freshly inserted child task runnable. */
  dispatch(task: Task): Promise<void>;
}

export type RunOutcome =
  | { kind: 'success' }
  | { kind: 'failure'; message: string }
  | { kind: 'retry'; delayMs: number; message: string }
  | { kind: 'revoked' }
  | { kind: 'waiting' }
  | { kind: 'handed-back' }
  | { kind: 'skipped' }
  /** Another runner still holds a live lease on the task (BullMQ thought the job stalled): try again at `retryAt`. */
  | { kind: 'busy'; retryAt: number };

const PROGRESS_EVERY_MS = 250;

/** Runs one attempt of `taskId`. `shutdown` aborts it so the worker can hand the task back. */
export async function runTask(taskId: string, env: RunnerEnv, shutdown: AbortSignal): Promise<RunOutcome> {
  const { store, logger } = env;
  const task = await claimTask(store, taskId, env.workerId, env.leaseMs, { trustLock: env.queue === 'bullmq' });
  if (!task) {
    const row = await findTask(store, taskId);
    if (row?.state === 'STARTED' && row.lease_until !== null && row.lease_until >= Date.now())
      return { kind: 'busy', retryAt: row.lease_until + 100 };
    return { kind: 'skipped' };
  }
  // Every line of a task names the task, its user and account (never a credential or content).
  const log = logger.child({ taskId, type: task.type, attempt: task.attempt, userId: task.user_id, accountId: task.account_id });
  const handler = env.handlers.get(task.type);
  const cancel = new AbortController();
  const signal = AbortSignal.any([cancel.signal, shutdown]);
  const progress = progressWriter(store, taskId);
  const tick = setInterval(
    () => {
      renewLease(store, taskId, env.workerId, env.leaseMs)
        .then((r) => r.cancelRequested && cancel.abort(new Error('cancelled')))
        .catch((err: unknown) => log.warn({ err: String(err) }, 'lease renewal failed'));
    },
    Math.max(50, Math.min(1000, Math.floor(env.leaseMs / 3))),
  );
  log.info('task started');
  try {
    if (!handler)
      return await fail(env, task, {
        kind: 'permanent',
        code: 'unknown-task',
        message: `This worker does not know the task type "${task.type}" (is it an older version?).`,
      });
    const ctx: TaskContext = {
      taskId,
      userId: task.user_id,
      attempt: task.attempt,
      grantId: task.grant_id,
      workerId: env.workerId,
      signal,
      progress: progress.push,
      enqueueChildren: (children) => enqueueChildren(env, task, children),
      logger: log,
    };
    let outcome;
    try {
      outcome = await handler.perform(handler.parse(JSON.parse(task.payload)), ctx);
    } catch (err) {
      await progress.flush();
      if (cancel.signal.aborted) return await revoke(env, task);
      if (shutdown.aborted) {
        await finishAttempt(store, taskId, task.attempt, 'handed-back', 'The worker shut down; the task went back to the queue.');
        await handBack(store, taskId, env.workerId);
        log.info('task handed back on shutdown');
        return { kind: 'handed-back' };
      }
      const classified = handler.classify(err);
      log.warn({ kind: classified.kind, code: classified.code, error: classified.message }, 'task attempt failed');
      return await fail(env, task, classified, err instanceof Error ? err.stack : undefined);
    }
    await progress.flush();
    if ('waitForChildren' in outcome) {
      await finishAttempt(store, taskId, task.attempt, 'waiting', null);
      await markWaitingForChildren(store, taskId, outcome.progress);
      await settleParent(store, env.handlers, taskId);
      return { kind: 'waiting' };
    }
    await finishAttempt(store, taskId, task.attempt, 'success', null);
    await endTask(store, task, 'SUCCESS', { result: outcome.result });
    recordSuccess(env, task, outcome.result);
    await afterEnd(env, task);
    log.info('task succeeded');
    return { kind: 'success' };
  } finally {
    clearInterval(tick);
  }
}

async function fail(env: RunnerEnv, task: Task, error: ClassifiedError, stack?: string): Promise<RunOutcome> {
  const { store } = env;
  const decision = decideRetry(error.kind, await retriesSoFar(store, task.id), env.retry);
  if (isImapError(error.code)) env.metrics?.imapError(error.code);
  if (decision.retry) {
    env.metrics?.taskRetried(task.type);
    await finishAttempt(store, task.id, task.attempt, 'retry', error.message, stack ?? null);
    await scheduleRetry(store, task.id, Date.now() + decision.delayMs, error);
    return { kind: 'retry', delayMs: decision.delayMs, message: error.message };
  }
  await finishAttempt(store, task.id, task.attempt, 'failure', error.message, stack ?? null);
  await endTask(store, task, 'FAILURE', { error: error.message, errorKind: error.kind, errorStack: stack ?? null });
  env.metrics?.taskFinished(task.type, 'FAILURE', elapsed(task));
  await afterEnd(env, task);
  return { kind: 'failure', message: error.message };
}

async function revoke(env: RunnerEnv, task: Task): Promise<RunOutcome> {
  await finishAttempt(env.store, task.id, task.attempt, 'cancelled', 'Cancelled by the user.');
  await endTask(env.store, task, 'REVOKED', { error: 'Cancelled by the user.', errorKind: 'cancelled' });
  env.metrics?.taskFinished(task.type, 'REVOKED', elapsed(task));
  await afterEnd(env, task);
  return { kind: 'revoked' };
}

const IMAP_ERROR_CODES = new Set([
  'network',
  'timeout',
  'server-unavailable',
  'auth-failed',
  'tls-rejected',
  'dns-not-found',
  'server-refused',
]);
const isImapError = (code: string | undefined): code is string => code !== undefined && IMAP_ERROR_CODES.has(code);

/** Time from the task's first start (or creation) to now. */
function elapsed(task: Task): number {
  return Date.now() - (task.started_at ?? task.created_at);
}

function recordSuccess(env: RunnerEnv, task: Task, result: unknown): void {
  env.metrics?.taskFinished(task.type, 'SUCCESS', elapsed(task));
  // Only the per-account task counts messages: sync_all_accounts sums its children.
  const r = result as { email_count?: number; bytes?: number } | undefined;
  if (task.type === 'sync_user_emails' && r) env.metrics?.messagesSynced(r.email_count ?? 0, r.bytes ?? 0);
}

/**
 * Records a task's end and gives up its grant in one transaction, so that whoever sees the end never
 * finds the key still granted (the grant goes even if someone else ended the task first).
 */
async function endTask(
  store: Store,
  task: Pick<Task, 'id' | 'grant_id'>,
  state: Parameters<typeof finishTask>[2],
  fields: Parameters<typeof finishTask>[3],
  opts: Parameters<typeof finishTask>[4] = {},
): Promise<boolean> {
  return store.db.transaction().execute(async (trx) => {
    const inTrx: Store = { ...store, db: trx };
    const ended = await finishTask(inTrx, task.id, state, fields, opts);
    await deleteTaskGrant(inTrx, task.grant_id);
    return ended;
  });
}

/** A task that ended may complete its parent. */
async function afterEnd(env: RunnerEnv, task: Task): Promise<void> {
  if (task.parent_id) await settleParent(env.store, env.handlers, task.parent_id);
}

/**
 * Completes a waiting parent once every child has ended (called by each child and by the parent
 * itself; the conditional update lets exactly one caller finish it). Otherwise updates its progress.
 */
export async function settleParent(store: Store, handlers: HandlerMap, parentId: string): Promise<void> {
  const parent = await findTask(store, parentId);
  if (!parent || parent.state !== 'STARTED' || parent.lease_until !== null) return;
  const children = await childrenOf(store, parentId);
  const live = children.filter((c) => LIVE_STATES.includes(c.state));
  const previous = parent.progress ? (JSON.parse(parent.progress) as TaskProgress) : {};
  if (live.length > 0) {
    await saveProgress(store, parentId, { ...previous, phase: 'children', done: children.length - live.length, total: children.length });
    return;
  }
  const handler: TaskHandler | undefined = handlers.get(parent.type);
  const summary = handler?.summarize?.(parent, children) ?? { state: 'SUCCESS' as const, result: { children: children.length } };
  // Every child has ended: the parent's grant is of no more use.
  await endTask(
    store,
    parent,
    summary.state,
    {
      result: summary.result,
      error: summary.error ?? null,
      errorKind: summary.state === 'FAILURE' ? 'permanent' : null,
      progress: { ...previous, phase: 'done', done: children.length, total: children.length },
    },
    { onlyIfWaiting: true },
  );
}

async function enqueueChildren(env: RunnerEnv, parent: Task, children: EnqueueRequest[]): Promise<EnqueueResult[]> {
  const maxAttempts = env.retry.retryAttempts + 1;
  // Every row first: a child that ends early must see its siblings when it checks on the parent.
  const results: EnqueueResult[] = [];
  for (const child of children)
    results.push(await insertTask(env.store, env.queue, { ...child, parentId: parent.id, userId: parent.user_id }, { maxAttempts }));
  for (const r of results) {
    if (r.deduplicated) continue;
    try {
      await env.dispatch(r.task);
    } catch (err) {
      await endTask(env.store, r.task, 'FAILURE', {
        error: err instanceof Error ? err.message : String(err),
        errorKind: 'transient',
      });
    }
  }
  return results;
}

function progressWriter(store: Store, taskId: string) {
  let last: TaskProgress | undefined;
  let writtenAt = 0;
  let pending: Promise<void> = Promise.resolve();
  const write = (p: TaskProgress) => {
    writtenAt = Date.now();
    pending = pending.then(() => saveProgress(store, taskId, p)).catch(() => {});
  };
  return {
    push(p: TaskProgress) {
      last = p;
      if (Date.now() - writtenAt >= PROGRESS_EVERY_MS) {
        write(p);
        last = undefined;
      }
    },
    async flush() {
      if (last) write(last);
      last = undefined;
      await pending;
    },
  };
}
