import type { Command } from 'commander';
import { pingRedis } from '../../queue/redis.js';
import { openContext } from '../context.js';
import { exitOnStartupError, UsageError } from '../exit.js';
import { openTaskSystem } from '../task-wiring.js';
import { startScheduler } from '../../tasks/schedule.js';

/** Jobs still running this long after SIGTERM are handed back to the queue for another worker. */
export const WORKER_GRACE_MS = 30_000;

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('Run background jobs from Redis (QUEUE=bullmq); start as many as you like, on any machine')
    .option('--concurrency <n>', 'jobs this worker runs at once (overrides WORKER_CONCURRENCY)')
    .action(async (opts: { concurrency?: string }) => {
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
        const system = openTaskSystem(ctx, { createSecret: false });
        const worker = await system.startWorker();
        const stopScheduler = startScheduler(system.deps, system.queue, logger);
        logger.info({ workerId: worker.id, concurrency: config.worker.concurrency, store: store.description }, 'worker is running');
        let stopping = false;
        const shutdown = async (signal: string) => {
          if (stopping) return;
          stopping = true;
          logger.info({ signal }, `shutting down: finishing running jobs (at most ${WORKER_GRACE_MS / 1000} s, then handing them back)`);
          try {
            stopScheduler();
            await worker.stop(WORKER_GRACE_MS);
            await system.close();
            await store.close();
            logger.info('worker stopped');
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
