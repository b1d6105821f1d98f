// The Fastify application: plugins and routes wired from explicit dependencies.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import type { Store } from '../store/db.js';
import type { TaskSystem } from '../tasks/task-system.js';
import { healthRoutes, type ReadinessCheck } from './routes/health.js';
import { homeRoutes } from './routes/home.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  readiness: ReadinessCheck[];
  /** The task queue (enqueue, status, history); absent in tools that serve no task routes. */
  tasks?: TaskSystem;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
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
  return app;
}
