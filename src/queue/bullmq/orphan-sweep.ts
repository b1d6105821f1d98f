// Redis may lose jobs (restarted without persistence, flushed, failover). The tasks table still says
// which tasks should be queued, so workers re-add those whose job is gone. Adding is idempotent (the
// job id is the task id) and claiming is conditional, so a task never runs twice at once.
import type { Store } from '../../store/db.js';
import type { Task } from '../../store/schema.js';

/** BullMQ tasks that should be in Redis and are overdue: waiting/retrying past their time, or abandoned. */
export async function overdueBullmqTasks(store: Store, graceMs: number, now = Date.now()): Promise<Task[]> {
  return store.db
    .selectFrom('tasks')
    .selectAll()
    .where('queue', '=', 'bullmq')
    .where('cancel_requested', '=', 0)
    .where('updated_at', '<', now - graceMs)
    .where((eb) =>
      eb.or([
        eb('state', 'in', ['PENDING', 'RETRY']).and(eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<', now - graceMs)])),
        eb('state', '=', 'STARTED')
          .and('lease_until', 'is not', null)
          .and('lease_until', '<', now - graceMs),
      ]),
    )
    .orderBy('created_at')
    .limit(100)
    .execute();
}
