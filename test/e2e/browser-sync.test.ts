// Issue 7 item 1: the whole path a person takes, in a real Chromium against real `mail-helper` processes:
// (a) `serve` on SQLite with the local queue; (b) `serve` plus a separate `worker` on PostgreSQL with BullMQ.
// Register, log in, add the Dovecot account, test it, sync with live progress, read a message; then new mail
// arrives on the server and a second sync shows it. Screenshots go to test-artifacts/e2e-<mode>-<step>.png.
import { mkdirSync } from 'node:fs';
import type { VarName } from '../../src/config/config.js';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openPage } from '../fixtures/browser.js';
import { startDovecot, type Dovecot } from '../fixtures/dovecot.js';
import { startServe, startWorkerProcess, type RunningProcess } from '../fixtures/processes.js';
import { createTestRedis, redisReachable, type TestRedis } from '../fixtures/redis.js';
import { createTestStore, storeKinds, type TestStore } from '../fixtures/stores.js';

const kinds = await storeKinds();
const modes: { mode: string; kind: 'sqlite' | 'postgres'; bullmq: boolean }[] = [{ mode: 'local-sqlite', kind: 'sqlite', bullmq: false }];
if (kinds.includes('postgres') && (await redisReachable())) modes.push({ mode: 'bullmq-postgres', kind: 'postgres', bullmq: true });

