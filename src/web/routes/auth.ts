// Login, registration, logout and password change.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { LoginLimiter } from '../auth/login-limiter.js';
import { currentSessionId, endSession, requireUser, SESSION_MESSAGES, setFlash, startSession } from '../auth/session.js';
import { parseInput, text, type FieldErrors } from '../forms.js';
import { errorSummary, field } from '../views/form-fields.js';
import { html } from '../views/html.js';
import { csrfField, sendPage } from '../views/layout.js';
import { authenticate, changePassword, createUser, isRegistrationOpen, UserInputError } from '../../users/user-service.js';

const loginSchema = z.object({
  username: text(64).pipe(z.string().min(1, 'is required')),
  password: text(1024).pipe(z.string().min(1, 'is required')),
  next: text(500).optional(),
});

const registerSchema = z
  .object({
    username: text(64).pipe(z.string().min(1, 'is required')),
    password: text(1024).pipe(z.string().min(1, 'is required')),
    password_confirm: text(1024),
  })
  .refine((v) => v.password === v.password_confirm, { message: 'does not match the password', path: ['password_confirm'] });

const passwordSchema = z
  .object({
    current_password: text(1024).pipe(z.string().min(1, 'is required')),
    new_password: text(1024).pipe(z.string().min(1, 'is required')),
    new_password_confirm: text(1024),
  })
  .refine((v) => v.new_password === v.new_password_confirm, { message: 'does not match the new password', path: ['new_password_confirm'] });

const loginQuery = z.object({ reason: z.string().max(40).optional(), next: z.string().max(500).optional() });

function safeNext(next: string | undefined): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}

function minutes(ms: number): string {
  const m = Math.max(1, Math.ceil(ms / 60_000));
  return `${m} minute${m === 1 ? '' : 's'}`;
}

export const FAILED_LOGIN_MESSAGE = 'Wrong username or password.';

