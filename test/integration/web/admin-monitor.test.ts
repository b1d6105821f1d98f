// Admin monitor over HTTP on both stores (local queue) and with BullMQ: admins only (404 for everyone
// else), tasks run through the real queue with their attempts, stack traces for admins only, filters
// and their 400s, workers and queue depth.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreKind } from '../../../src/config/config.js';
import { createLogger } from '../../../src/observability/logger.js';
import { waitForTask } from '../../../src/queue/task-watch.js';
import { permanent } from '../../../src/sync/errors.js';
import { enqueuePing } from '../../../src/tasks/sync-service.js';
import { buildApp } from '../../../src/web/app.js';
import { createQueueHarness, type QueueHarness } from '../../fixtures/queue.js';
import { storeKinds } from '../../fixtures/stores.js';
import { WebClient } from '../../fixtures/web.js';

const combos: [StoreKind, 'local' | 'bullmq'][] = [
  ...(await storeKinds()).map((s) => [s, 'local'] as [StoreKind, 'local']),
  ['sqlite', 'bullmq'],
];

describe.each(combos)('admin monitor (%s store, %s queue)', (storeKind, queueKind) => {
  let h: QueueHarness;
  let app: FastifyInstance;
  let admin: WebClient;
  let bob: WebClient;
  let anon: WebClient;
  let bobId: number;
  let accountId: number;

  beforeAll(async () => {
    h = await createQueueHarness(queueKind, storeKind, {
      extra: { REGISTRATION_OPEN: 'true' },
      syncAccount: async () => {
        throw permanent('auth-failed', 'The IMAP server rejected the username or password.');
      },
    });
    app = await buildApp({
      config: h.ts.config,
      store: h.ts.store,
      logger: createLogger({ log: { level: 'silent', format: 'json' } }),
      readiness: [],
      tasks: h.system,
    });
    await app.ready();
    admin = new WebClient(app, '10.2.0.1');
    bob = new WebClient(app, '10.2.0.2');
    anon = new WebClient(app, '10.2.0.3');
    for (const [c, name] of [
      [admin, 'root'],
      [bob, 'bob'],
    ] as const) {
      await c.register(name, 'a-long-password-123');
      await c.get('/');
    }
    bobId = Number((await h.ts.store.db.selectFrom('users').select('id').where('username', '=', 'bob').executeTakeFirstOrThrow()).id);
    await bob.get('/settings/accounts/new');
    const res = await bob.post('/settings/accounts', {
      name: 'bob-imap',
      host: '127.0.0.1',
      security: 'none',
      port: '1',
      allow_insecure: 'on',
      username: 'imap-user',
      password: 'imap-secret',
      max_emails: '',
      enabled: 'on',
    });
    expect(res.statusCode).toBe(303);
    accountId = Number(/\/settings\/accounts\/(\d+)/.exec(res.headers.location as string)![1]);
  });
  afterAll(async () => {
    await app?.close();
    await h?.cleanup();
  });

  it('answers 404 to anonymous visitors and non-admins on every monitor route', async () => {
    const { task } = await enqueuePing(h.system.queue, { userId: bobId });
    const urls = [
      '/admin/monitor',
      '/admin/api/monitor',
      `/admin/tasks/${task.id}`,
      `/admin/api/tasks/${task.id}`,
      '/admin/queues',
      '/admin/queues/api/queues',
    ];
    for (const c of [anon, bob]) {
      for (const url of urls) {
        expect((await c.get(url)).statusCode, `${url}`).toBe(404);
        expect((await c.get(url, { accept: 'application/json' })).statusCode, `${url} (json)`).toBe(404);
      }
    }
    expect((await bob.get('/')).body).not.toContain('/admin/monitor');
    expect((await admin.get('/')).body).toContain('href="/admin/monitor"');
  });

  it('shows a ping run through the real queue with its attempt and worker, and the live workers', async () => {
    const { task } = await enqueuePing(h.system.queue, { userId: bobId, echo: 'monitor' });
    await waitForTask(h.ts.store, task.id, { timeoutMs: 10_000, pollMs: 20 });
    const api = await admin.get(`/admin/api/monitor?type=ping&user=bob`, { accept: 'application/json' });
    expect(api.statusCode).toBe(200);
    const body = api.json();
    expect(body.history.tasks.map((t: { id: string }) => t.id)).toContain(task.id);
    expect(body.workers.length).toBeGreaterThan(0);
    expect(body.workers[0]).toMatchObject({ alive: true, queue: queueKind, task_types: expect.arrayContaining(['ping']) });
    expect(body.depth.by_state.SUCCESS).toBeGreaterThan(0);

    const detail = await admin.get(`/admin/api/tasks/${task.id}`, { accept: 'application/json' });
    expect(detail.json().task).toMatchObject({ id: task.id, state: 'SUCCESS', username: 'bob' });
    expect(JSON.parse(detail.json().task.payload)).toEqual({ echo: 'monitor' });
    const attempts = detail.json().attempts;
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ attempt: 1, outcome: 'success', worker_id: body.workers[0].id });
    expect(attempts[0].finished_at).toBeGreaterThanOrEqual(attempts[0].started_at);

    const page = await admin.get(`/admin/tasks/${task.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Attempts');
    expect(page.body).toContain('&quot;echo&quot;: &quot;monitor&quot;');
    const monitor = await admin.get('/admin/monitor');
    expect(monitor.statusCode).toBe(200);
    expect(monitor.body).toContain(`/admin/tasks/${task.id}`);
    expect(monitor.body).toContain('src="/static/monitor.js"');
  });

  it('shows an active task with its progress', async () => {
    const { task } = await enqueuePing(h.system.queue, { userId: bobId, delayMs: 1500 });
    const deadline = Date.now() + 5000;
    let active: { id: string; state: string; progress: unknown }[] = [];
    while (Date.now() < deadline) {
      active = (await admin.get('/admin/api/monitor', { accept: 'application/json' })).json().active;
      if (active.some((t) => t.id === task.id && t.progress)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(active.find((t) => t.id === task.id)).toMatchObject({ state: 'STARTED', progress: { phase: 'waiting' } });
    const workers = (await admin.get('/admin/api/monitor', { accept: 'application/json' })).json().workers as { current_jobs: string[] }[];
    expect(workers.some((w) => w.current_jobs.includes(task.id))).toBe(true);
    const page = await admin.get('/admin/monitor');
    expect(page.body).toContain('waiting · 0 of 1500');
    await waitForTask(h.ts.store, task.id, { timeoutMs: 10_000, pollMs: 20 });
  });

  it('shows a failed task’s stack trace to the admin only; the user sees the clear message', async () => {
    const res = await bob.postJson(`/mail-account/${accountId}/fetch`, {});
    expect(res.statusCode).toBe(202);
    const id = res.json().task_id as string;
    const done = await waitForTask(h.ts.store, id, { timeoutMs: 10_000, pollMs: 20 });
    expect(done.state).toBe('FAILURE');

    const own = await bob.get(`/tasks/${id}`, { accept: 'application/json' });
    expect(own.json().error).toBe('The IMAP server rejected the username or password.');
    expect(own.body).not.toMatch(/stack|\n\s+at /);
    const ownPage = await bob.get(`/tasks/${id}`, { accept: 'text/html' });
    expect(ownPage.body).not.toContain('Stack trace');

    const page = await admin.get(`/admin/tasks/${id}`);
    expect(page.body).toContain('Stack trace');
    expect(page.body).toMatch(/SyncError|auth-failed/);
    expect(page.body).toMatch(/\n\s+at /);
    const json = (await admin.get(`/admin/api/tasks/${id}`, { accept: 'application/json' })).json();
    expect(json.task.error_stack).toMatch(/\n\s+at /);
    expect(json.attempts.at(-1)).toMatchObject({ outcome: 'failure', error: 'The IMAP server rejected the username or password.' });
    expect(json.attempts.at(-1).error_stack).toMatch(/\n\s+at /);
  });

  it('links a parent task to its children and back', async () => {
    const res = await bob.postJson('/mail-accounts/fetch-all', {});
    expect(res.statusCode).toBe(202);
    const parentId = res.json().task_id as string;
    await waitForTask(h.ts.store, parentId, { timeoutMs: 10_000, pollMs: 20 });
    const parent = (await admin.get(`/admin/api/tasks/${parentId}`, { accept: 'application/json' })).json();
    expect(parent.children).toHaveLength(1);
    const childId = parent.children[0].id as string;
    const page = await admin.get(`/admin/tasks/${parentId}`);
    expect(page.body).toContain(`href="/admin/tasks/${childId}"`);
    const child = await admin.get(`/admin/tasks/${childId}`);
    expect(child.body).toContain(`href="/admin/tasks/${parentId}"`);
  });

  it('marks a worker without a recent heartbeat as stale', async () => {
    const old = Date.now() - 60_000;
    await h.ts.store.db
      .insertInto('workers')
      .values({
        id: 'gone:1:abc',
        host: 'gone',
        pid: 1,
        queue: queueKind,
        concurrency: 1,
        version: '0.0.1',
        current_jobs: '[]',
        task_types: '["ping"]',
        started_at: old,
        last_heartbeat_at: old,
      })
      .execute();
    const workers = (await admin.get('/admin/api/monitor', { accept: 'application/json' })).json().workers as {
      id: string;
      alive: boolean;
    }[];
    expect(workers.find((w) => w.id === 'gone:1:abc')).toMatchObject({ alive: false });
    expect(workers.some((w) => w.id !== 'gone:1:abc' && w.alive)).toBe(true);
    expect((await admin.get('/admin/monitor')).body).toMatch(/gone:1:abc<\/td>\s*<td class="state state-failure">stale/);
    await h.ts.store.db.deleteFrom('workers').where('id', '=', 'gone:1:abc').execute();
  });

  it('filters history by type, state, user, account and time, paginated', async () => {
    const get = async (q: string) => {
      const r = await admin.get(`/admin/api/monitor?${q}`, { accept: 'application/json' });
      expect(r.statusCode, q).toBe(200);
      return r.json().history as {
        tasks: { type: string; state: string; user: string | null; account_id: number | null }[];
        total: number;
      };
    };
    const failed = await get('state=FAILURE');
    expect(failed.total).toBeGreaterThan(0);
    expect(failed.tasks.every((t) => t.state === 'FAILURE')).toBe(true);
    expect((await get('type=ping')).tasks.every((t) => t.type === 'ping')).toBe(true);
    expect((await get('user=bob')).tasks.every((t) => t.user === 'bob')).toBe(true);
    expect((await get('user=nobody')).total).toBe(0);
    const byAccount = await get(`account_id=${accountId}`);
    expect(byAccount.total).toBeGreaterThan(0);
    expect(byAccount.tasks.every((t) => t.account_id === accountId)).toBe(true);
    expect((await get('from=2000-01-01&to=2001-01-01')).total).toBe(0);
    const all = await get('from=2000-01-01');
    expect(all.total).toBeGreaterThanOrEqual(4);
    const page2 = await get('per_page=1&page=2');
    expect(page2.tasks).toHaveLength(1);
    // Empty form fields mean "any".
    expect((await get('type=&state=&user=&account_id=&from=&to=')).total).toBe(all.total);
    const html = await admin.get('/admin/monitor?state=FAILURE');
    expect(html.statusCode).toBe(200);
    expect(html.body).toContain('<option value="FAILURE" selected>');
  });

  it('answers 400 naming the bad filter, never 500', async () => {
    const bad: [string, string][] = [
      ['state=NOPE', 'state'],
      ['type=DROP%20TABLE', 'type'],
      ['account_id=abc', 'account_id'],
      ['account_id=-3', 'account_id'],
      ['from=yesterday', 'from'],
      ['to=2026-13-45', 'to'],
      ['from=2026-02-01&to=2026-01-01', 'to'],
      ['page=0', 'page'],
      ['per_page=100000', 'per_page'],
      ['state=SUCCESS&state=FAILURE', 'state'],
    ];
    for (const [q, param] of bad) {
      const r = await admin.get(`/admin/api/monitor?${q}`, { accept: 'application/json' });
      expect(r.statusCode, q).toBe(400);
      expect(r.json().param, q).toBe(param);
      expect(r.json().message, q).toContain(param);
      const page = await admin.get(`/admin/monitor?${q}`);
      expect(page.statusCode, q).toBe(400);
      expect(page.body).toContain(`Invalid query parameter ${param}`);
    }
  });

  it.runIf(queueKind === 'local')('answers /admin/queues in local mode with 404 and a link to the monitor', async () => {
    const r = await admin.get('/admin/queues');
    expect(r.statusCode).toBe(404);
    expect(r.body).toContain('href="/admin/monitor"');
  });

  it.runIf(queueKind === 'bullmq')('mounts Bull Board for admins only: page, static assets and API', async () => {
    const { task } = await enqueuePing(h.system.queue, { userId: bobId, echo: 'board' });
    await waitForTask(h.ts.store, task.id, { timeoutMs: 10_000, pollMs: 20 });
    const page = await admin.get('/admin/queues');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('<base href="/admin/queues/"');
    expect(page.body).not.toContain('fonts.googleapis.com');
    expect(page.headers['content-security-policy']).toContain("script-src 'self';");
    const asset = `/admin/queues/${/src="(static\/js\/main[^"]+\.js)"/.exec(page.body)?.[1]}`;
    expect((await admin.get(asset!)).statusCode).toBe(200);
    const api = await admin.get('/admin/queues/api/queues', { accept: 'application/json' });
    expect(api.statusCode).toBe(200);
    expect(JSON.stringify(api.json())).toContain('"name":"tasks"');
    for (const c of [anon, bob]) {
      for (const url of ['/admin/queues', asset!, '/admin/queues/api/queues', '/admin/queues/queue/tasks']) {
        expect((await c.get(url)).statusCode, url).toBe(404);
      }
    }
  });
});
