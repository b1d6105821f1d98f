import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeFingerprint, testConnection } from '../../../src/accounts/imap-connect.js';
import { freePort, startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { storeKinds } from '../../fixtures/stores.js';
import { createTestApp, type TestApp, type WebClient } from '../../fixtures/web.js';

const kinds = await storeKinds();

function certFingerprint(d: Dovecot): string {
  const der = execFileSync('openssl', ['x509', '-in', d.certPem!, '-outform', 'DER']);
  return createHash('sha256').update(der).digest('hex');
}
const TIMEOUT = 1500;
let dovecot: Dovecot;
// Wrong passwords go to their own instance: after a failed login Dovecot slows down every later login
// from the same IP (auth penalty), which would stretch the other tests.
let badAuth: Dovecot;
let fingerprint: string;
let stall: Server;
const stalled: Socket[] = [];

beforeAll(async () => {
  dovecot = await startDovecot({ tls: true });
  dovecot.addUser('tess', 'tess-imap-pw');
  // The fixture's client() lets ImapFlow upgrade to STARTTLS, which fails on the self-signed certificate here.
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: dovecot.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: 'tess', pass: 'tess-imap-pw' },
    logger: false,
  });
  await c.connect();
  await c.mailboxCreate('Archive/2024');
  await c.mailboxCreate('Work');
  await c.logout();
  fingerprint = certFingerprint(dovecot);
  badAuth = await startDovecot();
  badAuth.addUser('tess', 'tess-imap-pw');
  // Accepts connections and never says a word: the "blackholed server" case.
  stall = createServer((s) => stalled.push(s));
  await new Promise<void>((r) => stall.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  for (const s of stalled) s.destroy();
  stall?.close();
  await dovecot?.stop();
  await badAuth?.stop();
});

const plain = () => ({ host: '127.0.0.1', port: dovecot.port, security: 'none' as const, tlsFingerprint: null });
const creds = { username: 'tess', password: 'tess-imap-pw' };

