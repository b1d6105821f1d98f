// Task routes over HTTP on both backends: 202 + status JSON, deduplication, no-JS form flow, SSE order,
// history, cancel/retry, the no-worker warning, 503 when Redis is down, and 404 for another user's task.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.js';
import { waitForTask } from '../../../src/queue/task-watch.js';
import { permanent } from '../../../src/sync/errors.js';
import { buildApp } from '../../../src/web/app.js';
import { createQueueHarness, syncStats, type QueueHarness } from '../../fixtures/queue.js';
import { WebClient } from '../../fixtures/web.js';

const stats = syncStats;

const accountForm = (name: string) => ({
  name,
  host: '127.0.0.1',
  security: 'none',
  port: '1',
  allow_insecure: 'on',
  username: 'imap-user',
  password: 'imap-secret',
  max_emails: '',
  enabled: 'on',
});

async function addAccount(c: WebClient, name: string): Promise<number> {
  await c.get('/settings/accounts/new');
  const res = await c.post('/settings/accounts', accountForm(name));
  expect(res.statusCode).toBe(303);
  return Number(/\/settings\/accounts\/(\d+)/.exec(res.headers.location as string)![1]);
}

async function signUp(c: WebClient, name: string) {
  const res = await c.register(name, 'a-long-password-123');
  expect([200, 303]).toContain(res.statusCode);
  await c.get('/');
}

