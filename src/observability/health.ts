// `mail-helper health`: the seed's health-check script, as checks with a verdict and a hint each.
// Hints follow the seed's troubleshooting list (worker not running, Redis unreachable, task not registered, …).
import { sql } from 'kysely';
import type { Config } from '../config/config.js';
import { pingRedis } from '../queue/redis.js';
import { checkStore, type Store } from '../store/db.js';
import { WORKER_STALE_MS } from '../queue/heartbeat.js';

export interface HealthCheck {
  name: string;
  ok: boolean;
  /** What was found, in one line. */
  detail: string;
  /** What to do about it (only when not ok). */
  hint?: string;
}

export interface HealthReport {
  healthy: boolean;
  checks: HealthCheck[];
}

export interface HealthOptions {
  /** Task types this build registers; live workers must report the same set. */
  taskTypes: readonly string[];
  /** A waiting task older than this makes the queue unhealthy. */
  maxBacklogAgeMs?: number;
  now?: number;
}

export async function checkHealth(config: Config, store: Store, opts: HealthOptions): Promise<HealthReport> {
  const now = opts.now ?? Date.now();
  const checks: HealthCheck[] = [];

  try {
    await checkStore(store);
    checks.push({ name: 'store', ok: true, detail: `${store.description} answers` });
  } catch (err) {
    checks.push({
      name: 'store',
      ok: false,
      detail: (err as Error).message,
      hint:
        store.dialect === 'postgres'
          ? 'Start PostgreSQL or fix DATABASE_URL (systemctl status postgresql).'
          : 'Check that DATA_DIR is writable and the disk is not full.',
    });
    return { healthy: false, checks };
  }

  if (config.queue.kind === 'bullmq') {
    try {
      await pingRedis(config.queue.redisUrl);
      checks.push({ name: 'redis', ok: true, detail: 'Redis answers PING' });
    } catch (err) {
      checks.push({
        name: 'redis',
        ok: false,
        detail: (err as Error).message,
        hint: 'Start Redis or fix REDIS_URL (redis-cli ping should answer PONG).',
      });
    }
  }

  const workers = await store.db
    .selectFrom('workers')
    .selectAll()
    .where('last_heartbeat_at', '>', now - WORKER_STALE_MS)
    .execute();
  const wantQueue = config.queue.kind;
  const live = workers.filter((w) => w.queue === wantQueue);
  checks.push(
    live.length > 0
      ? { name: 'workers', ok: true, detail: `${live.length} live worker(s): ${live.map((w) => `${w.host}/${w.pid}`).join(', ')}` }
      : {
          name: 'workers',
          ok: false,
          detail: `no ${wantQueue} worker sent a heartbeat in the last ${WORKER_STALE_MS / 1000} s — queued tasks stay PENDING`,
          hint:
            wantQueue === 'bullmq'
              ? 'Start a worker: `mail-helper worker` (systemctl start mail-helper-worker@1) with the same DATABASE_URL, REDIS_URL and SERVER_SECRET.'
              : 'The web process runs the local queue: start it with `mail-helper serve` (systemctl start mail-helper-web).',
        },
  );

  if (live.length > 0) {
    const missing = live
      .map((w) => ({ w, types: parseList(w.task_types) }))
      .map(({ w, types }) => ({ w, missing: opts.taskTypes.filter((t) => !types.includes(t)) }))
      .filter((x) => x.missing.length > 0);
    checks.push(
      missing.length === 0
        ? { name: 'task types', ok: true, detail: `every live worker runs ${opts.taskTypes.join(', ')}` }
        : {
            name: 'task types',
            ok: false,
            detail: missing.map((m) => `${m.w.host}/${m.w.pid} (version ${m.w.version}) lacks ${m.missing.join(', ')}`).join('; '),
            hint: 'Task not registered: that worker runs an older build. Deploy the same version everywhere and restart the workers.',
          },
    );
  }

  const maxAge = opts.maxBacklogAgeMs ?? 5 * 60_000;
  const oldest = await store.db
    .selectFrom('tasks')
    .select(sql<number | null>`min(created_at)`.as('t'))
    .where('state', '=', 'PENDING')
    .executeTakeFirst();
  const age = oldest?.t ? now - Number(oldest.t) : 0;
  checks.push(
    age <= maxAge
      ? { name: 'backlog', ok: true, detail: age ? `oldest waiting task is ${Math.round(age / 1000)} s old` : 'no task is waiting' }
      : {
          name: 'backlog',
          ok: false,
          detail: `oldest waiting task is ${Math.round(age / 1000)} s old (limit ${Math.round(maxAge / 1000)} s)`,
          hint: 'Workers are missing or too few: start more (`mail-helper worker --concurrency 4`) and check their logs.',
        },
  );

  const staleBefore = now - config.metrics.staleAfterMs;
  const stale = await store.db
    .selectFrom('mail_accounts')
    .select(['id', 'name', 'needs_password', 'last_error', 'last_success_at'])
    .where('enabled', '=', 1)
    .where((eb) =>
      eb.or([eb('last_success_at', '<', staleBefore), eb.and([eb('last_success_at', 'is', null), eb('created_at', '<', staleBefore)])]),
    )
    .execute();
  const locked = stale.filter((a) => a.needs_password === 1);
  checks.push(
    stale.length === 0
      ? {
          name: 'sync freshness',
          ok: true,
          detail: `every enabled account synced within ${Math.round(config.metrics.staleAfterMs / 3_600_000)} h`,
        }
      : {
          name: 'sync freshness',
          ok: false,
          detail: `${stale.length} account(s) without a successful sync within ${Math.round(config.metrics.staleAfterMs / 3_600_000)} h: ${stale.map((a) => `#${a.id}`).join(', ')}`,
          hint:
            locked.length > 0
              ? `Credentials cannot be decrypted for ${locked.map((a) => `#${a.id}`).join(', ')} (the user's key was reset): the user must re-enter the account password.`
              : "See each account's last error on its settings page; typical causes: wrong credentials, server unreachable, no worker running, no scheduled sync.",
        },
  );

  return { healthy: checks.every((c) => c.ok), checks };
}

function parseList(json: string | null | undefined): string[] {
  try {
    const v = JSON.parse(json ?? '[]') as unknown;
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
}

export function formatHealth(report: HealthReport): string {
  const lines = report.checks.map(
    (c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(15)} ${c.detail}${c.hint ? `\n      → ${c.hint}` : ''}`,
  );
  return `${lines.join('\n')}\n${report.healthy ? 'healthy' : 'NOT healthy'}\n`;
}
