// `mail-helper serve`: the web server, and with the local queue the embedded worker and scheduler (serve.ts defines it).
import { createMetrics } from '../../observability/metrics.js';
import { pingRedis } from '../../queue/redis.js';
import { checkStore } from '../../store/db.js';
import { buildApp } from '../../web/app.js';
import type { ReadinessCheck } from '../../web/routes/health.js';
import type { Config } from '../../config/config.js';
import { ensureSelfSignedTls, loadGivenTls, type TlsMaterial } from '../../web/tls-cert.js';
import { openContext } from '../context.js';
import { startUntilShutdown } from '../shutdown.js';
import { exitOnStartupError } from '../exit.js';
import { openTaskSystem } from '../task-wiring.js';
import { startScheduler } from '../../tasks/schedule.js';

// Requests first, then the embedded worker's jobs get 30 s to finish (or are handed back).
const SHUTDOWN_LIMIT_MS = 10_000;
/** Embedded jobs still running after this go back to the store's queue; the next start resumes them. */
const EMBEDDED_WORKER_GRACE_MS = 7_000;

export async function serveCommand(opts: { host?: string; port?: string; https?: boolean; cert?: string; key?: string }): Promise<void> {
  try {
    const ctx = await openContext({
      HOST: opts.host,
      PORT: opts.port,
      HTTPS: opts.https || opts.cert ? 'true' : undefined,
      TLS_CERT_FILE: opts.cert,
      TLS_KEY_FILE: opts.key,
    });
    const { config, store, logger } = ctx;
    const readiness: ReadinessCheck[] = [{ name: store.dialect === 'postgres' ? 'postgresql' : 'sqlite', check: () => checkStore(store) }];
    if (config.queue.kind === 'bullmq') {
      await pingRedis(config.queue.redisUrl);
      readiness.push({ name: 'redis', check: () => pingRedis(config.queue.redisUrl) });
    }
    // Embedded mode generates the server secret on first start; with BullMQ the workers need the same one.
    const metrics = createMetrics({ store, staleAfterMs: config.metrics.staleAfterMs });
    const tasks = openTaskSystem(ctx, { createSecret: config.queue.kind === 'local', metrics });
    // The embedded worker takes jobs as soon as it starts: a SIGTERM during the rest of the start-up
    // waits for it, then stops everything, the jobs with grace (startUntilShutdown).
    await startUntilShutdown(
      logger,
      {
        limitMs: SHUTDOWN_LIMIT_MS,
        message: 'shutting down: no new connections, finishing requests in flight',
        stoppedMessage: 'stopped',
      },
      async () => {
        const worker = config.queue.kind === 'local' ? await tasks.startWorker() : undefined;
        const stopScheduler = worker ? startScheduler(tasks.deps, tasks.queue, logger) : undefined;
        const tls = config.https.enabled ? await loadTls(config) : undefined;
        if (tls)
          logger.info(
            { certificate: tls.certPath, source: tls.source, sha256: tls.fingerprint256, validTo: tls.validTo },
            'HTTPS certificate',
          );
        const app = await buildApp({ config, store, logger, readiness, https: tls, metrics, tasks });
        await app.listen({ host: config.host, port: config.port });
        const url = `${tls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
        logger.info(
          { url, store: store.description, queue: config.queue.kind, embeddedWorker: worker?.id ?? null },
          'Mail Helper is serving',
        );
        return { app, worker, stopScheduler };
      },
      async (running) => {
        running?.stopScheduler?.();
        await running?.app.close();
        await running?.worker?.stop(EMBEDDED_WORKER_GRACE_MS);
        await tasks.close();
        await store.close();
      },
    );
  } catch (err) {
    exitOnStartupError(err);
  }
}

function loadTls(config: Config): Promise<TlsMaterial> | TlsMaterial {
  if (config.https.certFile) return loadGivenTls(config.https.certFile, config.https.keyFile);
  return ensureSelfSignedTls(config.dataDir, config.host === '127.0.0.1' || config.host === '0.0.0.0' ? [] : [config.host]);
}
