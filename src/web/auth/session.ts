// Server-side sessions in the store. The cookie holds a random token; the store holds only its SHA-256
// and the DEK wrapped by a key derived from the token, so neither the database nor the cookie alone
// reveals the DEK. The unwrapped DEK exists only inside a request that asks for it (getRequestDek).
import { createHash, randomBytes } from 'node:crypto';
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config/config.js';
import { keyFromSecret, unwrapDek, wrapDek } from '../../crypto/keys.js';
import type { Store } from '../../store/db.js';
import type { Session } from '../../store/schema.js';
import type { AuthUser } from '../../users/user-service.js';
import { findUserById } from '../../users/user-repo.js';
import { wantsJson } from './request-kind.js';

export const SESSION_COOKIE = 'mh_session';
const SESSION_PURPOSE = 'session';

export type SessionProblem = 'idle' | 'expired' | 'invalid' | 'key';

declare module 'fastify' {
  interface FastifyRequest {
    /** The logged-in user, set for every request with a valid session (guaranteed after requireUser). */
    user?: AuthUser;
    /** Why a session cookie was present but not usable. */
    sessionProblem?: SessionProblem;
    /** The request's unwrapped DEK (throws SessionKeyError when it cannot be unwrapped). Never store it. */
    dek(): Buffer;
  }
  interface FastifyContextConfig {
    /** false: this state-changing route does not check a CSRF token (needs a reason). */
    csrf?: boolean;
  }
}

interface SessionState {
  store: Store;
  row: Session;
  token: string;
}
// Kept off the request object so the token never shows up when a request is logged or serialised.
const states = new WeakMap<FastifyRequest, SessionState>();
// Per request (not per module): several apps with different stores may live in one process (tests).
const appSettings = new WeakMap<FastifyRequest, { config: Config; store: Store }>();

export class SessionKeyError extends Error {
  constructor() {
    super('The session key cannot unlock the account key: please log in again.');
    this.name = 'SessionKeyError';
  }
}

export const SESSION_MESSAGES: Record<string, string> = {
  idle: 'You were logged out after a period without activity. Please log in again.',
  expired: 'Your session reached its maximum lifetime. Please log in again.',
  invalid:
    'Your session is no longer valid (you logged out elsewhere, your password was changed or reset, or the session was removed). Please log in again.',
  key: 'Your session could not unlock your encryption key. Please log in again.',
  login: 'Please log in to continue.',
  logged_out: 'You have been logged out.',
};