let browser: Browser;
let d: Dovecot;
beforeAll(async () => {
  [browser, d] = await Promise.all([launchBrowser(), startDovecot()]);
  for (const m of modes) d.addUser(`e2e-${m.mode}`, 'imap-pw');
  mkdirSync('test-artifacts', { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await d?.stop();
});

const mail = (n: number, subject: string, body: string) =>
  [
    `From: Sender ${n} <s${n}@example.org>`,
    'To: e2e@example.org',
    `Subject: ${subject}`,
    `Message-ID: <e2e-${n}@example.org>`,
    `Date: Mon, ${n + 1} Jan 2024 10:00:00 +0000`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
    '',
  ].join('\n');

describe.each(modes)('end to end in Chromium: $mode', ({ mode, kind, bullmq }) => {
  let ts: TestStore;
  let redis: TestRedis | undefined;
  let serve: RunningProcess;
  let worker: RunningProcess | undefined;
  const box = `e2e-${mode}`;

  beforeAll(async () => {
    redis = bullmq ? await createTestRedis() : undefined;
    const extra: Record<string, string> = redis
      ? { QUEUE: 'bullmq', REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix }
      : { QUEUE: 'local' };
    ts = await createTestStore(kind, extra as Partial<Record<VarName, string>>);
    // Both processes get the same environment, so the same SERVER_SECRET, store and queue.
    const env = { ...ts.env, ...extra, ARGON2_MEMORY_KIB: '8192', LOG_LEVEL: 'warn', RETRY_BASE_MS: '200' };
    [serve, worker] = await Promise.all([startServe(env), bullmq ? startWorkerProcess({ ...env, LOG_LEVEL: 'info' }) : undefined]);
  }, 90_000);
  afterAll(async () => {
    await worker?.stop();
    await serve?.stop();
    await ts?.cleanup();
    await redis?.cleanup();
  });

  it('registers, logs in, adds and tests the Dovecot account, syncs with live progress, reads a message, and sees new mail after a second sync', async () => {
    d.writeMessage(box, 'INBOX', mail(1, 'Quarterly report', 'The numbers are in: revenue up 12%.'));
    d.writeMessage(box, 'INBOX', mail(2, 'Lunch on Friday?', 'Shall we try the new place?'));
    const base = serve.url;
    const { page, problems, close } = await openPage(browser);
    const shot = (step: string) => page.screenshot({ path: `test-artifacts/e2e-${mode}-${step}.png`, fullPage: true });
    try {
      await page.goto(`${base}/register`);
      await page.getByLabel('Username', { exact: true }).fill('erin');
      await page.getByLabel('Password', { exact: true }).fill('erin web password');
      await page.getByLabel('Repeat password').fill('erin web password');
      await shot('01-register');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(`${base}/`);

      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL(/\/login\?reason=logged_out/);
      await page.getByLabel('Username', { exact: true }).fill('erin');
      await page.getByLabel('Password', { exact: true }).fill('erin web password');
      await shot('02-login');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL(`${base}/`);
      expect(await page.locator('main').textContent()).toContain('Signed in as erin');

      await page.getByRole('link', { name: 'Accounts', exact: true }).click();
      await page.getByRole('link', { name: 'Add mail account' }).click();
      await page.getByLabel('Display name').fill('Work mail');
      await page.getByLabel('IMAP server').fill(d.host);
      await page.getByLabel('Security').selectOption('none');
      await page.getByLabel('Port').fill(String(d.port));
      await page.getByLabel('I understand that "None" sends my password and mail unencrypted').check();
      await page.getByLabel('Username', { exact: true }).fill(box);
      await page.getByLabel('Password', { exact: true }).fill('imap-pw');
      await shot('03-add-account');
      await page.getByRole('button', { name: 'Add account' }).click();
      await page.waitForURL(/\/settings\/accounts\/\d+\?added=1/);

      await page.getByRole('button', { name: 'Test connection' }).click();
      expect(await page.locator('[data-test-result]').getAttribute('data-test-result')).toBe('ok');
      expect(await page.locator('.ok').textContent()).toMatch(/Connection OK: logged in and found \d+ folder/);
      await shot('04-test-connection');

      await syncAndWait(page, base, 1);
      await shot('05-sync-done');

      await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
      await page.waitForURL(`${base}/`);
      const rows = page.locator('table.messages tbody tr');
      expect(await rows.count()).toBe(2);
      expect(await page.locator('table.messages').textContent()).toContain('Quarterly report');
      await shot('06-dashboard');

      await page.getByRole('link', { name: 'Quarterly report' }).click();
      await page.waitForURL(/\/messages\/\d+$/);
      expect(await page.locator('h1').textContent()).toBe('Quarterly report');
      expect(await page.locator('pre.mail-text').textContent()).toContain('The numbers are in: revenue up 12%.');
      await shot('07-message');

      // New mail arrives on the server; the second sync brings it in.
      d.writeMessage(box, 'INBOX', mail(3, 'Contract signed', 'Signed copy attached in spirit.'));
      await syncAndWait(page, base, 2);
      await shot('08-second-sync-done');
      await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
      await page.waitForURL(`${base}/`);
      expect(await rows.count()).toBe(3);
      await page.getByRole('link', { name: 'Contract signed' }).click();
      await page.waitForURL(/\/messages\/\d+$/);
      expect(await page.locator('pre.mail-text').textContent()).toContain('Signed copy attached in spirit.');
      await shot('09-new-message');

      expect(problems).toEqual([]);
      expect(serve.proc.exitCode).toBeNull();
      if (worker) expect(worker.proc.exitCode).toBeNull();
    } finally {
      await close();
    }
  }, 90_000);
});

/** Presses the account's Sync button and waits until the in-page status says the task succeeded. */
async function syncAndWait(page: Page, base: string, round: number): Promise<void> {
  await page.goto(`${base}/settings/accounts`);
  // Every text the status element shows, so that the test sees the progress before the result.
  // (A string, because the test files are type-checked without the DOM library.) The output is created on click.
  await page.evaluate(`(() => {
    const form = document.querySelector('form[data-sync-account]');
    const seen = (globalThis.seen = []);
    new MutationObserver(() => seen.push(form.querySelector('output.task-status')?.textContent ?? '')).observe(form, {
      childList: true, subtree: true, characterData: true,
    });
  })()`);
  await page.click('form[data-sync-account] button');
  const out = page.locator('form[data-sync-account] output.task-status');
  await out.getByText(/SUCCESS/).waitFor({ timeout: 30_000 });
  const text = (await out.textContent()) ?? '';
  const seen = (await page.evaluate('globalThis.seen')) as string[];
  expect(seen.some((t) => t.trim() !== '' && !t.includes('SUCCESS'))).toBe(true);
  // Progress reached completion: "n of n".
  expect(text).toMatch(/(\d+) of \1\b/);
  expect(text).toContain(round === 1 ? '2 new message(s)' : '1 new message(s)');
}
