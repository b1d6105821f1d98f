// Settings → Mail accounts: list, add, edit, delete, test connection, trust a certificate, pick folders.
// Every route is scoped to the logged-in user: another user's account answers 404.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppDeps } from '../app.js';
import { requireUser } from '../auth/session.js';
import { folderFilterSchema, parseAccountForm, trustSchema } from '../account-form.js';
import { idParams, parseInput, sendBadRequest, type FieldErrors } from '../forms.js';
import { checkboxField, errorSummary, field } from '../views/form-fields.js';
import { html, type SafeHtml } from '../views/html.js';
import { csrfField, sendPage, type PageContext } from '../views/layout.js';
import {
  createAccount,
  decryptCredentials,
  deleteAccount,
  excludeFolders,
  findAccountForUser,
  includeFolders,
  listAccounts,
  setFolderFilters,
  setTrustedFingerprint,
  updateAccount,
  MAX_EMAILS_DEFAULT,
  MAX_EMAILS_LIMIT,
} from '../../accounts/account-repo.js';
import { formatFingerprint, normalizeFingerprint, testConnection, type ConnectionTestResult } from '../../accounts/imap-connect.js';
import type { MailAccount } from '../../store/schema.js';
import { SyncError } from '../../sync/errors.js';
import { wantsJson } from '../auth/request-kind.js';
import { LoginLimiter } from '../auth/login-limiter.js';

type FormValues = Record<string, string | undefined>;

const TESTS_PER_MINUTE = 20;

function when(ms: number | null): string {
  return ms ? new Date(Number(ms)).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : 'never';
}

function statusText(a: MailAccount): string {
  if (a.needs_password === 1) return 'Password must be re-entered';
  if (a.enabled !== 1) return 'Disabled';
  if (a.last_status) return a.last_status === 'success' ? 'OK' : a.last_status;
  return 'Not synced yet';
}

function rowValues(a: MailAccount): FormValues {
  return {
    name: a.name,
    host: a.host,
    port: String(a.port),
    security: a.security,
    since_date: a.since_date ?? '',
    unseen_only: a.unseen_only === 1 ? 'on' : undefined,
    max_emails: String(a.max_emails),
    enabled: a.enabled === 1 ? 'on' : undefined,
    allow_insecure: a.security === 'none' ? 'on' : undefined,
  };
}

function bodyValues(body: unknown): FormValues {
  const out: FormValues = {};
  if (body && typeof body === 'object') {
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      // Passwords are never echoed back into a form.
      if (typeof v === 'string' && k !== 'password' && k !== '_csrf') out[k] = v;
    }
  }
  return out;
}

