// Starting tasks on a user's behalf (web, CLI, programmatic API): checks at enqueue time, a fresh
// grant per task, one live sync per account. The DEK given here is wrapped at once and not kept.
import { grantRow } from '../grants/grant-store.js';
import type { TaskQueue } from '../queue/task-queue.js';
import { syncAllDedupeKey, syncDedupeKey } from './dedupe-keys.js';
import type { EnqueueResult } from '../queue/types.js';
import type { Task } from '../store/schema.js';
import { MAX_EMAILS_PER_RUN } from './max-emails-per-run.js';
import { DEFAULT_MAX_EMAILS, syncUserEmailsPayload } from './sync-user-emails.js';
import type { TaskDeps } from './task-deps.js';
import { TaskName } from './task-names.js';

/** The user or account does not exist or is not the caller's: the web answers 404. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

async function userKeyId(deps: TaskDeps, userId: number): Promise<string> {
  const user = await deps.store.db.selectFrom('users').select('key_id').where('id', '=', userId).executeTakeFirst();
  if (!user) throw new NotFoundError(`User ${userId} does not exist.`);
  return user.key_id;
}

/** A per-run limit no task takes; refused before anything is queued (the task would fail on its payload). */
export class InvalidMaxEmailsError extends Error {
  constructor(value: unknown) {
    super(
      `maxEmails must be a whole number from 1 to ${MAX_EMAILS_PER_RUN}, not ${String(value)}; leave it out to use the account's own setting.`,
    );
    this.name = 'InvalidMaxEmailsError';
  }
}

export async function enqueueAccountSync(
  queue: TaskQueue,
  deps: TaskDeps,
  args: { userId: number; accountId: number; dek: Buffer; maxEmails?: number },
): Promise<EnqueueResult> {
  // What the task's payload would refuse, refused here.
  if (args.maxEmails !== undefined && !syncUserEmailsPayload.shape.max_emails.safeParse(args.maxEmails).success)
    throw new InvalidMaxEmailsError(args.maxEmails);
  const keyId = await userKeyId(deps, args.userId);
  const account = await deps.store.db
    .selectFrom('mail_accounts')
    .select(['id', 'max_emails'])
    .where('id', '=', args.accountId)
    .where('user_id', '=', args.userId)
    .executeTakeFirst();
  if (!account) throw new NotFoundError(`Mail account ${args.accountId} not found.`);
  const maxEmails = args.maxEmails ?? account.max_emails ?? DEFAULT_MAX_EMAILS;
  return queue.enqueue({
    type: TaskName.SyncUserEmails,
    userId: args.userId,
    accountId: args.accountId,
    payload: { user_id: args.userId, account_id: args.accountId, max_emails: maxEmails },
    dedupeKey: syncDedupeKey(args.accountId),
    grant: grantRow(deps.grantKey, {
      userId: args.userId,
      accountId: args.accountId,
      kind: 'task',
      keyId,
      dek: args.dek,
      ttlMs: deps.config.worker.grantTtlMs,
    }),
  });
}

export async function enqueueAllAccountsSync(
  queue: TaskQueue,
  deps: TaskDeps,
  args: { userId: number; dek: Buffer },
): Promise<EnqueueResult> {
  const keyId = await userKeyId(deps, args.userId);
  return queue.enqueue({
    type: TaskName.SyncAllAccounts,
    userId: args.userId,
    payload: { user_id: args.userId },
    dedupeKey: syncAllDedupeKey(args.userId),
    grant: grantRow(deps.grantKey, {
      userId: args.userId,
      accountId: null,
      kind: 'task',
      keyId,
      dek: args.dek,
      ttlMs: deps.config.worker.grantTtlMs,
    }),
  });
}

export function enqueuePing(
  queue: TaskQueue,
  args: { userId?: number | null; echo?: string; delayMs?: number } = {},
): Promise<EnqueueResult> {
  return queue.enqueue({
    type: TaskName.Ping,
    userId: args.userId ?? null,
    payload: { ...(args.echo !== undefined ? { echo: args.echo } : {}), ...(args.delayMs !== undefined ? { delay_ms: args.delayMs } : {}) },
  });
}

/** Retrying a failed sync needs a new grant (the old one ended with the task). */
export async function retryTask(queue: TaskQueue, deps: TaskDeps, args: { userId: number; taskId: string; dek: Buffer }) {
  const task = await queue.get(args.taskId, args.userId);
  if (!task) return undefined;
  const keyId = await userKeyId(deps, args.userId);
  const grant = grantRow(deps.grantKey, {
    userId: args.userId,
    accountId: task.account_id,
    kind: 'task',
    keyId,
    dek: args.dek,
    ttlMs: deps.config.worker.grantTtlMs,
  });
  const needsGrant = task.type === TaskName.SyncUserEmails || task.type === TaskName.SyncAllAccounts;
  const dedupeKey =
    task.type === TaskName.SyncUserEmails && task.account_id !== null
      ? syncDedupeKey(task.account_id)
      : task.type === TaskName.SyncAllAccounts
        ? syncAllDedupeKey(args.userId)
        : null;
  return queue.retry(args.taskId, args.userId, { grant: needsGrant ? grant : undefined, dedupeKey });
}

export type TaskStatus = 'queued' | 'running' | 'completed' | 'failed';

export function taskStatus(task: Pick<Task, 'state'>): TaskStatus {
  switch (task.state) {
    case 'PENDING':
    case 'RETRY':
      return 'queued';
    case 'STARTED':
      return 'running';
    case 'SUCCESS':
      return 'completed';
    default:
      return 'failed';
  }
}

/** The task as the API shows it (the seed's fields first). Nothing secret is stored on a task. */
export function taskView(task: Task) {
  return {
    task_id: task.id,
    state: task.state,
    status: taskStatus(task),
    progress: task.progress ? (JSON.parse(task.progress) as unknown) : null,
    result: task.result ? (JSON.parse(task.result) as unknown) : null,
    error: task.error,
    type: task.type,
    task_type: task.queue === 'bullmq' ? 'queue' : 'local',
    account_id: task.account_id,
    parent_id: task.parent_id,
    attempt: task.attempt,
    max_attempts: task.max_attempts,
    next_attempt_at: task.next_attempt_at ? new Date(task.next_attempt_at).toISOString() : null,
    cancel_requested: task.cancel_requested === 1,
    created_at: new Date(task.created_at).toISOString(),
    started_at: task.started_at ? new Date(task.started_at).toISOString() : null,
    finished_at: task.finished_at ? new Date(task.finished_at).toISOString() : null,
  };
}

export type TaskView = ReturnType<typeof taskView>;