describe.each(['local', 'bullmq'] as const)('task routes (%s queue)', (queueKind) => {
  let h: QueueHarness;
  let app: FastifyInstance;
  let base: string;
  let alice: WebClient;
  let bob: WebClient;
  let gate: Promise<void> = Promise.resolve();
  let failNext = false;

  beforeAll(async () => {
    h = await createQueueHarness(queueKind, 'sqlite', {
      extra: { REGISTRATION_OPEN: 'true' },
      syncAccount: async (input) => {
        input.onProgress?.({ phase: 'folders' });
        await gate;
        input.onProgress?.({ phase: 'fetch', folder: 'INBOX', folderIndex: 1, folderCount: 1, done: 2, total: 2 });
        if (failNext) throw permanent('auth-failed', 'The IMAP server rejected the username or password.');
        return stats(2);
      },
    });
    app = await buildApp({
      config: h.ts.config,
      store: h.ts.store,
      logger: createLogger({ log: { level: 'silent', format: 'json' } }),
      readiness: [],
      tasks: h.system,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    alice = new WebClient(app, '10.1.0.1');
    bob = new WebClient(app, '10.1.0.2');
    await signUp(alice, 'alice');
    await signUp(bob, 'bob');
  });
  afterAll(async () => {
    await app?.close();
    await h?.cleanup();
  });

  const cookie = (c: WebClient) => [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ');

  it('POST /mail-account/:id/fetch answers 202 with the task id; a second request while it runs is deduplicated', async () => {
    const id = await addAccount(alice, 'dedupe');
    let release!: () => void;
    gate = new Promise((r) => (release = r));
    const first = await alice.postJson(`/mail-account/${id}/fetch`, {});
    expect(first.statusCode).toBe(202);
    const body = first.json();
    expect(body).toMatchObject({ status: 'queued', task_type: queueKind === 'bullmq' ? 'queue' : 'local', deduplicated: false });
    const second = await alice.postJson(`/mail-account/${id}/fetch`, {});
    expect(second.statusCode).toBe(202);
    expect(second.json()).toMatchObject({ task_id: body.task_id, deduplicated: true });
    release();
    await waitForTask(h.ts.store, body.task_id, { timeoutMs: 10_000, pollMs: 20 });
    const status = await alice.get(`/tasks/${body.task_id}`, { accept: 'application/json' });
    expect(status.json()).toMatchObject({
      task_id: body.task_id,
      state: 'SUCCESS',
      status: 'completed',
      result: { status: 'success', email_count: 2 },
      error: null,
    });
    expect(status.json().progress).toMatchObject({ phase: 'fetch', done: 2, total: 2 });
  });

  it('the Sync form works without JavaScript: it redirects to the task page', async () => {
    const id = await addAccount(alice, 'nojs');
    await alice.get('/settings/accounts');
    const res = await alice.app.inject({
      method: 'POST',
      url: `/mail-account/${id}/fetch`,
      remoteAddress: alice.ip,
      headers: { cookie: cookie(alice), accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: alice.csrf }).toString(),
    });
    expect(res.statusCode).toBe(303);
    const location = res.headers.location as string;
    expect(location).toMatch(/^\/tasks\/[0-9a-f-]+$/);
    await waitForTask(h.ts.store, location.split('/')[2], { timeoutMs: 10_000, pollMs: 20 });
    const page = await alice.get(location, { accept: 'text/html' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('SUCCESS');
    expect(page.body).toContain('2 new message(s)');
  });

  it('streams progress over SSE in order and ends with the final state', async () => {
    const id = await addAccount(alice, 'sse');
    let release!: () => void;
    gate = new Promise((r) => (release = r));
    const { task_id } = (await alice.postJson(`/mail-account/${id}/fetch`, {})).json();
    const res = await fetch(`${base}/tasks/${task_id}/events`, { headers: { cookie: cookie(alice), accept: 'text/event-stream' } });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    setTimeout(release, 400);
    const text = await res.text();
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({
      event: m[1],
      data: JSON.parse(m[2]) as { state: string },
    }));
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { state: 'SUCCESS' } });
    const order = ['PENDING', 'STARTED', 'SUCCESS'];
    const ranks = events.map((e) => order.indexOf(e.data.state));
    expect(ranks.every((r) => r >= 0)).toBe(true);
    expect([...ranks].sort((a, b) => a - b)).toEqual(ranks);
    expect(events.some((e) => e.data.state === 'STARTED')).toBe(true);
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toEqual(ids.map((_, i) => i + 1));
  });

  it("another user's task is 404 on every task route, and not in their history", async () => {
    const id = await addAccount(alice, 'private');
    const { task_id } = (await alice.postJson(`/mail-account/${id}/fetch`, {})).json();
    await waitForTask(h.ts.store, task_id, { timeoutMs: 10_000, pollMs: 20 });
    await bob.get('/tasks');
    expect((await bob.get(`/tasks/${task_id}`, { accept: 'application/json' })).statusCode).toBe(404);
    expect((await bob.get(`/tasks/${task_id}`, { accept: 'text/html' })).statusCode).toBe(404);
    expect((await bob.get(`/api/tasks/${task_id}`)).statusCode).toBe(404);
    expect((await fetch(`${base}/tasks/${task_id}/events`, { headers: { cookie: cookie(bob) } })).status).toBe(404);
    expect((await bob.postJson(`/tasks/${task_id}/cancel`, {})).statusCode).toBe(404);
    expect((await bob.postJson(`/tasks/${task_id}/retry`, {})).statusCode).toBe(404);
    expect((await bob.postJson(`/mail-account/${id}/fetch`, {})).statusCode).toBe(404);
    const list = (await bob.get('/api/tasks')).json();
    expect(list.tasks.map((t: { task_id: string }) => t.task_id)).not.toContain(task_id);
    // Logged out: no access at all.
    expect((await new WebClient(app, '10.1.0.9').get(`/api/tasks/${task_id}`)).statusCode).toBe(401);
  });

  it('lists the history with filters and pages, retries a failed task and cancels a queued one', async () => {
    const id = await addAccount(alice, 'history');
    failNext = true;
    const { task_id } = (await alice.postJson(`/mail-account/${id}/fetch`, {})).json();
    const failed = await waitForTask(h.ts.store, task_id, { timeoutMs: 10_000, pollMs: 20 });
    failNext = false;
    expect(failed.state).toBe('FAILURE');
    const list = (await alice.get(`/api/tasks?state=FAILURE&account_id=${id}`)).json();
    expect(list).toMatchObject({ total: 1, page: 1, per_page: 20 });
    expect(list.tasks[0]).toMatchObject({
      task_id,
      state: 'FAILURE',
      status: 'failed',
      error: 'The IMAP server rejected the username or password.',
    });
    const paged = (await alice.get('/api/tasks?per_page=1&page=2')).json();
    expect(paged.tasks).toHaveLength(1);
    expect((await alice.get('/api/tasks?state=NOPE')).statusCode).toBe(400);

    const retry = await alice.postJson(`/tasks/${task_id}/retry`, {});
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toMatchObject({ retry_of: task_id });
    expect((await waitForTask(h.ts.store, retry.json().task_id, { timeoutMs: 10_000, pollMs: 20 })).state).toBe('SUCCESS');
    expect((await alice.postJson(`/tasks/${retry.json().task_id}/retry`, {})).statusCode).toBe(409);

    let release!: () => void;
    gate = new Promise((r) => (release = r));
    const running = (await alice.postJson(`/mail-account/${id}/fetch`, {})).json();
    const cancelled = await alice.postJson(`/tasks/${running.task_id}/cancel`, {});
    expect(cancelled.statusCode).toBe(200);
    release();
    expect((await waitForTask(h.ts.store, running.task_id, { timeoutMs: 10_000, pollMs: 20 })).state).toMatch(/REVOKED|SUCCESS/);
    const page = await alice.get('/tasks', { accept: 'text/html' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('sync_user_emails');
  });

  it('sync all answers 202 and its task lists every account', async () => {
    const res = await alice.postJson('/mail-accounts/fetch-all', {});
    expect(res.statusCode).toBe(202);
    const done = await waitForTask(h.ts.store, res.json().task_id, { timeoutMs: 10_000, pollMs: 20 });
    expect(done.state).toBe('SUCCESS');
    const view = (await alice.get(`/tasks/${done.id}`, { accept: 'application/json' })).json();
    expect(view.result.status).toBe('success');
    expect(view.result.accounts.length).toBeGreaterThanOrEqual(5);
    expect(view.children.length).toBe(view.result.accounts.length);
  });
});

describe('queue trouble shown to the user', () => {
  it('says when tasks wait and no worker is alive, and how to start one', async () => {
    const h = await createQueueHarness('bullmq', 'sqlite', { startWorker: false, extra: { REGISTRATION_OPEN: 'true' } });
    const app = await buildApp({
      config: h.ts.config,
      store: h.ts.store,
      logger: createLogger({ log: { level: 'silent', format: 'json' } }),
      readiness: [],
      tasks: h.system,
    });
    try {
      const c = new WebClient(app, '10.2.0.1');
      await signUp(c, 'carol');
      const res = await c.postJson('/mail-accounts/fetch-all', {});
      expect(res.statusCode).toBe(202);
      const page = await c.get('/tasks', { accept: 'text/html' });
      expect(page.body).toContain('no worker is alive');
      expect(page.body).toContain('mail-helper worker');
      expect((await c.get('/api/tasks')).json().no_worker_alive).toBe(true);
    } finally {
      await app.close();
      await h.cleanup();
    }
  });

  it('answers 503 with a clear message when Redis is down, and records the task as failed', async () => {
    const h = await createQueueHarness('bullmq', 'sqlite', {
      startWorker: false,
      extra: { REGISTRATION_OPEN: 'true', REDIS_URL: 'redis://127.0.0.1:1' },
    });
    const app = await buildApp({
      config: h.ts.config,
      store: h.ts.store,
      logger: createLogger({ log: { level: 'silent', format: 'json' } }),
      readiness: [],
      tasks: h.system,
    });
    try {
      const c = new WebClient(app, '10.2.0.2');
      await signUp(c, 'dave');
      const id = await addAccount(c, 'down');
      const started = Date.now();
      const res = await c.postJson(`/mail-account/${id}/fetch`, {});
      expect(res.statusCode).toBe(503);
      expect(res.json().message).toMatch(/task queue is unavailable: Redis at redis:\/\/127\.0\.0\.1:1.* does not answer/);
      expect(Date.now() - started).toBeLessThan(6_000);
      const list = (await c.get('/api/tasks')).json();
      expect(list.tasks[0]).toMatchObject({ state: 'FAILURE', status: 'failed' });
      // The dedupe slot is free again: a later request is not "deduplicated" onto the failed one.
      expect((await c.postJson(`/mail-account/${id}/fetch`, {})).statusCode).toBe(503);
    } finally {
      await app.close();
      await h.cleanup();
    }
  });

  it('closing the server ends open event streams instead of waiting for them', async () => {
    const h = await createQueueHarness('local', 'sqlite', { startWorker: false, extra: { REGISTRATION_OPEN: 'true' } });
    const app = await buildApp({
      config: h.ts.config,
      store: h.ts.store,
      logger: createLogger({ log: { level: 'silent', format: 'json' } }),
      readiness: [],
      tasks: h.system,
    });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const c = new WebClient(app, '10.2.0.3');
      await signUp(c, 'ivy');
      const { task_id } = (await c.postJson('/mail-accounts/fetch-all', {})).json();
      const res = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/tasks/${task_id}/events`, {
        headers: { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
      });
      const body = res.text();
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      await app.close();
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(await body).toContain('event: progress');
    } finally {
      await app.close();
      await h.cleanup();
    }
  });
});