function accountForm(ctx: PageContext, o: { action: string; values: FormValues; errors: FieldErrors; account?: MailAccount }): SafeHtml {
  const v = o.values;
  const e = o.errors;
  const editing = o.account !== undefined;
  const needs = o.account?.needs_password === 1;
  const credHint = editing && !needs ? 'Leave empty to keep the stored value.' : undefined;
  const sec = v.security ?? 'tls';
  const opt = (value: string, label: string) => html`<option value="${value}" ${sec === value ? html` selected` : ''}>${label}</option>`;
  return html`${errorSummary(e)}
    ${needs ? html`<p class="notice">Your encryption key was reset by an administrator: enter this account's username and password again.</p>` : ''}
    <form method="post" action="${o.action}" class="card" novalidate>
      ${csrfField(ctx)} ${field({ name: 'name', label: 'Display name', value: v.name, required: true, error: e.name })}
      ${field({ name: 'host', label: 'IMAP server', value: v.host, required: true, error: e.host, hint: 'e.g. imap.example.com', autocomplete: 'off' })}
      <div class="field${e.security ? ' has-error' : ''}">
        <label for="f-security">Security</label>
        <select id="f-security" name="security">
          ${opt('tls', 'TLS (port 993)')}${opt('starttls', 'STARTTLS (port 143)')}${opt('none', 'None — unencrypted')}
        </select>
        ${e.security ? html`<small class="error">Security: ${e.security}</small>` : ''}
      </div>
      ${checkboxField({
        name: 'allow_insecure',
        label: 'I understand that "None" sends my password and mail unencrypted',
        checked: v.allow_insecure === 'on',
        error: e.allow_insecure,
        hint: 'Only needed with security "None". Anyone on the network path can read the password.',
      })}
      ${field({ name: 'port', label: 'Port', type: 'number', value: v.port, error: e.port, hint: 'Empty: 993 for TLS, 143 otherwise.', attrs: html`min="1" max="65535" inputmode="numeric"` })}
      ${field({ name: 'username', label: 'Username', value: v.username, required: !editing || needs, error: e.username, hint: credHint, autocomplete: 'off' })}
      ${field({ name: 'password', label: 'Password', type: 'password', required: !editing || needs, error: e.password, hint: credHint, autocomplete: 'new-password' })}
      ${field({ name: 'since_date', label: 'Only mail since', type: 'date', value: v.since_date, error: e.since_date, hint: 'YYYY-MM-DD; empty: all mail.' })}
      ${checkboxField({ name: 'unseen_only', label: 'Only unread mail', checked: v.unseen_only === 'on', error: e.unseen_only })}
      ${field({
        name: 'max_emails',
        label: 'Max emails per sync',
        type: 'number',
        value: v.max_emails ?? String(MAX_EMAILS_DEFAULT),
        error: e.max_emails,
        hint: `1 to ${MAX_EMAILS_LIMIT}; default ${MAX_EMAILS_DEFAULT}.`,
        attrs: html`min="1" max="${MAX_EMAILS_LIMIT}" inputmode="numeric"`,
      })}
      ${checkboxField({ name: 'enabled', label: 'Enabled (included in "Sync all" and schedules)', checked: v.enabled === 'on', error: e.enabled })}
      <button type="submit">${editing ? 'Save changes' : 'Add account'}</button>
      <a href="/settings/accounts" class="button secondary">Cancel</a>
    </form>`;
}

function syncForm(ctx: PageContext, a: MailAccount): SafeHtml {
  return html`<form method="post" action="/mail-account/${a.id}/fetch" class="inline" data-sync-account="${a.id}">
    ${csrfField(ctx)}<button type="submit" ${a.enabled !== 1 || a.needs_password === 1 ? html` disabled` : ''}>Sync</button>
  </form>`;
}

function folderPicker(ctx: PageContext, a: MailAccount, folders: { path: string; specialUse: string | null }[]): SafeHtml {
  const inc = new Set(includeFolders(a));
  const exc = new Set(excludeFolders(a));
  return html`<h2>Folders to sync</h2>
    <p>
      Tick <strong>Include</strong> to sync only those folders (nothing ticked: all folders); tick <strong>Exclude</strong> to never sync a
      folder.
    </p>
    <form method="post" action="/settings/accounts/${a.id}/folders" class="card">
      ${csrfField(ctx)}
      <table class="folders">
        <thead>
          <tr>
            <th scope="col">Folder</th>
            <th scope="col">Include</th>
            <th scope="col">Exclude</th>
          </tr>
        </thead>
        <tbody>
          ${folders.map(
            (f, i) =>
              html`<tr>
                <th scope="row">${f.path}${f.specialUse ? html` <small>${f.specialUse}</small>` : ''}</th>
                <td>
                  <input
                    type="checkbox"
                    id="inc-${i}"
                    name="include"
                    value="${f.path}"
                    aria-label="Include ${f.path}"
                    ${inc.has(f.path) ? html` checked` : ''}
                  />
                </td>
                <td>
                  <input
                    type="checkbox"
                    id="exc-${i}"
                    name="exclude"
                    value="${f.path}"
                    aria-label="Exclude ${f.path}"
                    ${exc.has(f.path) ? html` checked` : ''}
                  />
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
      <button type="submit">Save folder selection</button>
    </form>`;
}

function testReport(ctx: PageContext, a: MailAccount, r: ConnectionTestResult): SafeHtml {
  if (r.ok) {
    return html`<p class="ok" role="status" data-test-result="ok">
        Connection OK: logged in and found ${r.folders.length} folder(s) in ${(r.durationMs / 1000).toFixed(1)} s.
      </p>
      ${folderPicker(ctx, a, r.folders)}`;
  }
  const cert = r.certificate;
  return html`<div class="errors" role="alert" data-test-result="${r.kind}">
      <p><strong>${KIND_TITLES[r.kind]}</strong></p>
      <p>${r.message}</p>
    </div>
    ${
      cert && r.kind === 'tls-certificate'
        ? html`<div class="card">
            <p>The server presented this certificate:</p>
            <dl>
              <dt>Subject</dt>
              <dd>${cert.subject}</dd>
              <dt>Issuer</dt>
              <dd>${cert.issuer}</dd>
              <dt>Valid until</dt>
              <dd>${cert.validTo}</dd>
              <dt>SHA-256 fingerprint</dt>
              <dd><code>${formatFingerprint(cert.fingerprint)}</code></dd>
            </dl>
            <p>
              Trust it only if you know that this server uses its own certificate and this fingerprint is the right one (ask your mail
              provider). Mail Helper will then accept exactly this certificate for this account and nothing else.
            </p>
            <form method="post" action="/settings/accounts/${a.id}/trust-certificate">
              ${csrfField(ctx)}<input type="hidden" name="fingerprint" value="${cert.fingerprint}" /><button type="submit">
                Trust this certificate for this account
              </button>
            </form>
          </div>`
        : ''
    }`;
}

const KIND_TITLES: Record<string, string> = {
  dns: 'Server not found (DNS lookup failed)',
  refused: 'Connection refused',
  timeout: 'Timed out',
  'tls-certificate': 'TLS certificate not trusted',
  tls: 'TLS handshake failed',
  auth: 'Authentication failed',
  'server-refused': 'The server refused a command',
  network: 'Connection failed',
  credentials: 'Stored credentials cannot be used',
  'rate-limited': 'Please wait',
};

export function accountRoutes(app: FastifyInstance, deps: AppDeps): void {
  const db = deps.store.db;
  const timeoutMs = deps.config.imap.timeoutMs;
  const guard = { preHandler: requireUser };

  /** Resolves :id to the user's account, or answers 400 (bad id) / 404 (absent or someone else's). */
  async function ownAccount(req: FastifyRequest, reply: FastifyReply): Promise<MailAccount | undefined> {
    const p = parseInput(idParams, req.params);
    if (!p.ok) {
      if (wantsJson(req)) await sendBadRequest(reply, p.errors);
      else await sendPage(req, reply, 'Bad request', html`<p>The account id in the address is invalid: ${p.errors.id}.</p>`, 400);
      return undefined;
    }
    const a = await findAccountForUser(db, req.user!.id, p.data.id);
    if (!a) {
      await reply.callNotFound();
      return undefined;
    }
    return a;
  }

  // Each test opens a connection to a host the user chose: throttled so that it cannot be used to
  // hammer a server or sweep ports.
  const testLimiter = new LoginLimiter(TESTS_PER_MINUTE);

  async function runTest(req: FastifyRequest, a: MailAccount): Promise<ConnectionTestResult> {
    const wait = testLimiter.attempt([`user:${req.user!.id}`]);
    if (wait > 0) {
      return {
        ok: false,
        kind: 'rate-limited',
        message: `Too many connection tests: wait ${Math.ceil(wait / 1000)} seconds and try again.`,
        durationMs: 0,
      };
    }
    const dek = req.dek();
    try {
      const creds = decryptCredentials(dek, a);
      return await testConnection(
        { host: a.host, port: a.port, security: a.security, tlsFingerprint: a.tls_fingerprint },
        creds,
        timeoutMs,
      );
    } catch (err) {
      if (err instanceof SyncError) return { ok: false, kind: 'credentials', message: err.message, durationMs: 0 };
      throw err;
    } finally {
      dek.fill(0);
    }
  }

  app.get('/settings/accounts', guard, async (req, reply) => {
    const accounts = await listAccounts(db, req.user!.id);
    return sendPage(req, reply, 'Mail accounts', (ctx) => {
      const rows = accounts.map(
        (a) =>
          html`<tr>
            <th scope="row"><a href="/settings/accounts/${a.id}">${a.name}</a></th>
            <td>${a.host}:${a.port} (${a.security.toUpperCase()})</td>
            <td>${statusText(a)}${a.last_error ? html`<br /><small>${a.last_error}</small>` : ''}</td>
            <td>${when(a.last_sync_at)}</td>
            <td class="actions">
              ${syncForm(ctx, a)}
              <form method="post" action="/settings/accounts/${a.id}/test" class="inline">
                ${csrfField(ctx)}<button type="submit" class="secondary">Test connection</button>
              </form>
              <a href="/settings/accounts/${a.id}">Edit</a> <a href="/settings/accounts/${a.id}/delete">Delete</a>
            </td>
          </tr>`,
      );
      return html`<p>
          <a href="/settings/accounts/new" class="button">Add mail account</a>
          ${accounts.length ? html`<form method="post" action="/mail-accounts/fetch-all" class="inline" data-sync-all>${csrfField(ctx)}<button type="submit">Sync all</button></form>` : ''}
        </p>
        ${
          accounts.length
            ? html`<div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Account</th>
                      <th scope="col">Server</th>
                      <th scope="col">Status</th>
                      <th scope="col">Last sync</th>
                      <th scope="col">Actions</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${rows}
                  </tbody>
                </table>
              </div>`
            : html`<p>No mail accounts yet.</p>`
        }`;
    });
  });

  app.get('/settings/accounts/new', guard, async (req, reply) =>
    sendPage(req, reply, 'Add mail account', (ctx) =>
      accountForm(ctx, {
        action: '/settings/accounts',
        values: { security: 'tls', enabled: 'on', max_emails: String(MAX_EMAILS_DEFAULT) },
        errors: {},
      }),
    ),
  );

  app.post('/settings/accounts', guard, async (req, reply) => {
    const parsed = parseAccountForm(req.body, true);
    if (!parsed.ok) {
      return sendPage(
        req,
        reply,
        'Add mail account',
        (ctx) => accountForm(ctx, { action: '/settings/accounts', values: bodyValues(req.body), errors: parsed.errors }),
        400,
      );
    }
    const dek = req.dek();
    try {
      const id = await createAccount(db, dek, req.user!.id, parsed.data.fields, {
        username: parsed.data.username,
        password: parsed.data.password,
      });
      req.log.info({ accountId: id }, 'mail account added');
      return reply.redirect(`/settings/accounts/${id}?added=1`, 303);
    } finally {
      dek.fill(0);
    }
  });

  const editPage = (req: FastifyRequest, reply: FastifyReply, a: MailAccount, values: FormValues, errors: FieldErrors, status = 200) =>
    sendPage(
      req,
      reply,
      `Edit ${a.name}`,
      (ctx) =>
        html`${accountForm(ctx, { action: `/settings/accounts/${a.id}`, values, errors, account: a })}
          <div class="card">
            <h2>Connection</h2>
            <p>Status: ${statusText(a)} · Last sync: ${when(a.last_sync_at)}</p>
            ${a.tls_fingerprint ? html`<p>Trusted certificate (SHA-256): <code>${formatFingerprint(a.tls_fingerprint)}</code></p>` : ''}
            <p>
              Folders:
              ${includeFolders(a).length ? html`only ${includeFolders(a).join(', ')}` : 'all'}${excludeFolders(a).length ? html`; never ${excludeFolders(a).join(', ')}` : ''}
            </p>
            <form method="post" action="/settings/accounts/${a.id}/test" class="inline">
              ${csrfField(ctx)}<button type="submit">Test connection</button>
            </form>
            <a href="/settings/accounts/${a.id}/folders" class="button secondary">Choose folders</a>
            ${syncForm(ctx, a)}
            <a href="/settings/accounts/${a.id}/delete" class="button danger">Delete…</a>
          </div>`,
      status,
    );

  app.get('/settings/accounts/:id', guard, async (req, reply) => {
    const a = await ownAccount(req, reply);
    if (!a) return reply;
    return editPage(req, reply, a, rowValues(a), {});
  });

  app.post('/settings/accounts/:id', guard, async (req, reply) => {
    const a = await ownAccount(req, reply);
    if (!a) return reply;
    const parsed = parseAccountForm(req.body, a.needs_password === 1);
    if (!parsed.ok) return editPage(req, reply, a, bodyValues(req.body), parsed.errors, 400);
    const dek = req.dek();
    try {
      const { username, password } = parsed.data;
      await updateAccount(db, dek, req.user!.id, Number(a.id), parsed.data.fields, {
        username: username || undefined,
        password: password || undefined,
      });
    } finally {
      dek.fill(0);
    }
    return reply.redirect('/settings/accounts', 303);
  });

  app.get('/settings/accounts/:id/delete', guard, async (req, reply) => {
    const a = await ownAccount(req, reply);
    if (!a) return reply;
    return sendPage(
      req,
      reply,
      `Delete ${a.name}?`,
      (ctx) =>
        html`<p>
            This removes the account <strong>${a.name}</strong> (${a.host}) and every message Mail Helper stored for it. Mail on the server
            is not touched.
          </p>
          <form method="post" action="/settings/accounts/${a.id}/delete" class="card">
            ${csrfField(ctx)} <button type="submit" class="danger">Yes, delete this account</button>
            <a href="/settings/accounts" class="button secondary">Cancel</a>
          </form>`,
    );
  });

  app.post('/settings/accounts/:id/delete', guard, async (req, reply) => {
    const a = await ownAccount(req, reply);
    if (!a) return reply;
    await deleteAccount(db, req.user!.id, Number(a.id));
    return reply.redirect('/settings/accounts', 303);
  });

  // Test connection and the folder picker show the same report: a live login and the server's folder list.
  const showTestReport = (title: (name: string) => string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const a = await ownAccount(req, reply);
    if (!a) return reply;
    const r = await runTest(req, a);
    return sendPage(
      req,
      reply,
      title(a.name),
      (ctx) =>
        html`${testReport(ctx, a, r)}
          <p><a href="/settings/accounts/${a.id}">Back to the account</a></p>`,
    );
  };
  app.post(
    '/settings/accounts/:id/test',
    guard,
    showTestReport((name) => `Test connection: ${name}`),
  );
  app.get(
    '/settings/accounts/:id/folders',
    guard,
    showTestReport((name) => `Folders of ${name}`),
  );

  app.post('/settings/accounts/:id/folders', guard, async (req, reply) => {
    const a = await ownAccount(req, reply);
    if (!a) return reply;
    const parsed = parseInput(folderFilterSchema, req.body);
    if (!parsed.ok) return sendPage(req, reply, 'Invalid folder selection', html`${errorSummary(parsed.errors)}`, 400);
    await setFolderFilters(db, req.user!.id, Number(a.id), [...new Set(parsed.data.include)], [...new Set(parsed.data.exclude)]);
    return reply.redirect(`/settings/accounts/${a.id}`, 303);
  });

  app.post('/settings/accounts/:id/trust-certificate', guard, async (req, reply) => {
    const a = await ownAccount(req, reply);
    if (!a) return reply;
    const parsed = parseInput(trustSchema, req.body);
    if (!parsed.ok) return sendPage(req, reply, 'Invalid certificate', html`${errorSummary(parsed.errors)}`, 400);
    await setTrustedFingerprint(db, req.user!.id, Number(a.id), normalizeFingerprint(parsed.data.fingerprint));
    const r = await runTest(req, { ...a, tls_fingerprint: normalizeFingerprint(parsed.data.fingerprint) });
    return sendPage(
      req,
      reply,
      `Test connection: ${a.name}`,
      (ctx) =>
        html`<p class="notice">The certificate is now trusted for this account.</p>
          ${testReport(ctx, a, r)}
          <p><a href="/settings/accounts/${a.id}">Back to the account</a></p>`,
    );
  });

  // JSON API (same rules: 401 without a session, 404 for another user's account, x-csrf-token on POST).
  const publicView = (a: MailAccount) => ({
    id: Number(a.id),
    name: a.name,
    host: a.host,
    port: a.port,
    security: a.security,
    include_folders: includeFolders(a),
    exclude_folders: excludeFolders(a),
    since_date: a.since_date,
    unseen_only: a.unseen_only === 1,
    max_emails: a.max_emails,
    enabled: a.enabled === 1,
    needs_password: a.needs_password === 1,
    tls_fingerprint: a.tls_fingerprint,
    last_sync_at: a.last_sync_at,
    last_status: a.last_status,
    last_error: a.last_error,
  });

  app.get('/api/accounts', guard, async (req) => ({ accounts: (await listAccounts(db, req.user!.id)).map(publicView) }));

  app.get('/api/accounts/:id', guard, async (req, reply) => {
    const a = await ownAccount(req, reply);
    if (!a) return reply;
    return publicView(a);
  });

  app.post('/api/accounts/:id/test', guard, async (req, reply) => {
    const a = await ownAccount(req, reply);
    if (!a) return reply;
    return runTest(req, a);
  });
}
