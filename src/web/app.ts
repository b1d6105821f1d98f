// The Fastify application: plugins and routes wired from explicit dependencies. The single place that
// registers plugins, hooks and routes (see README "Web internals for contributors").
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { DecryptError } from '../crypto/aead.js';
import type { Metrics } from '../observability/metrics.js';
import { metricsRoutes } from './routes/metrics.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import type { Store } from '../store/db.js';
import type { TaskSystem } from '../tasks/task-system.js';
import { csrfProtection } from './auth/csrf.js';
import { wantsJson } from './auth/request-kind.js';
import { getRequestDek, handleSessionKeyError, SessionKeyError, sessionHook } from './auth/session.js';
import { escapeHtml } from './views/html.js';
import { accountRoutes } from './routes/accounts.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { healthRoutes, type ReadinessCheck } from './routes/health.js';
import { homeRoutes } from './routes/home.js';
import { scheduleRoutes } from './routes/schedule.js';
import { taskRoutes } from './routes/tasks.js';
import { messageRoutes } from './routes/messages.js';
import { monitorRoutes } from './routes/monitor.js';
import { bullBoardRoutes } from './routes/bull-board.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  readiness: ReadinessCheck[];
  metrics?: Metrics;
  /** PEM key and certificate when serving HTTPS. */
  https?: { key: string; cert: string };
  /** The task queue (enqueue, status, history); absent in tools that serve no task routes. */
  tasks?: TaskSystem;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Form posts are small; 1 MiB stays the limit for JSON bodies. */
const FORM_BODY_LIMIT = 64 * 1024;

// dist/web/app.js, the bundled CLI's chunks (dist/cli/, the same depth) and src/web/app.ts all find the
// stylesheet and script in src/web/public.
function publicDir(): string {
  const candidates = [new URL('./public/', import.meta.url), new URL('../../src/web/public/', import.meta.url)].map((u) =>
    fileURLToPath(u),
  );
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

function simplePage(title: string, message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · Mail Helper</title><link rel="stylesheet" href="/static/style.css"></head><body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><p><a href="/">Back to Mail Helper</a></p></main></body></html>`;
}

/**
 * Stored data that no longer decrypts (changed on disk, restored from another server's backup): not the user's
 * mistake, but nothing a retry fixes either, so it gets its own clear answer instead of a generic 500.
 */
function sendUndecryptable(req: FastifyRequest, reply: FastifyReply, err: DecryptError) {
  req.log.warn({ err }, 'stored data cannot be decrypted');
  const message =
    'Some stored data cannot be decrypted: it was changed after it was written, or it belongs to another key. ' +
    'Sync the account again to fetch the message anew, or remove and re-add the account.';
  if (wantsJson(req)) return reply.code(422).send({ error: 'undecryptable', message });
  return reply.code(422).type('text/html; charset=utf-8').send(simplePage('Message data cannot be decrypted', message));
}

/** At most this much of a refused body is read and dropped before the answer (see drainBody). */
const DRAIN_MAX_BYTES = 16 * 1024 * 1024;
const DRAIN_MAX_MS = 2000;

/**
 * Reads and drops the rest of a body refused as too large, within bounds, before answering: a
 * connection closed with unread bytes is reset by the kernel, and the reset can reach the client
 * before it has read the 413, which it then never sees (a raw-socket test lost it 4 times in 6).
 */
function drainBody(raw: FastifyRequest['raw']): Promise<void> {
  if (raw.readableEnded || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let bytes = 0;
    const done = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', done);
      raw.off('close', done);
      raw.off('error', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > DRAIN_MAX_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_MAX_MS);
    raw.on('data', onData);
    raw.on('end', done);
    raw.on('close', done);
    raw.on('error', done);
    raw.resume();
  });
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.https ? { https: { key: deps.https.key, cert: deps.https.cert } } : {}),
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: deps.config.trustProxy,
    bodyLimit: 1024 * 1024,
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });

  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    // Served over plain HTTP on 127.0.0.1 by default: HSTS would only matter under --https.
    hsts: false,
  });
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: FORM_BODY_LIMIT });
  await app.register(fastifyStatic, { root: publicDir(), prefix: '/static/', maxAge: '1h', decorateReply: false });

  app.decorateRequest('dek', function (this: FastifyRequest) {
    return getRequestDek(this);
  });
  app.addHook('onRequest', sessionHook(deps.config, deps.store));
  // CSRF for every state-changing route, in preHandler so that form bodies are parsed.
  app.addHook('preHandler', async (req, reply) => {
    // No matched route (404 handler): nothing changes state, so answer 404 rather than 403.
    if (SAFE_METHODS.has(req.method) || !req.routeOptions.url || req.routeOptions.config?.csrf === false) return;
    return csrfProtection(req, reply);
  });

  app.setNotFoundHandler(async (req, reply) => {
    if (wantsJson(req)) return reply.code(404).send({ error: 'not_found', message: 'Not found' });
    return reply
      .code(404)
      .type('text/html; charset=utf-8')
      .send(simplePage('Not found', 'There is nothing at this address, or it is not yours.'));
  });

  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    if (err instanceof SessionKeyError) return handleSessionKeyError(req, reply);
    if (err instanceof DecryptError) return sendUndecryptable(req, reply, err);
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') await drainBody(req.raw);
    // 4xx from Fastify itself (body too large, malformed JSON, bad content type) carry safe messages.
    const message = status < 500 ? err.message : `Something went wrong on the server. Request id: ${req.id}`;
    if (status >= 500) req.log.error({ err }, 'request failed');
    if (wantsJson(req)) return reply.code(status).send({ error: status < 500 ? 'bad_request' : 'internal', message });
    return reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(simplePage(status < 500 ? 'Request refused' : 'Server error', message));
  });

  healthRoutes(app, deps);
  authRoutes(app, deps);
  homeRoutes(app, deps);
  messageRoutes(app, deps);
  accountRoutes(app, deps);
  adminRoutes(app, deps);
  monitorRoutes(app, deps);
  if (deps.config.queue.kind === 'bullmq') await bullBoardRoutes(app, deps);
  metricsRoutes(app, deps);
  if (deps.tasks) {
    taskRoutes(app, { ...deps, tasks: deps.tasks });
    scheduleRoutes(app, { ...deps, tasks: deps.tasks });
  }
  return app;
}
