import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openPage, serveTestApp, type ServedApp } from '../fixtures/browser.js';
import { startDovecot, type Dovecot } from '../fixtures/dovecot.js';
import { storeKinds } from '../fixtures/stores.js';
import { createWebMailUser, WEB_PASSWORD } from '../fixtures/web-mailbox.js';

const kinds = await storeKinds();
let browser: Browser;
let d: Dovecot;

beforeAll(async () => {
  [browser, d] = await Promise.all([launchBrowser(), startDovecot()]);
  for (const kind of kinds) d.addUser(`box-${kind}`, 'box-pw');
  mkdirSync('test-artifacts', { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await d?.stop();
});

const newsletter = [
  'From: News <news@example.org>',
  'To: bea@example.org',
  'Subject: Weekly newsletter',
  'Message-ID: <news@example.org>',
  'Date: Tue, 3 Jan 2023 10:00:00 +0000',
  'MIME-Version: 1.0',
  'Content-Type: multipart/alternative; boundary="b"',
  '',
  '--b',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Plain text part: Grüße',
  '--b',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<html><head><style>h1{color:#0a5}</style></head><body><h1 style="font-size:20px">Styled headline</h1>' +
    '<script>document.title="pwned"</script><img src="https://tracker.example/p.gif" alt="pixel">' +
    '<p onclick="alert(1)">Body paragraph</p></body></html>',
  '--b--',
  '',
].join('\n');

describe.each(kinds)('message views in Chromium on %s', (kind) => {
  let s: ServedApp;
  beforeAll(async () => {
    s = await serveTestApp(kind, { ARGON2_MEMORY_KIB: '8192' });
  });
  afterAll(async () => s?.cleanup());

  it('opens the dashboard after a sync, clicks a message and sees its text and sanitised HTML body, without console or CSP errors', async () => {
    d.writeMessage(`box-${kind}`, 'INBOX', newsletter);
    d.writeMessage(`box-${kind}`, 'INBOX', 'From: a@example.org\nSubject: Short note\nDate: Mon, 2 Jan 2023 10:00:00 +0000\n\nJust text\n');
    const bea = await createWebMailUser(s, d, 'bea');
    expect((await (await bea.addAccount('Dovecot', { user: `box-${kind}`, pw: 'box-pw' })).sync()).fetched).toBe(2);

    const { page, problems, close } = await openPage(browser);
    try {
      await page.goto(`${s.url}/login`);
      await page.getByLabel('Username', { exact: true }).fill('bea');
      await page.getByLabel('Password', { exact: true }).fill(WEB_PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL(`${s.url}/`);
      expect(await page.locator('table.messages tbody tr').count()).toBe(2);
      await page.screenshot({ path: `test-artifacts/messages-dashboard-${kind}.png`, fullPage: true });

      await page.getByRole('link', { name: 'Weekly newsletter' }).click();
      await page.waitForURL(/\/messages\/\d+$/);
      expect(await page.locator('h1').textContent()).toBe('Weekly newsletter');
      expect(await page.locator('pre.mail-text').textContent()).toContain('Plain text part: Grüße');
      expect(await page.locator('[data-remote-blocked]').textContent()).toContain('Remote content blocked');
      const frame = page.frameLocator('iframe.mail-html');
      await frame.getByText('Body paragraph').waitFor();
      expect(await frame.locator('h1').evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).color)).toBe('rgb(0, 170, 85)');
      expect(await frame.locator('.mh-blocked').textContent()).toBe('[image blocked: pixel]');
      expect(await page.title()).toBe('Weekly newsletter · Mail Helper');
      await page.screenshot({ path: `test-artifacts/messages-detail-${kind}.png`, fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  });
});
