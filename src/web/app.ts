// The Fastify application: plugins and routes wired from explicit dependencies.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Metrics } from '../observability/metrics.js';
import { metricsRoutes } from './routes/metrics.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import type { Store } from '../store/db.js';
import { healthRoutes, type ReadinessCheck } from './routes/health.js';
import { homeRoutes } from './routes/home.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  readiness: ReadinessCheck[];
  metrics?: Metrics;
  /** Whether the request comes from a logged-in admin (set once authentication exists). */
  isAdminRequest?: (req: FastifyRequest) => Promise<boolean> | boolean;
  /** PEM key and certificate when serving HTTPS. */
  https?: { key: string; cert: string };
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.https ? { https: { key: deps.https.key, cert: deps.https.cert } } : {}),
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: deps.config.trustProxy,
    bodyLimit: 1024 * 1024,
    disableRequestLogging: false,
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  healthRoutes(app, deps);
  homeRoutes(app, deps);
  metricsRoutes(app, deps);
  return app;
}