describe('Test connection reports each failure distinctly', () => {
  it('succeeds and lists the real folders', async () => {
    const r = await testConnection(plain(), creds, TIMEOUT);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const paths = r.folders.map((f) => f.path);
    expect(paths[0]).toBe('INBOX');
    expect(paths).toEqual(expect.arrayContaining(['Archive', 'Archive/2024', 'Work']));
    expect(r.folders.find((f) => f.path === 'INBOX')?.specialUse).toBe('\\Inbox');
  });

  it('closed port → refused', async () => {
    const port = await freePort();
    const r = await testConnection({ ...plain(), port }, creds, TIMEOUT);
    expect(r).toMatchObject({ ok: false, kind: 'refused', message: expect.stringContaining(`127.0.0.1:${port}`) });
  });

  it('a server that accepts and never answers → timeout, within the limit', async () => {
    const port = (stall.address() as { port: number }).port;
    const t0 = Date.now();
    const r = await testConnection({ ...plain(), port }, creds, TIMEOUT);
    expect(r).toMatchObject({ ok: false, kind: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(TIMEOUT + 1500);
  });

  it('a host name that does not resolve → dns', async () => {
    const r = await testConnection({ ...plain(), host: 'nonexistent.invalid' }, creds, TIMEOUT);
    expect(r).toMatchObject({ ok: false, kind: 'dns', message: expect.stringContaining('"nonexistent.invalid" could not be found') });
  });

  it('self-signed TLS → tls-certificate with the certificate fingerprint; trusting it connects (TLS and STARTTLS)', async () => {
    const tls = { host: '127.0.0.1', port: dovecot.tlsPort!, security: 'tls' as const, tlsFingerprint: null };
    const r = await testConnection(tls, creds, TIMEOUT);
    expect(r).toMatchObject({ ok: false, kind: 'tls-certificate' });
    if (r.ok) return;
    expect(r.certificate?.fingerprint).toBe(fingerprint);
    const pinned = await testConnection({ ...tls, tlsFingerprint: r.certificate!.fingerprint }, creds, TIMEOUT);
    expect(pinned.ok).toBe(true);
    const starttls = { host: '127.0.0.1', port: dovecot.port, security: 'starttls' as const, tlsFingerprint: null };
    expect(await testConnection(starttls, creds, TIMEOUT)).toMatchObject({ ok: false, kind: 'tls-certificate' });
    expect((await testConnection({ ...starttls, tlsFingerprint: fingerprint }, creds, TIMEOUT)).ok).toBe(true);
  });

  it('a pinned fingerprint that does not match is refused before any login', async () => {
    const other = normalizeFingerprint('AB:'.repeat(31) + 'AB');
    const r = await testConnection({ host: '127.0.0.1', port: dovecot.tlsPort!, security: 'tls', tlsFingerprint: other }, creds, TIMEOUT);
    expect(r).toMatchObject({ ok: false, kind: 'tls-certificate', message: expect.stringContaining('different TLS certificate') });
  });

  it('plain IMAP spoken to a TLS port → tls (handshake), not a crash', async () => {
    const r = await testConnection({ host: '127.0.0.1', port: dovecot.port, security: 'tls', tlsFingerprint: null }, creds, TIMEOUT);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(['tls', 'timeout']).toContain(r.kind);
  });
});

describe.each(kinds)('Test connection in the web UI on %s', (kind) => {
  let t: TestApp;
  let c: WebClient;
  beforeAll(async () => {
    t = await createTestApp(kind, { IMAP_TIMEOUT_MS: '8000' });
    c = t.client();
    await c.register('tess', 'correct horse battery');
  });
  afterAll(async () => t?.cleanup());

  it('offers to trust the self-signed certificate, then lists folders and saves the picked include/exclude filters', async () => {
    await c.get('/settings/accounts/new');
    const add = await c.post('/settings/accounts', {
      name: 'Dovecot',
      host: '127.0.0.1',
      port: String(dovecot.tlsPort),
      security: 'tls',
      username: 'tess',
      password: 'tess-imap-pw',
      enabled: 'on',
    });
    const id = Number(/\/settings\/accounts\/(\d+)/.exec(add.headers.location as string)![1]);
    const first = await c.post(`/settings/accounts/${id}/test`);
    expect(first.body).toContain('data-test-result="tls-certificate"');
    expect(first.body).toContain('Trust this certificate for this account');
    const shown = /name="fingerprint" value="([0-9a-f]{64})"/.exec(first.body)![1];
    expect(shown).toBe(fingerprint);
    const trusted = await c.post(`/settings/accounts/${id}/trust-certificate`, { fingerprint: shown });
    expect(trusted.body).toContain('data-test-result="ok"');
    expect(trusted.body).toMatch(/name="include"\s+value="INBOX"/);
    const row = await t.ts.store.db.selectFrom('mail_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.tls_fingerprint).toBe(fingerprint);
    const saved = await c.post(`/settings/accounts/${id}/folders`, { include: ['INBOX', 'Work'], exclude: 'Trash' });
    expect(saved.statusCode).toBe(303);
    const after = await t.ts.store.db.selectFrom('mail_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(JSON.parse(after.include_folders)).toEqual(['INBOX', 'Work']);
    expect(JSON.parse(after.exclude_folders)).toEqual(['Trash']);
    const picker = await c.get(`/settings/accounts/${id}/folders`);
    expect(picker.body).toMatch(/name="include"\s+value="INBOX"[^>]*checked/);
    const api = JSON.parse((await c.postJson(`/api/accounts/${id}/test`, {})).body);
    expect(api).toMatchObject({ ok: true });
  });

  // Once only: Dovecot's auth penalty makes every further failed login from this IP slower (2 s, 6 s, …).
  it.runIf(kind === kinds[0])('a wrong password is reported as an authentication failure (page and JSON)', async () => {
    await c.get('/settings/accounts/new');
    const add = await c.post('/settings/accounts', {
      name: 'Wrong',
      host: '127.0.0.1',
      port: String(badAuth.port),
      security: 'none',
      allow_insecure: 'on',
      username: 'tess',
      password: 'not-the-password',
      enabled: 'on',
    });
    const id = Number(/\/settings\/accounts\/(\d+)/.exec(add.headers.location as string)![1]);
    const r = await c.post(`/settings/accounts/${id}/test`);
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('data-test-result="auth"');
    expect(r.body).toContain('Authentication failed');
    expect(r.body).not.toContain('not-the-password');
    expect(r.body).toContain('Authentication failed: the server rejected the username or password.');
  });
});
