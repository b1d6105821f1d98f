import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeKinds } from '../../fixtures/stores.js';
import { createTestApp, type TestApp } from '../../fixtures/web.js';
import { findAccountForUser, decryptCredentials } from '../../../src/accounts/account-repo.js';

const kinds = await storeKinds();
const PW = 'correct horse battery';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(kinds)('users and sessions on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind, { LOGIN_MAX_FAILURES: '3', LOGIN_LOCK_MINUTES: '0.01' });
    const admin = t.client();
    expect((await admin.register('admin', PW)).statusCode).toBe(303);
  });
  afterAll(async () => t?.cleanup());

  it('the first user became admin; afterwards registration is closed until the admin opens it', async () => {
    const row = await t.ts.store.db.selectFrom('users').select(['is_admin']).where('username', '=', 'admin').executeTakeFirstOrThrow();
    expect(row.is_admin).toBe(1);
    const stranger = t.client();
    const page = await stranger.get('/register');
    expect(page.statusCode).toBe(403);
    expect(page.body).toContain('Registration is closed');
    expect((await stranger.post('/register', { username: 'eve', password: PW, password_confirm: PW })).statusCode).toBe(403);

    const admin = t.client();
    await admin.login('admin', PW);
    expect((await admin.post('/admin/registration', { open: '1' })).statusCode).toBe(303);
    const r = await stranger.register('bob', PW);
    expect(r.statusCode).toBe(303);
    const bob = await t.ts.store.db.selectFrom('users').select(['is_admin']).where('username', '=', 'bob').executeTakeFirstOrThrow();
    expect(bob.is_admin).toBe(0);
    await admin.post('/admin/registration', { open: '0' });
    expect((await t.client().get('/register')).statusCode).toBe(403);
  });

  it('registration validates every field and keeps the username but never the password', async () => {
    const admin = t.client();
    await admin.login('admin', PW);
    await admin.post('/admin/registration', { open: '1' });
    const c = t.client();
    await c.get('/register');
    const r = await c.post('/register', { username: 'x<y>', password: 'short', password_confirm: 'other' });
    expect(r.statusCode).toBe(400);
    expect(r.body).toContain('value="x&lt;y&gt;"');
    expect(r.body).not.toContain('value="short"');
    expect(r.body).toMatch(/password confirm: does not match/);
    const dup = await c.post('/register', { username: 'admin', password: PW, password_confirm: PW });
    expect(dup.statusCode).toBe(400);
    expect(dup.body).toContain('is already taken');
    await admin.post('/admin/registration', { open: '0' });
  });

  it('logs in, shows the dashboard, logs out; the page is UTF-8 HTML with a strict CSP and helmet headers', async () => {
    const c = t.client();
    expect((await c.get('/')).headers.location).toBe('/login?reason=login');
    const r = await c.login('admin', PW);
    expect(r.statusCode).toBe(303);
    const cookie = r.headers['set-cookie'];
    expect(String(cookie)).toMatch(/mh_session=[^;]+;.*HttpOnly/);
    expect(String(cookie)).toMatch(/SameSite=Lax/);
    const home = await c.get('/');
    expect(home.statusCode).toBe(200);
    expect(home.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(home.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(home.headers['x-content-type-options']).toBe('nosniff');
    expect(home.body).toContain('<meta name="csrf-token"');
    expect(home.body).toContain('href="/admin/users"');
    const out = await c.post('/logout');
    expect(out.headers.location).toBe('/login?reason=logged_out');
    const after = await c.get('/');
    expect(after.headers.location).toBe('/login?reason=login');
    expect((await c.get('/login?reason=logged_out')).body).toContain('You have been logged out.');
  });

  it('a failed login looks the same whether or not the user exists', async () => {
    const c = t.client();
    await c.get('/login');
    const known = await c.post('/login', { username: 'admin', password: 'wrong password!' });
    const unknown = await c.post('/login', { username: 'nobody-here', password: 'wrong password!' });
    expect(known.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    const strip = (b: string) => b.replace(/value="[^"]*"/g, '');
    expect(strip(known.body)).toBe(strip(unknown.body).replace('nobody-here', 'admin'));
    expect(known.body).toContain('Wrong username or password.');
    // The counter is reset by a good login, so the lockout test starts from zero.
    await t.client().login('admin', PW);
  });

  it('locks after LOGIN_MAX_FAILURES failures for LOGIN_LOCK_MINUTES, also with the right password; unknown users "lock" alike', async () => {
    await t.client().login('admin', PW);
    const msgs: number[] = [];
    for (let i = 0; i < 3; i++) msgs.push((await t.client().login('admin', 'bad password ' + i)).statusCode);
    expect(msgs).toEqual([401, 401, 429]);
    const locked = await t.client().login('admin', PW);
    expect(locked.statusCode).toBe(429);
    expect(locked.body).toContain('this account is locked');
    const ghost: number[] = [];
    for (let i = 0; i < 4; i++) ghost.push((await t.client().login('ghost', 'bad password ' + i)).statusCode);
    expect(ghost).toEqual([401, 401, 429, 429]);
    await sleep(700);
    expect((await t.client().login('admin', PW)).statusCode).toBe(303);
  });

  it('rate-limits login attempts to 5 a minute per IP', async () => {
    const c = t.client('192.0.2.77');
    await c.get('/login');
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await c.post('/login', { username: `user${i}`, password: 'whatever-pass' })).statusCode);
    expect(codes.slice(0, 5).every((s) => s === 401 || s === 429)).toBe(true);
    expect(codes[5]).toBe(429);
    const last = await c.post('/login', { username: 'admin', password: PW });
    expect(last.body).toContain('Too many login attempts');
    expect(last.headers['retry-after']).toBeDefined();
  });

  it('CSRF: a missing or wrong token is refused with 403 (forms and JSON); the right one passes', async () => {
    const c = t.client();
    await c.login('admin', PW);
    expect((await c.post('/admin/registration', { open: '0', _csrf: null })).statusCode).toBe(403);
    expect((await c.post('/admin/registration', { open: '0', _csrf: 'forged' })).statusCode).toBe(403);
    const other = t.client();
    await other.login('admin', PW);
    expect((await c.post('/admin/registration', { open: '0', _csrf: other.csrf })).statusCode).toBe(403);
    const json = await c.postJson('/api/accounts/1/test', {}, { 'x-csrf-token': 'nope' });
    expect(json.statusCode).toBe(403);
    expect(JSON.parse(json.body).error).toBe('csrf');
    const anon = t.client();
    expect((await anon.post('/login', { username: 'admin', password: PW, _csrf: null })).statusCode).toBe(403);
    expect((await c.post('/admin/registration', { open: '0' })).statusCode).toBe(303);
    // An unknown route stays a 404 even without a token.
    expect((await c.post('/no-such-route', { _csrf: null })).statusCode).toBe(404);
  });

  it('requireUser answers API requests with 401 JSON; admin pages are 404 for non-admins', async () => {
    const anon = t.client();
    const api = await anon.get('/api/accounts');
    expect(api.statusCode).toBe(401);
    expect(JSON.parse(api.body)).toMatchObject({ error: 'unauthenticated' });
    const bob = t.client();
    await bob.login('bob', PW);
    expect((await bob.get('/admin/users')).statusCode).toBe(404);
    expect((await bob.post('/admin/registration', { open: '1' })).statusCode).toBe(404);
  });

  it('invalid input gets a 400 naming the bad fields; oversized bodies are refused', async () => {
    const c = t.client();
    await c.login('bob', PW);
    const r = await c.post('/settings/password', { current_password: '', new_password: 'x', new_password_confirm: 'y' });
    expect(r.statusCode).toBe(400);
    expect(r.body).toMatch(/current password: is required/);
    const badId = await c.get('/api/accounts/abc');
    expect(badId.statusCode).toBe(400);
    expect(JSON.parse(badId.body).fields.id).toMatch(/positive whole number/);
    const big = await c.post('/settings/password', { current_password: 'x'.repeat(70_000) });
    expect(big.statusCode).toBe(413);
  });

  it('sessions live in the store: a new app on the same store still knows the session', async () => {
    const c = t.client();
    await c.login('bob', PW);
    const { buildApp } = await import('../../../src/web/app.js');
    const { createLogger } = await import('../../../src/observability/logger.js');
    const app2 = await buildApp({
      config: t.ts.config,
      store: t.ts.store,
      logger: createLogger({ log: { level: 'silent', format: 'json' } }),
      readiness: [],
    });
    const r = await app2.inject({ method: 'GET', url: '/', headers: { cookie: `mh_session=${c.cookies.get('mh_session')}` } });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('Signed in as <strong>bob</strong>');
    await app2.close();
  });

  it('the DEK in a session is wrapped: neither the session row nor a forged cookie reveals it', async () => {
    const c = t.client();
    await c.login('bob', PW);
    const rows = await t.ts.store.db.selectFrom('sessions').selectAll().execute();
    for (const row of rows) expect(row.id).not.toBe(c.cookies.get('mh_session'));
    const forged = t.client();
    forged.cookies.set('mh_session', 'A'.repeat(43));
    const r = await forged.get('/settings/accounts');
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toContain('/login?reason=invalid');
    expect((await forged.get(r.headers.location as string)).body).toContain('Your session is no longer valid');
  });

  it('a session whose wrapped key no longer fits sends the person to the login page (never a 500)', async () => {
    const c = t.client();
    await c.login('bob', PW);
    await c.get('/settings/accounts/new');
    const id = (await t.ts.store.db.selectFrom('sessions').select('id').orderBy('created_at', 'desc').limit(1).executeTakeFirstOrThrow())
      .id;
    await t.ts.store.db
      .updateTable('sessions')
      .set({ wrapped_dek: Buffer.from('not a wrapped key at all, just bytes') })
      .where('id', '=', id)
      .execute();
    const r = await c.post('/settings/accounts', { name: 'x', host: 'h.example', security: 'tls', username: 'u', password: 'p' });
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe('/login?reason=key');
    expect((await c.get('/login?reason=key')).body).toContain('Your session could not unlock your encryption key');
    expect(await t.ts.store.db.selectFrom('sessions').select('id').where('id', '=', id).executeTakeFirst()).toBeUndefined();
  });

  it('password change rewraps the key: accounts stay usable, the old password stops working, other sessions end', async () => {
    const c = t.client();
    await c.login('bob', PW);
    const second = t.client();
    await second.login('bob', PW);
    await c.post('/settings/accounts', {
      name: 'Box',
      host: 'imap.example.org',
      security: 'tls',
      username: 'bob@example.org',
      password: 'imap-secret-1',
      enabled: 'on',
    });
    const wrongOld = await c.post('/settings/password', {
      current_password: 'not it at all',
      new_password: 'brand new password',
      new_password_confirm: 'brand new password',
    });
    expect(wrongOld.statusCode).toBe(400);
    expect(wrongOld.body).toContain('current password: is not correct');
    const ok = await c.post('/settings/password', {
      current_password: PW,
      new_password: 'brand new password',
      new_password_confirm: 'brand new password',
    });
    expect(ok.statusCode).toBe(303);
    expect((await second.get('/')).headers.location).toBe('/login?reason=invalid');
    expect((await t.client().login('bob', PW)).statusCode).toBe(401);
    const fresh = t.client();
    expect((await fresh.login('bob', 'brand new password')).statusCode).toBe(303);
    const bob = await t.ts.store.db.selectFrom('users').select('id').where('username', '=', 'bob').executeTakeFirstOrThrow();
    const acc = await t.ts.store.db.selectFrom('mail_accounts').selectAll().where('user_id', '=', bob.id).executeTakeFirstOrThrow();
    const { unlockKeySlot } = await import('../../../src/crypto/keys.js');
    const user = await t.ts.store.db.selectFrom('users').selectAll().where('id', '=', bob.id).executeTakeFirstOrThrow();
    const dek = await unlockKeySlot('brand new password', user.kek_salt, user.wrapped_dek, t.ts.config.auth.argon2);
    const row = await findAccountForUser(t.ts.store.db, Number(bob.id), Number(acc.id));
    expect(decryptCredentials(dek, row!)).toEqual({ username: 'bob@example.org', password: 'imap-secret-1' });
    await fresh.post('/settings/password', { current_password: 'brand new password', new_password: PW, new_password_confirm: PW });
  });

  it('admin reset creates a new key, says the old one is lost, ends sessions and marks accounts "re-enter password"', async () => {
    const bobC = t.client();
    await bobC.login('bob', PW);
    const admin = t.client();
    await admin.login('admin', PW);
    const bob = await t.ts.store.db.selectFrom('users').selectAll().where('username', '=', 'bob').executeTakeFirstOrThrow();
    const noConfirm = await admin.post(`/admin/users/${bob.id}/reset-password`, { password: 'reset password 1' });
    expect(noConfirm.statusCode).toBe(400);
    expect(noConfirm.body).toContain('must be ticked');
    const r = await admin.post(`/admin/users/${bob.id}/reset-password`, { password: 'reset password 1', confirm: 'on' });
    expect(r.statusCode).toBe(303);
    const page = await admin.get('/admin/users');
    expect(page.body).toContain('The old key cannot be recovered without the old password');
    const after = await t.ts.store.db.selectFrom('users').selectAll().where('id', '=', bob.id).executeTakeFirstOrThrow();
    expect(after.key_id).not.toBe(bob.key_id);
    expect((await bobC.get('/')).headers.location).toBe('/login?reason=invalid');
    const accounts = await t.ts.store.db.selectFrom('mail_accounts').selectAll().where('user_id', '=', bob.id).execute();
    expect(accounts.length).toBeGreaterThan(0);
    expect(accounts.every((a) => a.needs_password === 1)).toBe(true);
    const { unlockKeySlot } = await import('../../../src/crypto/keys.js');
    const newDek = await unlockKeySlot('reset password 1', after.kek_salt, after.wrapped_dek, t.ts.config.auth.argon2);
    expect(() => decryptCredentials(newDek, { ...accounts[0], needs_password: 0 })).toThrow(
      /Cannot decrypt the credentials of mail account "Box"/,
    );
    expect(() => decryptCredentials(newDek, accounts[0])).toThrow(/must be re-entered/);
    // The user re-enters the credentials; the account is usable again.
    const fresh = t.client();
    expect((await fresh.login('bob', 'reset password 1')).statusCode).toBe(303);
    const edit = await fresh.get(`/settings/accounts/${accounts[0].id}`);
    expect(edit.body).toContain('enter this account');
    const missing = await fresh.post(`/settings/accounts/${accounts[0].id}`, {
      name: 'Box',
      host: 'imap.example.org',
      security: 'tls',
      enabled: 'on',
    });
    expect(missing.statusCode).toBe(400);
    const saved = await fresh.post(`/settings/accounts/${accounts[0].id}`, {
      name: 'Box',
      host: 'imap.example.org',
      security: 'tls',
      username: 'bob@example.org',
      password: 'imap-secret-2',
      enabled: 'on',
    });
    expect(saved.statusCode).toBe(303);
    const row = await findAccountForUser(t.ts.store.db, Number(bob.id), Number(accounts[0].id));
    expect(row!.needs_password).toBe(0);
    expect(decryptCredentials(newDek, row!).password).toBe('imap-secret-2');
  });
});