export function authRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { store, config } = deps;
  const db = store.db;
  const limiter = new LoginLimiter(5);

  const loginPage = (
    req: FastifyRequest,
    reply: FastifyReply,
    o: { username?: string; message?: string; errors?: FieldErrors; next?: string; status?: number },
  ) =>
    sendPage(
      req,
      reply,
      'Log in',
      (ctx) =>
        html`${o.message ? html`<p class="notice" role="alert">${o.message}</p>` : ''}${errorSummary(o.errors ?? {})}
          <form method="post" action="/login" class="card">
            ${csrfField(ctx)}
            <input type="hidden" name="next" value="${o.next ?? ''}" />
            ${field({ name: 'username', label: 'Username', value: o.username, required: true, autocomplete: 'username', error: o.errors?.username })}
            ${field({ name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password', error: o.errors?.password })}
            <button type="submit">Log in</button>
          </form>
          <p>No account yet? <a href="/register">Register</a></p>`,
      o.status ?? 200,
    );

  app.get('/login', async (req, reply) => {
    const q = parseInput(loginQuery, req.query);
    const reason = q.ok ? q.data.reason : undefined;
    if (req.user && !reason) return reply.redirect('/', 303);
    return loginPage(req, reply, { message: reason ? SESSION_MESSAGES[reason] : undefined, next: q.ok ? q.data.next : undefined });
  });

  app.post('/login', async (req, reply) => {
    const parsed = parseInput(loginSchema, req.body);
    const body = req.body as Record<string, unknown> | undefined;
    if (!parsed.ok) {
      return loginPage(req, reply, {
        username: typeof body?.username === 'string' ? body.username : '',
        errors: parsed.errors,
        status: 400,
      });
    }
    const { username, password, next } = parsed.data;
    const wait = limiter.attempt([`ip:${req.ip}`, `user:${username.toLowerCase()}`]);
    if (wait > 0) {
      reply.header('retry-after', Math.ceil(wait / 1000));
      return loginPage(req, reply, {
        username,
        next,
        status: 429,
        message: `Too many login attempts. Wait ${Math.ceil(wait / 1000)} seconds and try again.`,
      });
    }
    const locked = (until: number) =>
      loginPage(req, reply, {
        username,
        next,
        status: 429,
        message: `Too many failed logins: this account is locked for ${minutes(until - Date.now())}. Try again later.`,
      });
    const phantomUntil = limiter.phantomLockedUntil(username);
    if (phantomUntil) return locked(phantomUntil);
    const result = await authenticate(db, config, username, password);
    if (!result.ok) {
      if (result.reason === 'locked') return locked(result.until);
      const exists = await db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
      if (!exists) {
        const until = limiter.phantomFailure(username, config.auth.maxFailures, config.auth.lockMs);
        if (until) return locked(until);
      }
      req.log.info({ username }, 'login failed');
      return loginPage(req, reply, { username, next, status: 401, message: FAILED_LOGIN_MESSAGE });
    }
    limiter.clear(`user:${username.toLowerCase()}`);
    await startSession(req, reply, result.user.id, result.dek);
    result.dek.fill(0);
    req.log.info({ userId: result.user.id }, 'login');
    return reply.redirect(safeNext(next), 303);
  });

  const registerPage = async (
    req: FastifyRequest,
    reply: FastifyReply,
    o: { username?: string; errors?: FieldErrors; status?: number },
  ) => {
    if (!(await isRegistrationOpen(db, config))) {
      return sendPage(
        req,
        reply,
        'Registration closed',
        html`<p>Registration is closed on this server. Ask the administrator for an account.</p>
          <p><a href="/login">Log in</a></p>`,
        403,
      );
    }
    const first = (await db.selectFrom('users').select('id').limit(1).execute()).length === 0;
    return sendPage(
      req,
      reply,
      'Register',
      (ctx) =>
        html`${first ? html`<p class="notice">You are the first user: your account will be the administrator.</p>` : ''}${errorSummary(o.errors ?? {})}
          <form method="post" action="/register" class="card">
            ${csrfField(ctx)}
            ${field({ name: 'username', label: 'Username', value: o.username, required: true, autocomplete: 'username', error: o.errors?.username, hint: 'Letters, digits and . _ @ -' })}
            ${field({ name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'new-password', error: o.errors?.password, hint: 'At least 10 characters. It also protects your encryption key: if you forget it, an admin reset cannot recover your stored mail credentials.' })}
            ${field({ name: 'password_confirm', label: 'Repeat password', type: 'password', required: true, autocomplete: 'new-password', error: o.errors?.password_confirm })}
            <button type="submit">Create account</button>
          </form>`,
      o.status ?? 200,
    );
  };

  app.get('/register', async (req, reply) => registerPage(req, reply, {}));

  app.post('/register', async (req, reply) => {
    const body = req.body as Record<string, unknown> | undefined;
    const username = typeof body?.username === 'string' ? body.username : '';
    if (!(await isRegistrationOpen(db, config))) return registerPage(req, reply, {});
    const parsed = parseInput(registerSchema, req.body);
    if (!parsed.ok) return registerPage(req, reply, { username, errors: parsed.errors, status: 400 });
    try {
      const { user, dek } = await createUser(db, config.auth.argon2, { username: parsed.data.username, password: parsed.data.password });
      await startSession(req, reply, user.id, dek);
      dek.fill(0);
      await setFlash(req, `Welcome, ${user.username}!${user.isAdmin ? ' You are the administrator of this server.' : ''}`);
      return reply.redirect('/', 303);
    } catch (err) {
      if (err instanceof UserInputError) return registerPage(req, reply, { username, errors: err.fields, status: 400 });
      throw err;
    }
  });

  app.post('/logout', async (req, reply) => {
    await endSession(req, reply);
    return reply.redirect('/login?reason=logged_out', 303);
  });

  const passwordPage = (req: FastifyRequest, reply: FastifyReply, o: { errors?: FieldErrors; status?: number }) =>
    sendPage(
      req,
      reply,
      'Change password',
      (ctx) =>
        html`${errorSummary(o.errors ?? {})}
          <p>Your encryption key stays the same: it is re-wrapped with the new password, your mail accounts keep working.</p>
          <form method="post" action="/settings/password" class="card">
            ${csrfField(ctx)}
            ${field({ name: 'current_password', label: 'Current password', type: 'password', required: true, autocomplete: 'current-password', error: o.errors?.current_password })}
            ${field({ name: 'new_password', label: 'New password', type: 'password', required: true, autocomplete: 'new-password', error: o.errors?.new_password, hint: 'At least 10 characters.' })}
            ${field({ name: 'new_password_confirm', label: 'Repeat new password', type: 'password', required: true, autocomplete: 'new-password', error: o.errors?.new_password_confirm })}
            <button type="submit">Change password</button>
          </form>`,
      o.status ?? 200,
    );

  app.get('/settings/password', { preHandler: requireUser }, async (req, reply) => passwordPage(req, reply, {}));

  app.post('/settings/password', { preHandler: requireUser }, async (req, reply) => {
    const parsed = parseInput(passwordSchema, req.body);
    if (!parsed.ok) return passwordPage(req, reply, { errors: parsed.errors, status: 400 });
    try {
      await changePassword(
        db,
        config.auth.argon2,
        req.user!.id,
        parsed.data.current_password,
        parsed.data.new_password,
        currentSessionId(req),
      );
    } catch (err) {
      if (err instanceof UserInputError) return passwordPage(req, reply, { errors: err.fields, status: 400 });
      throw err;
    }
    await setFlash(req, 'Your password was changed. Other sessions were logged out.');
    return reply.redirect('/', 303);
  });
}
