// The tasks table: the record of every task's state, progress, result and attempts in both queue modes.
import { randomUUID } from 'node:crypto';
import type { Store } from '../store/db.js';
import type { Task, TaskState } from '../store/schema.js';
import { LIVE_STATES, TERMINAL_STATES, type EnqueueRequest, type EnqueueResult, type QueueKind, type TaskProgress } from './types.js';

export function newTaskId(): string {
  return randomUUID();
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * Inserts a PENDING task (and its grant, in the same transaction). When a live task holds the same
 * dedupe key, the store's unique index refuses the row and that live task is returned instead.
 */
export async function insertTask(
  store: Store,
  queue: QueueKind,
  req: EnqueueRequest,
  opts: { maxAttempts: number },
): Promise<EnqueueResult> {
  for (let round = 0; round < 5; round++) {
    const now = Date.now();
    const row: Task = {
      id: newTaskId(),
      type: req.type,
      user_id: req.userId,
      account_id: req.accountId ?? null,
      parent_id: req.parentId ?? null,
      queue,
      state: 'PENDING',
      payload: JSON.stringify(req.payload),
      progress: null,
      result: null,
      error: null,
      error_kind: null,
      error_stack: null,
      attempt: 0,
      max_attempts: opts.maxAttempts,
      next_attempt_at: null,
      dedupe_key: req.dedupeKey ?? null,
      grant_id: req.grant?.id ?? req.grantId ?? null,
      worker_id: null,
      lease_until: null,
      cancel_requested: 0,
      created_at: now,
      started_at: null,
      finished_at: null,
      updated_at: now,
    };
    try {
      await store.db.transaction().execute(async (trx) => {
        await trx.insertInto('tasks').values(row).execute();
        if (req.grant) await trx.insertInto('grants').values(req.grant).execute();
      });
      return { task: row, deduplicated: false };
    } catch (err) {
      if (!req.dedupeKey || !isUniqueViolation(err)) throw err;
      const live = await store.db.selectFrom('tasks').selectAll().where('dedupe_key', '=', req.dedupeKey).executeTakeFirst();
      if (live) return { task: live, deduplicated: true };
      // The live task finished between our insert and the lookup: try again.
    }
  }
  throw new Error(`Could not enqueue ${req.type}: the dedupe key ${req.dedupeKey} kept changing hands`);
}

export async function findTask(store: Store, id: string): Promise<Task | undefined> {
  return store.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Owner-scoped lookup: another user's task is simply not found. */
export async function findUserTask(store: Store, id: string, userId: number): Promise<Task | undefined> {
  return store.db.selectFrom('tasks').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

export interface TaskFilter {
  state?: TaskState;
  type?: string;
  accountId?: number;
  parentId?: string;
  limit?: number;
  offset?: number;
}

export async function listUserTasks(store: Store, userId: number, f: TaskFilter = {}): Promise<{ tasks: Task[]; total: number }> {
  let q = store.db.selectFrom('tasks').where('user_id', '=', userId);
  if (f.state) q = q.where('state', '=', f.state);
  if (f.type) q = q.where('type', '=', f.type);
  if (f.accountId !== undefined) q = q.where('account_id', '=', f.accountId);
  if (f.parentId !== undefined) q = q.where('parent_id', '=', f.parentId);
  const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const tasks = await q
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(f.limit ?? 20)
    .offset(f.offset ?? 0)
    .execute();
  return { tasks, total: Number(total.n) };
}

export async function childrenOf(store: Store, parentId: string): Promise<Task[]> {
  return store.db.selectFrom('tasks').selectAll().where('parent_id', '=', parentId).orderBy('created_at').execute();
}

/**
 * Claims a task for one attempt. Local mode: PENDING/RETRY when due, or STARTED with an expired
 * lease (its worker died). BullMQ mode (`trustLock`): BullMQ's job lock already guarantees one
 * runner, so a STARTED row is a stalled job coming back.
 */
export async function claimTask(
  store: Store,
  id: string,
  workerId: string,
  leaseMs: number,
  opts: { trustLock: boolean },
): Promise<Task | undefined> {
  const now = Date.now();
  // One transaction: a process killed mid-claim leaves either no claim or a claim with its attempt row.
  return store.db.transaction().execute(async (trx) => {
    const res = await trx
      .updateTable('tasks')
      .set((eb) => ({
        state: 'STARTED',
        worker_id: workerId,
        lease_until: now + leaseMs,
        attempt: eb('attempt', '+', 1),
        started_at: eb.fn.coalesce('started_at', eb.val(now)),
        next_attempt_at: null,
        updated_at: now,
      }))
      .where('id', '=', id)
      .where('cancel_requested', '=', 0)
      .where((eb) =>
        opts.trustLock
          ? // A STARTED row comes back when BullMQ saw its job stall; only take it over once our own lease lapsed too.
            eb.or([
              eb('state', 'in', ['PENDING', 'RETRY']),
              eb('state', '=', 'STARTED').and('lease_until', 'is not', null).and('lease_until', '<', now),
            ])
          : eb.or([
              eb('state', 'in', ['PENDING', 'RETRY']).and(eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', now)])),
              eb('state', '=', 'STARTED').and('lease_until', 'is not', null).and('lease_until', '<', now),
            ]),
      )
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return undefined;
    // An attempt left open by a dead worker ends as "interrupted" (it does not count as a retry).
    await trx
      .updateTable('task_attempts')
      .set({ finished_at: now, outcome: 'interrupted', error: 'The worker running this attempt stopped before it finished.' })
      .where('task_id', '=', id)
      .where('finished_at', 'is', null)
      .execute();
    const task = await trx.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    if (!task) return undefined;
    await trx
      .insertInto('task_attempts')
      .values({
        task_id: id,
        attempt: task.attempt,
        worker_id: workerId,
        started_at: now,
        finished_at: null,
        outcome: null,
        error: null,
        error_stack: null,
      })
      .execute();
    return task;
  });
}

/** Local queue: ids of tasks ready to run (due, or abandoned by a dead worker), oldest first. */
export async function dueLocalTaskIds(store: Store, limit: number, now = Date.now()): Promise<string[]> {
  const rows = await store.db
    .selectFrom('tasks')
    .select('id')
    .where('queue', '=', 'local')
    .where('cancel_requested', '=', 0)
    .where((eb) =>
      eb.or([
        eb('state', 'in', ['PENDING', 'RETRY']).and(eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', now)])),
        eb('state', '=', 'STARTED').and('lease_until', 'is not', null).and('lease_until', '<', now),
      ]),
    )
    .orderBy('created_at')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/** Renews the lease of a running task; tells whether a cancel was asked for. */
export async function renewLease(store: Store, id: string, workerId: string, leaseMs: number): Promise<{ cancelRequested: boolean }> {
  const now = Date.now();
  await store.db
    .updateTable('tasks')
    .set({ lease_until: now + leaseMs })
    .where('id', '=', id)
    .where('worker_id', '=', workerId)
    .where('state', '=', 'STARTED')
    .execute();
  const row = await store.db.selectFrom('tasks').select(['cancel_requested', 'state']).where('id', '=', id).executeTakeFirst();
  return { cancelRequested: !row || row.cancel_requested === 1 || row.state === 'REVOKED' };
}

export async function saveProgress(store: Store, id: string, progress: TaskProgress): Promise<void> {
  await store.db
    .updateTable('tasks')
    .set({ progress: JSON.stringify(progress), updated_at: Date.now() })
    .where('id', '=', id)
    .execute();
}

export async function finishAttempt(
  store: Store,
  taskId: string,
  attempt: number,
  outcome: string,
  error: string | null,
  stack: string | null = null,
): Promise<void> {
  await store.db
    .updateTable('task_attempts')
    .set({ finished_at: Date.now(), outcome, error, error_stack: stack })
    .where('task_id', '=', taskId)
    .where('attempt', '=', attempt)
    .where('finished_at', 'is', null)
    .execute();
}

export async function retriesSoFar(store: Store, taskId: string): Promise<number> {
  const row = await store.db
    .selectFrom('task_attempts')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('task_id', '=', taskId)
    .where('outcome', '=', 'retry')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function attemptsOf(store: Store, taskId: string) {
  return store.db.selectFrom('task_attempts').selectAll().where('task_id', '=', taskId).orderBy('attempt').orderBy('id').execute();
}

/** Moves a task to a terminal state (once: a task already terminal stays as it is). Frees its dedupe key. */
export async function finishTask(
  store: Store,
  id: string,
  state: 'SUCCESS' | 'FAILURE' | 'REVOKED',
  fields: { result?: unknown; error?: string | null; errorKind?: string | null; errorStack?: string | null; progress?: TaskProgress },
  opts: { onlyIfWaiting?: boolean } = {},
): Promise<boolean> {
  const now = Date.now();
  let q = store.db
    .updateTable('tasks')
    .set({
      state,
      result: fields.result === undefined ? null : JSON.stringify(fields.result),
      error: fields.error ?? null,
      error_kind: fields.errorKind ?? null,
      error_stack: fields.errorStack ?? null,
      ...(fields.progress ? { progress: JSON.stringify(fields.progress) } : {}),
      dedupe_key: null,
      lease_until: null,
      next_attempt_at: null,
      finished_at: now,
      updated_at: now,
    })
    .where('id', '=', id)
    .where('state', 'not in', TERMINAL_STATES as TaskState[]);
  if (opts.onlyIfWaiting) q = q.where('state', '=', 'STARTED').where('lease_until', 'is', null);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function scheduleRetry(store: Store, id: string, nextAt: number, error: ClassifiedErrorLike): Promise<void> {
  await store.db
    .updateTable('tasks')
    .set({
      state: 'RETRY',
      next_attempt_at: nextAt,
      error: error.message,
      error_kind: error.kind,
      lease_until: null,
      worker_id: null,
      updated_at: Date.now(),
    })
    .where('id', '=', id)
    .where('state', '=', 'STARTED')
    .execute();
}

interface ClassifiedErrorLike {
  kind: string;
  message: string;
}

/** A parent whose own run is over waits (STARTED, no lease) until its children end. */
export async function markWaitingForChildren(store: Store, id: string, progress: TaskProgress | undefined): Promise<void> {
  await store.db
    .updateTable('tasks')
    .set({ lease_until: null, worker_id: null, updated_at: Date.now(), ...(progress ? { progress: JSON.stringify(progress) } : {}) })
    .where('id', '=', id)
    .where('state', '=', 'STARTED')
    .execute();
}

/** Worker shutting down mid-task: the task goes back to the queue untouched (not a retry). */
export async function handBack(store: Store, id: string, workerId: string): Promise<void> {
  await store.db
    .updateTable('tasks')
    .set({ state: 'PENDING', lease_until: null, worker_id: null, updated_at: Date.now() })
    .where('id', '=', id)
    .where('worker_id', '=', workerId)
    .where('state', '=', 'STARTED')
    .execute();
}

/**
 * Cancels a live task: one that waits (queued, retry pending, parent waiting for children, or left
 * by a dead worker) ends REVOKED at once; a running one is asked to stop and ends REVOKED soon.
 */
export async function requestCancel(store: Store, id: string): Promise<{ revokedNow: boolean }> {
  const now = Date.now();
  await store.db
    .updateTable('tasks')
    .set({ cancel_requested: 1, updated_at: now })
    .where('id', '=', id)
    .where('state', 'in', LIVE_STATES as TaskState[])
    .execute();
  const res = await store.db
    .updateTable('tasks')
    .set({
      state: 'REVOKED',
      error: 'Cancelled by the user.',
      error_kind: 'cancelled',
      dedupe_key: null,
      lease_until: null,
      next_attempt_at: null,
      finished_at: now,
      updated_at: now,
    })
    .where('id', '=', id)
    .where((eb) =>
      eb.or([
        eb('state', 'in', ['PENDING', 'RETRY']),
        eb('state', '=', 'STARTED').and(eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)])),
      ]),
    )
    .executeTakeFirst();
  return { revokedNow: Number(res.numUpdatedRows) === 1 };
}
