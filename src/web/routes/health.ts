import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.js';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/** /healthz: the process answers. /readyz: every dependency answers, else 503 naming which failed. */
export function healthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/healthz', async () => ({ status: 'ok', uptime_s: Math.round(process.uptime()) }));
  app.get('/readyz', async (_req, reply) => {
    const results = await Promise.all(
      deps.readiness.map(async (r) => {
        try {
          await withTimeout(r.check(), 3000, `${r.name} did not answer within 3 s`);
          return { name: r.name, ok: true as const };
        } catch (err) {
          return { name: r.name, ok: false as const, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    const failed = results.filter((r) => !r.ok);
    const checks = Object.fromEntries(results.map((r) => [r.name, r.ok ? 'ok' : r.error]));
    if (failed.length > 0) {
      return reply.code(503).send({ status: 'unavailable', failing: failed.map((f) => f.name), checks });
    }
    return { status: 'ready', checks };
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}
