import type { Command } from 'commander';
import { pingRedis } from '../../queue/redis.js';
import { checkStore } from '../../store/db.js';
import { buildApp } from '../../web/app.js';
import type { ReadinessCheck } from '../../web/routes/health.js';
import { openContext } from '../context.js';
import { exitOnStartupError } from '../exit.js';

const SHUTDOWN_LIMIT_MS = 10_000;

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
        const app = await buildApp({ config, store, logger, readiness });
        await app.listen({ host: config.host, port: config.port });
        logger.info({ store: store.description, queue: config.queue.kind }, 'Mail Helper is serving');

        let stopping = false;
        const shutdown = async (signal: string) => {
          if (stopping) return;
          stopping = true;
          logger.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
          const force = setTimeout(() => {
            logger.error('shutdown took longer than 10 s, exiting');
            process.exit(1);
          }, SHUTDOWN_LIMIT_MS);
          force.unref();
          try {
            await app.close();
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
