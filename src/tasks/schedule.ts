// Scheduled sync: per account an interval (off by default). It runs while the user is logged out, so
// it needs a long-lived 'schedule' grant that the user turns on knowingly; turning it off revokes it.
import { createGrant } from '../grants/grant-store.js';
import type { Logger } from '../observability/logger.js';
import type { TaskQueue } from '../queue/task-queue.js';
import { syncDedupeKey } from './dedupe-keys.js';
import type { EnqueueResult } from '../queue/types.js';
import { NotFoundError } from './sync-service.js';
import type { TaskDeps } from './task-deps.js';
import { TaskName } from './task-names.js';

/** A schedule grant lasts this long; the page says so, and turning the schedule on again renews it. */
export const SCHEDULE_GRANT_TTL_MS = 365 * 24 * 3_600_000;
export const MIN_INTERVAL_MINUTES = 5;
export const MAX_INTERVAL_MINUTES = 7 * 24 * 60;

async function ownAccount(deps: TaskDeps, userId: number, accountId: number) {
  const a = await deps.store.db
    .selectFrom('mail_accounts')
    .selectAll()
    .where('id', '=', accountId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!a) throw new NotFoundError(`Mail account ${accountId} not found.`);
  return a;
}

/** Turns the schedule on (or changes its interval): a fresh schedule grant replaces any old one. */
export async function enableSchedule(
  deps: TaskDeps,
  args: { userId: number; accountId: number; intervalMinutes: number; dek: Buffer },
): Promise<void> {
  await ownAccount(deps, args.userId, args.accountId);
  const user = await deps.store.db.selectFrom('users').select('key_id').where('id', '=', args.userId).executeTakeFirstOrThrow();
  await revokeScheduleGrants(deps, args.userId, args.accountId);
  await createGrant(deps.store, deps.grantKey, {
    userId: args.userId,
    accountId: args.accountId,
    kind: 'schedule',
    keyId: user.key_id,
    dek: args.dek,
    ttlMs: SCHEDULE_GRANT_TTL_MS,
  });
  await deps.store.db
    .updateTable('mail_accounts')
    .set({ sync_interval_minutes: args.intervalMinutes, updated_at: Date.now() })
    .where('id', '=', args.accountId)
    .where('user_id', '=', args.userId)
    .execute();
}

/** Turns the schedule off and revokes its grant: background jobs can no longer open the key. */
export async function disableSchedule(deps: TaskDeps, args: { userId: number; accountId: number }): Promise<void> {
  await ownAccount(deps, args.userId, args.accountId);
  await revokeScheduleGrants(deps, args.userId, args.accountId);
  await deps.store.db
    .updateTable('mail_accounts')
    .set({ sync_interval_minutes: null, updated_at: Date.now() })
    .where('id', '=', args.accountId)
    .where('user_id', '=', args.userId)
    .execute();
}

async function revokeScheduleGrants(deps: TaskDeps, userId: number, accountId: number): Promise<void> {
  await deps.store.db
    .updateTable('grants')
    .set({ revoked_at: Date.now() })
    .where('user_id', '=', userId)
    .where('account_id', '=', accountId)
    .where('kind', '=', 'schedule')
    .where('revoked_at', 'is', null)
    .execute();
}

export async function liveScheduleGrant(deps: TaskDeps, accountId: number, now = Date.now()) {
  return deps.store.db
    .selectFrom('grants')
    .select(['id', 'expires_at'])
    .where('account_id', '=', accountId)
    .where('kind', '=', 'schedule')
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
}

/**
 * Queues a sync for every account whose interval has passed. Several processes may run this at once:
 * a compare-and-set on last_sync_at lets one of them claim each due account, and the dedupe key keeps
 * a second sync from starting while one runs.
 */
export async function runDueSchedules(deps: TaskDeps, queue: TaskQueue, now = Date.now()): Promise<EnqueueResult[]> {
  const due = await deps.store.db
    .selectFrom('mail_accounts')
    .select(['id', 'user_id', 'max_emails', 'sync_interval_minutes', 'last_sync_at'])
    .where('sync_interval_minutes', 'is not', null)
    .where('enabled', '=', 1)
    .where('needs_password', '=', 0)
    .execute();
  const queued: EnqueueResult[] = [];
  for (const a of due) {
    if (a.last_sync_at !== null && a.last_sync_at + a.sync_interval_minutes! * 60_000 > now) continue;
    const grant = await liveScheduleGrant(deps, Number(a.id), now);
    if (!grant) continue;
    const claim = await deps.store.db
      .updateTable('mail_accounts')
      .set({ last_sync_at: now })
      .where('id', '=', a.id)
      .where((eb) => (a.last_sync_at === null ? eb('last_sync_at', 'is', null) : eb('last_sync_at', '=', a.last_sync_at)))
      .executeTakeFirst();
    if (Number(claim.numUpdatedRows) !== 1) continue;
    queued.push(
      await queue.enqueue({
        type: TaskName.SyncUserEmails,
        userId: Number(a.user_id),
        accountId: Number(a.id),
        payload: { user_id: Number(a.user_id), account_id: Number(a.id), max_emails: a.max_emails },
        dedupeKey: syncDedupeKey(Number(a.id)),
        grantId: grant.id,
      }),
    );
  }
  return queued;
}

/** Checks schedules every `tickMs` in a worker process; stops with the returned function. */
export function startScheduler(deps: TaskDeps, queue: TaskQueue, logger: Logger, tickMs = 30_000): () => void {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const queued = await runDueSchedules(deps, queue);
      for (const q of queued)
        if (!q.deduplicated) logger.info({ taskId: q.task.id, accountId: q.task.account_id }, 'scheduled sync queued');
    } catch (err) {
      logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'schedule check failed');
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), tickMs);
  timer.unref();
  void tick();
  return () => clearInterval(timer);
}
