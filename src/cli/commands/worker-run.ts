// `mail-helper worker`: a BullMQ worker process (worker.ts defines it).
import { createMetrics } from '../../observability/metrics.js';
import { startMetricsServer } from '../../observability/metrics-server.js';
import { pingRedis } from '../../queue/redis.js';
import { openContext } from '../context.js';
import { exitOnStartupError, UsageError } from '../exit.js';
import { openTaskSystem } from '../task-wiring.js';
import { startUntilShutdown } from '../shutdown.js';
import { startScheduler } from '../../tasks/schedule.js';

/** Jobs still running this long after SIGTERM are handed back to the queue for another worker. */
export const WORKER_GRACE_MS = 30_000;

export async function workerCommand(opts: { concurrency?: string; metricsPort?: string; metricsHost: string }): Promise<void> {
  try {
    const ctx = await openContext({ WORKER_CONCURRENCY: opts.concurrency });
    const { config, store, logger } = ctx;
    if (config.queue.kind !== 'bullmq') {
      await store.close();
      throw new UsageError(
        'QUEUE=local: the web process (`mail-helper serve`) runs the jobs itself, no separate worker is needed. ' +
          'To run separate workers, set QUEUE=bullmq (and REDIS_URL) for the web server and the workers.',
      );
    }
    await pingRedis(config.queue.redisUrl);
    const metricsPort = opts.metricsPort === undefined ? undefined : Number(opts.metricsPort);
    if (metricsPort !== undefined && !(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort <= 65535))
      throw new UsageError(
        `--metrics-port must be a port number from 0 to 65535, not "${opts.metricsPort}" (example: --metrics-port 9464).`,
      );
    // A worker's counters are its own: Prometheus scrapes every worker and sums them.
    const metrics = metricsPort === undefined ? undefined : createMetrics();
    const system = openTaskSystem(ctx, { createSecret: false, metrics });
    const metricsServer =
      metrics && metricsPort !== undefined
        ? await startMetricsServer(metrics.registry, { port: metricsPort, host: opts.metricsHost, token: config.metrics.token })
        : undefined;
    if (metricsServer) logger.info({ address: metricsServer.address() }, 'worker metrics');
    const { worker } = await startUntilShutdown(
      logger,
      {
        limitMs: WORKER_GRACE_MS + 10_000,
        message: `shutting down: finishing running jobs (at most ${WORKER_GRACE_MS / 1000} s, then handing them back)`,
        stoppedMessage: 'worker stopped',
      },
      async () => {
        const worker = await system.startWorker();
        return { worker, stopScheduler: startScheduler(system.deps, system.queue, logger) };
      },
      async (running) => {
        running?.stopScheduler();
        metricsServer?.close();
        await running?.worker.stop(WORKER_GRACE_MS);
        await system.close();
        await store.close();
      },
    );
    logger.info({ workerId: worker.id, concurrency: config.worker.concurrency, store: store.description }, 'worker is running');
  } catch (err) {
    exitOnStartupError(err);
  }
}
