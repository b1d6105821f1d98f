import type { Command } from 'commander';
import { pingRedis } from '../../queue/redis.js';
import { checkStore } from '../../store/db.js';
import { buildApp } from '../../web/app.js';
import type { ReadinessCheck } from '../../web/routes/health.js';
import { openContext } from '../context.js';
import { exitOnStartupError } from '../exit.js';
import { openTaskSystem } from '../task-wiring.js';
import { startScheduler } from '../../tasks/schedule.js';
import { WORKER_GRACE_MS } from './worker.js';

// Requests first, then the embedded worker's jobs get 30 s to finish (or are handed back).
const SHUTDOWN_LIMIT_MS = 40_000;

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the web server (and, with the local queue, the embedded worker)')
    .option('--host <host>', 'address to listen on (overrides HOST)')
    .option('--port <port>', 'port to listen on (overrides PORT)')
    .action(async (opts: { host?: string; port?: string }) => {
      try {
        const ctx = await openContext({ HOST: opts.host, PORT: opts.port });
        const { config, store, logger } = ctx;
        const readiness: ReadinessCheck[] = [
          { name: store.dialect === 'postgres' ? 'postgresql' : 'sqlite', check: () => checkStore(store) },
        ];
        if (config.queue.kind === 'bullmq') {
          await pingRedis(config.queue.redisUrl);
          readiness.push({ name: 'redis', check: () => pingRedis(config.queue.redisUrl) });
        }
        // Embedded mode generates the server secret on first start; with BullMQ the workers need the same one.
        const tasks = openTaskSystem(ctx, { createSecret: config.queue.kind === 'local' });
        const worker = config.queue.kind === 'local' ? await tasks.startWorker() : undefined;
        const stopScheduler = worker ? startScheduler(tasks.deps, tasks.queue, logger) : undefined;
        const app = await buildApp({ config, store, logger, readiness, tasks });
        await app.listen({ host: config.host, port: config.port });
        logger.info({ store: store.description, queue: config.queue.kind, embeddedWorker: worker?.id ?? null }, 'Mail Helper is serving');

        let stopping = false;
        const shutdown = async (signal: string) => {
          if (stopping) return;
          stopping = true;
          logger.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
          const force = setTimeout(() => {
            logger.error(`shutdown took longer than ${SHUTDOWN_LIMIT_MS / 1000} s, exiting`);
            process.exit(1);
          }, SHUTDOWN_LIMIT_MS);
          force.unref();
          try {
            stopScheduler?.();
            await app.close();
            await worker?.stop(WORKER_GRACE_MS);
            await tasks.close();
            await store.close();
            logger.info('stopped');
            process.exit(0);
          } catch (err) {
            logger.error({ err }, 'error during shutdown');
            process.exit(1);
          }
        };
        process.on('SIGINT', () => void shutdown('SIGINT'));
        process.on('SIGTERM', () => void shutdown('SIGTERM'));
      } catch (err) {
        exitOnStartupError(err);
      }
    });
}
