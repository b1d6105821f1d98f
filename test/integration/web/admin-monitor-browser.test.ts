// The admin monitor and Bull Board in a real Chromium under the app's CSP: the monitor renders a finished
// and an active task, redraws itself from /admin/api/monitor without a reload, and nothing logs a console
// or CSP error. Screenshots go to test-artifacts/ for a human look.
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.js';
import { waitForTask } from '../../../src/queue/task-watch.js';
import { permanent } from '../../../src/sync/errors.js';
import { enqueuePing } from '../../../src/tasks/sync-service.js';
import { buildApp } from '../../../src/web/app.js';
import { launchBrowser, openPage } from '../../fixtures/browser.js';
import { createQueueHarness, type QueueHarness } from '../../fixtures/queue.js';
import { WebClient } from '../../fixtures/web.js';

describe.each(['local', 'bullmq'] as const)('admin monitor in Chromium (%s queue)', (queueKind) => {
  let h: QueueHarness;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  let session: string;
  let userId: number;

  beforeAll(async () => {
    h = await createQueueHarness(queueKind, 'sqlite', {
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
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const c = new WebClient(app, '127.0.0.1');
    await c.register('admin', 'a-long-password-123');
    await c.get('/');
    session = c.cookies.get('mh_session')!;
    userId = Number((await h.ts.store.db.selectFrom('users').select('id').executeTakeFirstOrThrow()).id);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await h?.cleanup();
  });

  it.runIf(queueKind === 'local')('shows a finished and an active task, updates live, with no console or CSP error', async () => {
    const done = await enqueuePing(h.system.queue, { userId, echo: 'finished' });
    await waitForTask(h.ts.store, done.task.id, { timeoutMs: 10_000, pollMs: 20 });
    const active = await enqueuePing(h.system.queue, { userId, delayMs: 3500 });
    const deadline = Date.now() + 5000;
    while (
      (await h.ts.store.db.selectFrom('tasks').select('progress').where('id', '=', active.task.id).executeTakeFirst())?.progress === null
    ) {
      if (Date.now() > deadline) throw new Error('the active ping never started');
      await new Promise((r) => setTimeout(r, 20));
    }
    const s = await openPage(browser);
    try {
      await s.context.addCookies([{ name: 'mh_session', value: session, url: base }]);
      const res = await s.page.goto(`${base}/admin/monitor`);
      expect(res?.status()).toBe(200);
      const activeTable = s.page.locator('table[data-live="active"]');
      expect(await activeTable.textContent()).toContain('waiting · 0 of 3500');
      expect(await s.page.locator('table[data-live="history"]').textContent()).toContain('SUCCESS');
      await s.page
        .locator('[data-live-status]')
        .getByText(/Updated/)
        .waitFor({ timeout: 5000 });
      mkdirSync('test-artifacts', { recursive: true });
      await s.page.setViewportSize({ width: 1280, height: 900 });
      await s.page.screenshot({ path: 'test-artifacts/admin-monitor.png', fullPage: true });
      // Live: the running ping leaves the active table and shows up finished, without a reload.
      const marker = await s.page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = Math.random()));
      await activeTable.getByText('No task is running').waitFor({ timeout: 10_000 });
      expect(await s.page.evaluate(() => (globalThis as unknown as { marker: number }).marker)).toBe(marker);
      await s.page.click(`a[href="/admin/tasks/${done.task.id}"]`);
      await s.page.getByRole('heading', { name: 'Attempts' }).waitFor();
      expect(s.problems).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it.runIf(queueKind === 'bullmq')('renders Bull Board under its CSP with no console or CSP error', async () => {
    const t = await enqueuePing(h.system.queue, { userId, echo: 'board' });
    await waitForTask(h.ts.store, t.task.id, { timeoutMs: 10_000, pollMs: 20 });
    const s = await openPage(browser);
    try {
      await s.context.addCookies([{ name: 'mh_session', value: session, url: base }]);
      const res = await s.page.goto(`${base}/admin/queues`);
      expect(res?.status()).toBe(200);
      await s.page.getByText('Mail Helper queues').first().waitFor({ timeout: 10_000 });
      await s.page.getByText('tasks').first().waitFor({ timeout: 10_000 });
      await s.page.waitForLoadState('networkidle');
      mkdirSync('test-artifacts', { recursive: true });
      await s.page.screenshot({ path: 'test-artifacts/bull-board.png' });
      expect(s.problems).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
