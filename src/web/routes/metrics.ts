import type { FastifyInstance } from 'fastify';
import { bearerMatches } from '../../observability/metrics-auth.js';
import type { AppDeps } from '../app.js';

/** /metrics: with METRICS_TOKEN, a matching bearer token; otherwise (or also) a logged-in admin. Others: 404. */
export function metricsRoutes(app: FastifyInstance, deps: AppDeps): void {
  const metrics = deps.metrics;
  if (!metrics) return;
  app.get('/metrics', async (req, reply) => {
    const allowed = bearerMatches(req.headers.authorization, deps.config.metrics.token) || req.user?.isAdmin === true;
    if (!allowed) {
      if (deps.config.metrics.token && req.headers.authorization)
        return reply.code(401).send({ error: 'The bearer token for /metrics is wrong.' });
      return reply.code(404).send({ error: 'Not found' });
    }
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
