// CSRF tokens: HMAC of a per-session secret (or, before login, of a secret in an HttpOnly pre-session
// cookie). Forms send it as `_csrf`, scripts as the `x-csrf-token` header (read from <meta name="csrf-token">).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { cookieOptions, requireUser, sessionCsrfSecret } from './session.js';
import { wantsJson } from './request-kind.js';

export const PRE_SESSION_COOKIE = 'mh_csrf';
export const CSRF_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';

function tokenFor(secret: string): string {
  return createHmac('sha256', secret).update('mail-helper/csrf').digest('base64url');
}

function secretOf(req: FastifyRequest): string | undefined {
  return sessionCsrfSecret(req) ?? req.cookies[PRE_SESSION_COOKIE];
}

/** The token for this request's pages and scripts; creates the pre-session secret cookie when missing. */
export function csrfToken(req: FastifyRequest, reply: FastifyReply): string {
  let secret = secretOf(req);
  if (!secret) {
    secret = randomBytes(24).toString('base64url');
    reply.setCookie(PRE_SESSION_COOKIE, secret, cookieOptions(req));
    req.cookies[PRE_SESSION_COOKIE] = secret;
  }
  return tokenFor(secret);
}

/** True when the request carries the right token in the `_csrf` body field or the `x-csrf-token` header. */
export function verifyCsrf(req: FastifyRequest): boolean {
  const secret = secretOf(req);
  const header = req.headers[CSRF_HEADER];
  const body = req.body as Record<string, unknown> | undefined;
  const given =
    typeof header === 'string' ? header : body && typeof body[CSRF_FIELD] === 'string' ? (body[CSRF_FIELD] as string) : undefined;
  if (!secret || !given) return false;
  const a = Buffer.from(tokenFor(secret));
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * preHandler (runs after the body is parsed, so form fields are visible). buildApp installs it for every
 * POST/PUT/PATCH/DELETE route; a route opts out only with `config: { csrf: false }`.
 */
export async function csrfProtection(req: FastifyRequest, reply: FastifyReply) {
  if (verifyCsrf(req)) return;
  // The form was made for a session that has since expired: say that, rather than "bad token".
  if (req.sessionProblem && !req.user) return requireUser(req, reply);
  const message = 'The security token of this request is missing or wrong (the page may have expired). Reload the page and try again.';
  if (wantsJson(req)) return reply.code(403).send({ error: 'csrf', message });
  return reply
    .code(403)
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Request refused · Mail Helper</title><link rel="stylesheet" href="/static/style.css"></head><body><main><h1>Request refused</h1><p>${message}</p><p><a href="/">Back to Mail Helper</a></p></main></body></html>`,
    );
}