describe.each(kinds)('session timeouts on %s', (kind) => {
  it('an idle session ends after SESSION_IDLE_MINUTES and the login page says why', async () => {
    const t = await createTestApp(kind, { SESSION_IDLE_MINUTES: '0.005' }); // 300 ms
    try {
      const c = t.client();
      await c.register('idler', PW);
      expect((await c.get('/')).statusCode).toBe(200);
      await sleep(450);
      const r = await c.get('/settings/accounts');
      expect(r.statusCode).toBe(303);
      expect(r.headers.location).toBe('/login?reason=idle&next=%2Fsettings%2Faccounts');
      expect((await c.get(r.headers.location as string)).body).toContain('You were logged out after a period without activity');
      // A form from the dead session is not a 500 or a bare 403: it goes to the login page too.
      expect((await c.get('/')).statusCode).toBe(303);
    } finally {
      await t.cleanup();
    }
  });

  it('a session ends after SESSION_MAX_HOURS even when active; a stale form post redirects to login', async () => {
    const t = await createTestApp(kind, { SESSION_MAX_HOURS: '0.0001' }); // 360 ms
    try {
      const c = t.client();
      await c.register('busy', PW);
      for (let i = 0; i < 3; i++) {
        expect((await c.get('/')).statusCode).toBe(200);
        await sleep(60);
      }
      await sleep(300);
      const r = await c.post('/settings/accounts', { name: 'x', host: 'h.example', security: 'tls', username: 'u', password: 'p' });
      expect(r.statusCode).toBe(303);
      expect(r.headers.location).toContain('/login?reason=expired');
      const api = await c.get('/api/accounts');
      expect(api.statusCode).toBe(401);
    } finally {
      await t.cleanup();
    }
  });

  it('two simultaneous first registrations make exactly one admin', async () => {
    const t = await createTestApp(kind);
    try {
      const { createUser } = await import('../../../src/users/user-service.js');
      const made = await Promise.all(
        ['one', 'two', 'three'].map((u) => createUser(t.ts.store.db, t.ts.config.auth.argon2, { username: u, password: PW })),
      );
      expect(made.filter((m) => m.user.isAdmin)).toHaveLength(1);
      const admins = await t.ts.store.db.selectFrom('users').select('username').where('is_admin', '=', 1).execute();
      expect(admins).toHaveLength(1);
    } finally {
      await t.cleanup();
    }
  });

  it('REGISTRATION_OPEN=true lets anyone register after the first user', async () => {
    const t = await createTestApp(kind, { REGISTRATION_OPEN: 'true' });
    try {
      expect((await t.client().register('first', PW)).statusCode).toBe(303);
      expect((await t.client().register('second', PW)).statusCode).toBe(303);
    } finally {
      await t.cleanup();
    }
  });
});
