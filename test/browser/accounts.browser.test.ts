import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openPage, serveTestApp, type ServedApp } from '../fixtures/browser.js';
import { startDovecot, type Dovecot } from '../fixtures/dovecot.js';
import { storeKinds } from '../fixtures/stores.js';

const kinds = await storeKinds();
let browser: Browser;
let dovecot: Dovecot;

beforeAll(async () => {
  [browser, dovecot] = await Promise.all([launchBrowser(), startDovecot()]);
  dovecot.addUser('bea', 'bea-imap-password');
});
afterAll(async () => {
  await browser?.close();
  await dovecot?.stop();
});

describe.each(kinds)('in Chromium on %s', (kind) => {
  let s: ServedApp;
  beforeAll(async () => {
    s = await serveTestApp(kind);
  });
  afterAll(async () => s?.cleanup());

  it('registers, logs out and in, adds an account, tests the connection and picks folders', async () => {
    const { page, problems, close } = await openPage(browser);
    try {
      await page.goto(`${s.url}/register`);
      await expect(page.getByText('your account will be the administrator')).toBeTruthy();
      await page.getByLabel('Username', { exact: true }).fill('bea');
      await page.getByLabel('Password', { exact: true }).fill('bea web password');
      await page.getByLabel('Repeat password').fill('bea web password');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(`${s.url}/`);
      expect(await page.locator('.flash').textContent()).toContain('Welcome, bea! You are the administrator');
      // The stylesheet is served locally and applied (CSP allows 'self' only).
      expect(await page.locator('header').evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).display)).toBe('flex');

      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL(/\/login\?reason=logged_out/);
      expect(await page.getByRole('alert').textContent()).toContain('You have been logged out.');
      await page.getByLabel('Username', { exact: true }).fill('bea');
      await page.getByLabel('Password', { exact: true }).fill('wrong password');
      await page.getByRole('button', { name: 'Log in' }).click();
      expect(await page.getByRole('alert').textContent()).toContain('Wrong username or password.');
      await page.getByLabel('Password', { exact: true }).fill('bea web password');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL(`${s.url}/`);

      await page.getByRole('link', { name: 'Accounts', exact: true }).click();
      await page.getByRole('link', { name: 'Add mail account' }).click();
      await page.getByLabel('Display name').fill('Dovecot ü');
      await page.getByLabel('IMAP server').fill('127.0.0.1');
      await page.getByLabel('Security').selectOption('none');
      await page.getByLabel('Port').fill(String(dovecot.port));
      await page.getByLabel('Username', { exact: true }).fill('bea');
      await page.getByLabel('Password', { exact: true }).fill('bea-imap-password');
      await page.getByRole('button', { name: 'Add account' }).click();
      // "None" without the confirmation: the form comes back with the message and the input kept.
      expect(await page.locator('.errors').textContent()).toContain('sends your password and mail unencrypted');
      expect(await page.getByLabel('IMAP server').inputValue()).toBe('127.0.0.1');
      expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe('');
      await page.getByLabel('I understand that "None" sends my password and mail unencrypted').check();
      await page.getByLabel('Password', { exact: true }).fill('bea-imap-password');
      await page.getByRole('button', { name: 'Add account' }).click();
      await page.waitForURL(/\/settings\/accounts\/\d+\?added=1/);
      expect(await page.locator('h1').textContent()).toBe('Edit Dovecot ü');

      await page.getByRole('button', { name: 'Test connection' }).click();
      expect(await page.locator('[data-test-result]').getAttribute('data-test-result')).toBe('ok');
      expect(await page.locator('.ok').textContent()).toMatch(/Connection OK: logged in and found \d+ folder/);
      await page.getByLabel('Include INBOX').check();
      await page.getByRole('button', { name: 'Save folder selection' }).click();
      expect(await page.locator('main').textContent()).toMatch(/Folders:\s*only\s*INBOX/);

      await page.getByRole('link', { name: 'Accounts', exact: true }).click();
      const row = page.locator('tbody tr', { hasText: 'Dovecot ü' });
      expect(await row.locator('[data-sync-account]').count()).toBe(1);
      expect(await page.locator('[data-sync-all]').count()).toBe(1);
      // Readable on a phone: at 375 px nothing forces sideways scrolling of the page.
      await page.setViewportSize({ width: 375, height: 740 });
      for (const path of ['/settings/accounts', '/settings/accounts/new']) {
        await page.goto(`${s.url}${path}`);
        expect(await page.locator('html').evaluate((el) => el.scrollWidth)).toBeLessThanOrEqual(375);
      }
      // The wrong password (401) and the refused form (400) were intended; nothing else may fail (CSP, 404s, script errors).
      expect(problems.filter((p) => !/status of (400|401)/.test(p))).toEqual([]);
    } finally {
      await close();
    }
  });
});
