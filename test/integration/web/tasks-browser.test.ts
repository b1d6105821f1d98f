// The Sync button in a real Chromium: with JavaScript it shows live progress and the result in place
// (no reload); without JavaScript the form posts and lands on the task's page.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.js';
import { buildApp } from '../../../src/web/app.js';
import { createQueueHarness, syncStats, type QueueHarness } from '../../fixtures/queue.js';
import { WebClient } from '../../fixtures/web.js';

const stats = syncStats;

describe('Sync button in Chromium', () => {
  let h: QueueHarness;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  let session: string;

  beforeAll(async () => {
    h = await createQueueHarness('local', 'sqlite', {
      syncAccount: async (input) => {
        for (let i = 1; i <= 3; i++) {
          input.onProgress?.({ phase: 'fetch', folder: 'INBOX', folderIndex: 1, folderCount: 1, done: i, total: 3 });
          await new Promise((r) => setTimeout(r, 300));
        }
        return stats(3);
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
    await c.register('frank', 'a-long-password-123');
    await c.get('/settings/accounts/new');
    await c.post('/settings/accounts', {
      name: 'browser',
      host: '127.0.0.1',
      security: 'none',
      port: '1',
      allow_insecure: 'on',
      username: 'u',
      password: 'p',
      max_emails: '',
      enabled: 'on',
    });
    session = c.cookies.get('mh_session')!;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await h?.cleanup();
  });

  async function context(javaScriptEnabled: boolean) {
    const ctx = await browser.newContext({ javaScriptEnabled });
    await ctx.addCookies([{ name: 'mh_session', value: session, url: base }]);
    return ctx;
  }

  it('shows live progress and the result without a reload', async () => {
    const ctx = await context(true);
    try {
      const page = await ctx.newPage();
      await page.goto(`${base}/settings/accounts`);
      const marker = await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = Math.random()));
      await page.click('form[data-sync-account] button');
      const out = page.locator('form[data-sync-account] output.task-status');
      await out.getByText(/of 3/).waitFor({ timeout: 10_000 });
      await out.getByText(/SUCCESS/).waitFor({ timeout: 10_000 });
      expect(await out.textContent()).toContain('3 new message(s)');
      expect(await page.evaluate(() => (globalThis as unknown as { marker: number }).marker)).toBe(marker);
      expect(page.url()).toBe(`${base}/settings/accounts`);
    } finally {
      await ctx.close();
    }
  });

  it('without JavaScript the form posts and shows the task page', async () => {
    const ctx = await context(false);
    try {
      const page = await ctx.newPage();
      await page.goto(`${base}/settings/accounts`);
      await Promise.all([page.waitForURL(/\/tasks\/[0-9a-f-]+$/), page.click('form[data-sync-account] button')]);
      expect(await page.textContent('h1')).toContain('sync_user_emails');
    } finally {
      await ctx.close();
    }
  });
});
