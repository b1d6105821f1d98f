// Scheduled sync: turned on knowingly through the web (schedule grant), due accounts queued once even
// with several schedulers, the grant outlives each task, and turning it off revokes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.js';
import { waitForTask } from '../../../src/queue/task-watch.js';
import { runDueSchedules } from '../../../src/tasks/schedule.js';
import { buildApp } from '../../../src/web/app.js';
import { createQueueHarness, syncStats, type QueueHarness } from '../../fixtures/queue.js';
import { storeKinds } from '../../fixtures/stores.js';
import { WebClient } from '../../fixtures/web.js';
import type { FastifyInstance } from 'fastify';

const stats = syncStats(0);

describe.each(await storeKinds())('scheduled sync on %s', (storeKind) => {
  let h: QueueHarness;
  let app: FastifyInstance;
  let c: WebClient;
  let accountId: number;
  let runs = 0;

  beforeAll(async () => {
    h = await createQueueHarness('local', storeKind, {
      extra: { REGISTRATION_OPEN: 'true' },
      syncAccount: async () => {
        runs++;
        return stats;
      },
    });
    app = await buildApp({
      config: h.ts.config,
      store: h.ts.store,
      logger: createLogger({ log: { level: 'silent', format: 'json' } }),
      readiness: [],
      tasks: h.system,
    });
    c = new WebClient(app, '10.3.0.1');
    await c.register('erin', 'a-long-password-123');
    await c.get('/settings/accounts/new');
    const res = await c.post('/settings/accounts', {
      name: 'sched',
      host: '127.0.0.1',
      security: 'none',
      port: '1',
      allow_insecure: 'on',
      username: 'u',
      password: 'p',
      max_emails: '',
      enabled: 'on',
    });
    accountId = Number(/\/settings\/accounts\/(\d+)/.exec(res.headers.location as string)![1]);
  });
  afterAll(async () => {
    await app?.close();
    await h?.cleanup();
  });

  const scheduleGrants = () =>
    h.ts.store.db.selectFrom('grants').selectAll().where('account_id', '=', accountId).where('kind', '=', 'schedule').execute();

  it('is off by default and turns on only with the explicit confirmation', async () => {
    const page = await c.get('/settings/schedules');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('schedule grant');
    expect(await runDueSchedules(h.system.deps, h.system.queue)).toEqual([]);
    await c.post(`/mail-account/${accountId}/schedule`, { interval_minutes: '30' });
    expect(await scheduleGrants()).toHaveLength(0);
    const on = await c.post(`/mail-account/${accountId}/schedule`, { interval_minutes: '30', confirm: 'yes' });
    expect(on.statusCode).toBe(303);
    expect(await scheduleGrants()).toHaveLength(1);
    expect((await c.get('/settings/schedules')).body).toContain('every 30 min');
  });

  it('queues a due account once even with concurrent schedulers, and the grant outlives the task', async () => {
    const now = Date.now();
    const [a, b] = await Promise.all([
      runDueSchedules(h.system.deps, h.system.queue, now),
      runDueSchedules(h.system.deps, h.system.queue, now),
    ]);
    const queued = [...a, ...b];
    expect(queued).toHaveLength(1);
    const done = await waitForTask(h.ts.store, queued[0].task.id, { timeoutMs: 10_000, pollMs: 20 });
    expect(done.state).toBe('SUCCESS');
    expect(runs).toBe(1);
    expect((await scheduleGrants()).filter((g) => g.revoked_at === null)).toHaveLength(1);
    // Not due again until the interval has passed.
    expect(await runDueSchedules(h.system.deps, h.system.queue, Date.now())).toEqual([]);
    const later = await runDueSchedules(h.system.deps, h.system.queue, Date.now() + 31 * 60_000);
    expect(later).toHaveLength(1);
    await waitForTask(h.ts.store, later[0].task.id, { timeoutMs: 10_000, pollMs: 20 });
  });

  it("another user cannot change someone else's schedule (404)", async () => {
    const other = new WebClient(app, '10.3.0.2');
    await other.register('gina', 'a-long-password-123');
    await other.get('/settings/schedules');
    const res = await other.post(`/mail-account/${accountId}/schedule`, { interval_minutes: 'off' });
    expect(res.statusCode).toBe(404);
    expect((await scheduleGrants()).filter((g) => g.revoked_at === null)).toHaveLength(1);
    expect((await other.get('/settings/schedules')).body).not.toContain('>sched<');
  });

  it('turning it off revokes the grant: nothing more is queued', async () => {
    await c.get('/settings/schedules');
    await c.post(`/mail-account/${accountId}/schedule`, { interval_minutes: 'off' });
    const grants = await scheduleGrants();
    expect(grants.every((g) => g.revoked_at !== null)).toBe(true);
    expect(await runDueSchedules(h.system.deps, h.system.queue, Date.now() + 365 * 24 * 3_600_000)).toEqual([]);
    const acc = await h.ts.store.db
      .selectFrom('mail_accounts')
      .select('sync_interval_minutes')
      .where('id', '=', accountId)
      .executeTakeFirstOrThrow();
    expect(acc.sync_interval_minutes).toBeNull();
  });
});
