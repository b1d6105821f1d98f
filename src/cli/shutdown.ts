// Graceful shutdown on SIGINT/SIGTERM, shared by serve and worker: run the steps once, exit 0;
// an error or the time limit exits 1.
import type { Logger } from '../observability/logger.js';

export function onShutdownSignal(
  logger: Logger,
  opts: { limitMs: number; message: string; stoppedMessage: string },
  steps: () => Promise<void>,
): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, opts.message);
    const force = setTimeout(() => {
      logger.error(`shutdown took longer than ${opts.limitMs / 1000} s, exiting`);
      process.exit(1);
    }, opts.limitMs);
    force.unref();
    try {
      await steps();
      logger.info(opts.stoppedMessage);
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
