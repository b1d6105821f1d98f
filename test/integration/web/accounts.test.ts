import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeKinds } from '../../fixtures/stores.js';
import { createTestApp, type TestApp, type WebClient } from '../../fixtures/web.js';

const kinds = await storeKinds();
const PW = 'correct horse battery';
const IMAP_USER = 'imap-user-7f3a9c@example.test';
const IMAP_PASS = 'imap-pass-Q8z!e2WvR';

const valid = (extra: Record<string, string> = {}) => ({
  name: 'Work mail',
  host: 'imap.example.test',
  security: 'tls',
  port: '',
  username: IMAP_USER,
  password: IMAP_PASS,
  since_date: '',
  max_emails: '',
  enabled: 'on',
  ...extra,
});

async function addAccount(c: WebClient, extra: Record<string, string> = {}): Promise<number> {
  await c.get('/settings/accounts/new');
  const r = await c.post('/settings/accounts', valid(extra));
  expect(r.statusCode).toBe(303);
  return Number(/\/settings\/accounts\/(\d+)/.exec(r.headers.location as string)![1]);
}

describe.each(kinds)('mail accounts on %s', (kind) => {
  let t: TestApp;
  let alice: WebClient;
  let mallory: WebClient;
  beforeAll(async () => {
    t = await createTestApp(kind, { REGISTRATION_OPEN: 'true' });
    alice = t.client();
    await alice.register('alice', PW);
    mallory = t.client();
    await mallory.register('mallory', PW);
  });
  afterAll(async () => t?.cleanup());

  it('validates every field with a message naming it, keeps the input except the password', async () => {
    await alice.get('/settings/accounts/new');
    const r = await alice.post('/settings/accounts', {
      name: '',
      host: 'bad host!',
      security: 'none',
      port: '70000',
      username: '',
      password: 'typed-secret-1',
      since_date: '2024-13-45',
      max_emails: '5000',
    });
    expect(r.statusCode).toBe(400);
    for (const msg of [
      'name: is required',
      'host: must be a host name',
      'port: must be a whole number from 1 to 65535',
      'username: is required',
      'since date: must be a date as YYYY-MM-DD',
      'max emails: must be a whole number from 1 to 1000',
      'allow insecure: security &quot;none&quot; sends your password',
    ]) {
      expect(r.body).toContain(msg);
    }
    expect(r.body).toContain('value="bad host!"');
    expect(r.body).toContain('value="5000"');
    expect(r.body).not.toContain('typed-secret-1');
    expect(r.body).toMatch(/<label for="f-host">IMAP server<\/label>/);
  });

  it('adds an account with defaults (port 993, max 50), lists it with status, last sync and Sync buttons', async () => {
    const id = await addAccount(alice, { name: '<b>Work</b> & "co"' });
    const row = await t.ts.store.db.selectFrom('mail_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ port: 993, max_emails: 50, security: 'tls', enabled: 1, needs_password: 0 });
    const list = await alice.get('/settings/accounts');
    expect(list.body).toContain('&lt;b&gt;Work&lt;/b&gt; &amp; &quot;co&quot;');
    expect(list.body).not.toContain('<b>Work</b>');
    expect(list.body).toContain('Not synced yet');
    expect(list.body).toContain('never');
    expect(list.body).toMatch(
      new RegExp(
        `<form method="post" action="/mail-account/${id}/fetch" class="inline" data-sync-account="${id}">\\s*<input type="hidden" name="_csrf" value="${alice.csrf}"`,
      ),
    );
    expect(list.body).toMatch(
      /<form method="post" action="\/mail-accounts\/fetch-all" class="inline" data-sync-all>\s*<input type="hidden" name="_csrf"/,
    );
    expect(list.body).not.toContain(IMAP_PASS);
  });

  it('security "none" is accepted only with the explicit confirmation; max_emails 1000 is the maximum', async () => {
    const id = await addAccount(alice, { security: 'none', allow_insecure: 'on', max_emails: '1000', name: 'Plain' });
    const row = await t.ts.store.db.selectFrom('mail_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ security: 'none', port: 143, max_emails: 1000 });
  });

  it('editing keeps the stored credentials when the fields stay empty', async () => {
    const id = await addAccount(alice, { name: 'Edit me' });
    const before = await t.ts.store.db.selectFrom('mail_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const page = await alice.get(`/settings/accounts/${id}`);
    expect(page.body).toContain('Leave empty to keep the stored value.');
    expect(page.body).not.toContain(IMAP_USER);
    const r = await alice.post(`/settings/accounts/${id}`, {
      ...valid({ name: 'Edited', username: '', password: '', unseen_only: 'on', since_date: '2024-02-29' }),
    });
    expect(r.statusCode).toBe(303);
    const after = await t.ts.store.db.selectFrom('mail_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(after).toMatchObject({ name: 'Edited', unseen_only: 1, since_date: '2024-02-29' });
    expect(Buffer.compare(after.password_enc, before.password_enc)).toBe(0);
    const api = JSON.parse((await alice.get(`/api/accounts/${id}`)).body);
    expect(api).toMatchObject({ id, name: 'Edited', max_emails: 50, unseen_only: true, needs_password: false });
    expect(JSON.stringify(api)).not.toContain(IMAP_USER);
  });

  it("every account route answers 404 for another user's account, and changes nothing", async () => {
    const id = await addAccount(alice, { name: 'Private' });
    await mallory.get('/settings/accounts');
    const attempts = [
      () => mallory.get(`/settings/accounts/${id}`),
      () => mallory.post(`/settings/accounts/${id}`, valid({ name: 'pwned' })),
      () => mallory.get(`/settings/accounts/${id}/delete`),
      () => mallory.post(`/settings/accounts/${id}/delete`),
      () => mallory.post(`/settings/accounts/${id}/test`),
      () => mallory.get(`/settings/accounts/${id}/folders`),
      () => mallory.post(`/settings/accounts/${id}/folders`, { include: 'INBOX' }),
      () => mallory.post(`/settings/accounts/${id}/trust-certificate`, { fingerprint: 'ab'.repeat(32) }),
      () => mallory.get(`/api/accounts/${id}`),
      () => mallory.postJson(`/api/accounts/${id}/test`, {}),
    ];
    for (const attempt of attempts) expect((await attempt()).statusCode).toBe(404);
    expect(JSON.parse((await mallory.get('/api/accounts')).body).accounts).toEqual([]);
    const row = await t.ts.store.db.selectFrom('mail_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.name).toBe('Private');
    expect(row.include_folders).toBe('[]');
    expect(row.tls_fingerprint).toBeNull();
  });

  it('delete asks for confirmation, then removes the account', async () => {
    const id = await addAccount(alice, { name: 'Doomed' });
    const confirm = await alice.get(`/settings/accounts/${id}/delete`);
    expect(confirm.body).toContain('Yes, delete this account');
    expect((await alice.post(`/settings/accounts/${id}/delete`)).statusCode).toBe(303);
    expect(await t.ts.store.db.selectFrom('mail_accounts').select('id').where('id', '=', id).executeTakeFirst()).toBeUndefined();
    expect((await alice.get(`/settings/accounts/${id}`)).statusCode).toBe(404);
  });

  it('tampered ciphertext gives a clear "cannot decrypt" report, not garbage or a 500', async () => {
    const id = await addAccount(alice, { name: 'Tampered' });
    const row = await t.ts.store.db.selectFrom('mail_accounts').select('password_enc').where('id', '=', id).executeTakeFirstOrThrow();
    const bad = Buffer.from(row.password_enc);
    bad[bad.length - 1] ^= 0x01;
    await t.ts.store.db.updateTable('mail_accounts').set({ password_enc: bad }).where('id', '=', id).execute();
    const r = await alice.post(`/settings/accounts/${id}/test`);
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('data-test-result="credentials"');
    expect(r.body).toContain(
      'Cannot decrypt the credentials of mail account &quot;Tampered&quot;: the key is wrong or the stored data was changed.',
    );
    const api = await alice.postJson(`/api/accounts/${id}/test`, {});
    expect(JSON.parse(api.body)).toMatchObject({ ok: false, kind: 'credentials' });
  });

  it('Test connection is throttled per user (20 a minute)', async () => {
    const c = t.client();
    await c.register('tester', PW);
    const id = await addAccount(c, { name: 'Throttled' });
    await t.ts.store.db.updateTable('mail_accounts').set({ needs_password: 1 }).where('id', '=', id).execute();
    const kinds: string[] = [];
    for (let i = 0; i < 21; i++) kinds.push(JSON.parse((await c.postJson(`/api/accounts/${id}/test`, {})).body).kind);
    expect(kinds.slice(0, 20).every((k) => k === 'credentials')).toBe(true);
    expect(kinds[20]).toBe('rate-limited');
  });

  it('the whole database holds neither the IMAP username nor the password', async () => {
    await addAccount(alice, { name: 'Scan' });
    const needles = [IMAP_USER, IMAP_PASS, 'imap-user-7f3a9c', 'Q8z!e2WvR'];
    let haystack: string;
    if (kind === 'sqlite') {
      const path = t.ts.config.store.kind === 'sqlite' ? t.ts.config.store.path : '';
      const files = [path, `${path}-wal`, `${path}-shm`].filter((f) => existsSync(f));
      expect(files.length).toBeGreaterThanOrEqual(2);
      const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
      expect(bytes.length).toBeGreaterThan(10_000);
      haystack = bytes.toString('latin1') + bytes.toString('utf16le');
    } else {
      const url = t.ts.config.store.kind === 'postgres' ? t.ts.config.store.url : '';
      haystack = execFileSync('pg_dump', ['--data-only', '--inserts', url], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      expect(haystack).toContain('mail_accounts');
      // bytea appears hex-encoded in a dump: search the hex form too.
      for (const n of needles) expect(haystack).not.toContain(Buffer.from(n).toString('hex'));
    }
    expect(haystack).toContain('Scan');
    for (const n of needles) expect(haystack).not.toContain(n);
  });
});
