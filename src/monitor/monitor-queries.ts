// Read model of the admin monitor (the Flower replacement): live tasks, filtered history, one task with
// its attempts, workers and queue depth. Reads the store only, so it is the same for both queue modes.
// Payloads are shown as stored: they carry no secrets (grants live in their own table) and nothing is decrypted.
import type { Store } from '../store/db.js';
import type { Task, TaskState, Worker } from '../store/schema.js';
import { WORKER_STALE_MS } from '../queue/heartbeat.js';

export const TASK_STATES: readonly TaskState[] = ['PENDING', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED'];

export interface HistoryFilter {
  type?: string;
  state?: TaskState;
  /** Username (exact). */
  user?: string;
  accountId?: number;
  /** ms timestamps on created_at, inclusive from, exclusive to. */
  from?: number;
  to?: number;
  limit: number;
  offset: number;
}

/** A task row plus its owner's name, as the monitor tables show it. */
export type MonitorTask = Task & { username: string | null };

function withUser(store: Store) {
  return store.db.selectFrom('tasks').leftJoin('users', 'users.id', 'tasks.user_id');
}

export async function activeTasks(store: Store): Promise<MonitorTask[]> {
  return withUser(store)
    .selectAll('tasks')
    .select('users.username')
    .where('tasks.state', 'in', ['STARTED', 'RETRY'])
    .orderBy('tasks.started_at')
    .orderBy('tasks.id')
    .limit(200)
    .execute();
}

export async function taskHistory(store: Store, f: HistoryFilter): Promise<{ tasks: MonitorTask[]; total: number }> {
  let q = withUser(store);
  if (f.type) q = q.where('tasks.type', '=', f.type);
  if (f.state) q = q.where('tasks.state', '=', f.state);
  if (f.user) q = q.where('users.username', '=', f.user);
  if (f.accountId !== undefined) q = q.where('tasks.account_id', '=', f.accountId);
  if (f.from !== undefined) q = q.where('tasks.created_at', '>=', f.from);
  if (f.to !== undefined) q = q.where('tasks.created_at', '<', f.to);
  const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const tasks = await q
    .selectAll('tasks')
    .select('users.username')
    .orderBy('tasks.created_at', 'desc')
    .orderBy('tasks.id')
    .limit(f.limit)
    .offset(f.offset)
    .execute();
  return { tasks, total: Number(total.n) };
}

export async function taskDetail(store: Store, id: string) {
  const task = await withUser(store).selectAll('tasks').select('users.username').where('tasks.id', '=', id).executeTakeFirst();
  if (!task) return undefined;
  const [attempts, children] = await Promise.all([
    store.db.selectFrom('task_attempts').selectAll().where('task_id', '=', id).orderBy('attempt').orderBy('id').execute(),
    store.db
      .selectFrom('tasks')
      .select(['id', 'type', 'state', 'account_id', 'created_at', 'finished_at'])
      .where('parent_id', '=', id)
      .orderBy('created_at')
      .execute(),
  ]);
  return { task, attempts, children };
}

export type WorkerStatus = Worker & { alive: boolean };

export async function workerList(store: Store, now = Date.now()): Promise<WorkerStatus[]> {
  const rows = await store.db.selectFrom('workers').selectAll().orderBy('started_at').execute();
  // The heartbeat's job list is up to 5 s old; the tasks a worker holds right now are in the tasks table.
  const running = await store.db
    .selectFrom('tasks')
    .select(['id', 'worker_id'])
    .where('state', '=', 'STARTED')
    .where('worker_id', 'is not', null)
    .execute();
  return rows.map((w) => {
    const jobs = new Set([...(JSON.parse(w.current_jobs) as string[]), ...running.filter((t) => t.worker_id === w.id).map((t) => t.id)]);
    return { ...w, current_jobs: JSON.stringify([...jobs]), alive: w.last_heartbeat_at > now - WORKER_STALE_MS };
  });
}

export interface QueueDepth {
  byState: Record<TaskState, number>;
  /** created_at of the oldest PENDING/RETRY task, or null when nothing waits. */
  oldestWaitingAt: number | null;
}

export async function queueDepth(store: Store): Promise<QueueDepth> {
  const rows = await store.db
    .selectFrom('tasks')
    .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('state')
    .execute();
  const byState = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
  for (const r of rows) if (r.state in byState) byState[r.state] = Number(r.n);
  const oldest = await store.db
    .selectFrom('tasks')
    .select((eb) => eb.fn.min('created_at').as('t'))
    .where('state', 'in', ['PENDING', 'RETRY'])
    .executeTakeFirst();
  const t = oldest?.t;
  return { byState, oldestWaitingAt: t === null || t === undefined ? null : Number(t) };
}