export function cookieOptions(req: FastifyRequest, maxAgeMs?: number): CookieSerializeOptions {
  const mode = appSettings.get(req)?.config.session.secureCookies ?? 'auto';
  const secure = mode === 'true' || (mode === 'auto' && req.protocol === 'https');
  return { path: '/', httpOnly: true, sameSite: 'lax', secure, ...(maxAgeMs ? { maxAge: Math.ceil(maxAgeMs / 1000) } : {}) };
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** onRequest hook: resolves the session cookie into req.user, or records why it is unusable. */
export function sessionHook(config: Config, store: Store) {
  return async function loadSession(req: FastifyRequest, reply: FastifyReply) {
    appSettings.set(req, { config, store });
    // Assets and probes need no session: spare them the store lookup.
    if (req.url.startsWith('/static/') || req.url === '/healthz' || req.url === '/readyz') return;
    const token = req.cookies[SESSION_COOKIE];
    if (!token) return;
    const problem = await resolve(req, token, config, store);
    if (problem) {
      req.sessionProblem = problem;
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
    }
  };
}

async function resolve(req: FastifyRequest, token: string, config: Config, store: Store): Promise<SessionProblem | undefined> {
  if (token.length > 100) return 'invalid';
  const id = hashToken(token);
  const row = await store.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return 'invalid';
  const now = Date.now();
  const expired = now >= Number(row.expires_at) ? 'expired' : now - Number(row.last_seen_at) >= config.session.idleMs ? 'idle' : undefined;
  if (expired) {
    await store.db.deleteFrom('sessions').where('id', '=', id).execute();
    return expired;
  }
  const user = await findUserById(store.db, Number(row.user_id));
  if (!user) return 'invalid';
  req.user = { id: Number(user.id), username: user.username, isAdmin: user.is_admin === 1 };
  states.set(req, { store, row, token });
  // Touch at most every 1/10 of the idle time: fewer writes, idle timeout still accurate to 10 %.
  if (now - Number(row.last_seen_at) >= Math.min(5_000, config.session.idleMs / 10)) {
    await store.db.updateTable('sessions').set({ last_seen_at: now }).where('id', '=', id).execute();
  }
  return undefined;
}

/** Starts a session after login/registration and sets the cookie. */
export async function startSession(req: FastifyRequest, reply: FastifyReply, userId: number, dek: Buffer): Promise<void> {
  const settings = appSettings.get(req);
  if (!settings) throw new Error('sessions are not set up (sessionHook not installed)');
  const { config, store } = settings;
  const old = req.cookies[SESSION_COOKIE];
  if (old) await store.db.deleteFrom('sessions').where('id', '=', hashToken(old)).execute();
  const token = randomBytes(32).toString('base64url');
  const now = Date.now();
  const row: Session = {
    id: hashToken(token),
    user_id: userId,
    wrapped_dek: wrapDek(keyFromSecret(token, SESSION_PURPOSE), dek, SESSION_PURPOSE),
    csrf_secret: randomBytes(24).toString('base64url'),
    flash: null,
    created_at: now,
    last_seen_at: now,
    expires_at: now + config.session.maxMs,
  };
  await store.db.insertInto('sessions').values(row).execute();
  reply.setCookie(SESSION_COOKIE, token, cookieOptions(req, config.session.maxMs));
  const user = await findUserById(store.db, userId);
  if (user) req.user = { id: userId, username: user.username, isAdmin: user.is_admin === 1 };
  states.set(req, { store, row, token });
}

export async function endSession(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const state = states.get(req);
  if (state) await state.store.db.deleteFrom('sessions').where('id', '=', state.row.id).execute();
  states.delete(req);
  req.user = undefined;
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}

/** Id (token hash) of the request's session, e.g. to keep it when other sessions are ended. */
export function currentSessionId(req: FastifyRequest): string | undefined {
  return states.get(req)?.row.id;
}

export function sessionCsrfSecret(req: FastifyRequest): string | undefined {
  return states.get(req)?.row.csrf_secret;
}

/** The request's DEK, unwrapped now from the session row with the cookie token. The caller must not keep it. */
export function getRequestDek(req: FastifyRequest): Buffer {
  const state = states.get(req);
  if (!state || !state.row.wrapped_dek) throw new SessionKeyError();
  try {
    return unwrapDek(keyFromSecret(state.token, SESSION_PURPOSE), state.row.wrapped_dek, SESSION_PURPOSE);
  } catch {
    throw new SessionKeyError();
  }
}

/** A one-time message shown on the next page of this session. */
export async function setFlash(req: FastifyRequest, message: string): Promise<void> {
  const state = states.get(req);
  if (!state) return;
  state.row.flash = message;
  await state.store.db.updateTable('sessions').set({ flash: message }).where('id', '=', state.row.id).execute();
}

export async function takeFlash(req: FastifyRequest): Promise<string | undefined> {
  const state = states.get(req);
  if (!state?.row.flash) return undefined;
  const message = state.row.flash;
  state.row.flash = null;
  await state.store.db.updateTable('sessions').set({ flash: null }).where('id', '=', state.row.id).execute();
  return message;
}

function loginUrl(req: FastifyRequest): string {
  const reason = req.sessionProblem ?? 'login';
  const next = req.method === 'GET' && req.url !== '/' ? `&next=${encodeURIComponent(req.url)}` : '';
  return `/login?reason=${reason}${next}`;
}

/** preHandler: only logged-in users pass. Pages redirect to /login (saying why); API/JSON requests get 401 JSON. */
export async function requireUser(req: FastifyRequest, reply: FastifyReply) {
  if (req.user) return;
  if (wantsJson(req)) {
    return reply.code(401).send({ error: 'unauthenticated', message: SESSION_MESSAGES[req.sessionProblem ?? 'login'] });
  }
  return reply.redirect(loginUrl(req), 303);
}

/** preHandler: admins only; everyone else gets 404 (an admin area is not advertised). */
export async function requireAdmin(req: FastifyRequest, reply: FastifyReply) {
  await requireUser(req, reply);
  if (reply.sent) return reply;
  if (!req.user?.isAdmin) return reply.callNotFound();
}

/** For the error handler: a session whose key cannot be unwrapped ends, and the person logs in again. */
export async function handleSessionKeyError(req: FastifyRequest, reply: FastifyReply) {
  await endSession(req, reply).catch(() => {});
  req.sessionProblem = 'key';
  if (wantsJson(req)) return reply.code(401).send({ error: 'unauthenticated', message: SESSION_MESSAGES.key });
  return reply.redirect('/login?reason=key', 303);
}
