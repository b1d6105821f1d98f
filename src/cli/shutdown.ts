// Graceful shutdown on SIGINT/SIGTERM, shared by serve and worker: run the steps once, exit 0;
// an error or the time limit exits 1.
import type { Logger } from '../observability/logger.js';

/**
 * Installs the handlers, then runs `start` and returns what it returns. The handlers come first because
 * a worker takes jobs as soon as it exists, before its start-up returns: without a handler a SIGTERM
 * then ended the process and such a job with it, no grace given. A signal during the start-up waits for
 * it; `stop` gets what it started (undefined where it failed).
 */
export function startUntilShutdown<T>(
  logger: Logger,
  opts: { limitMs: number; message: string; stoppedMessage: string },
  start: () => Promise<T>,
  stop: (running: T | undefined) => Promise<void>,
): Promise<T> {
  let stopping = false;
  // Begins on the next microtask, once the handlers below are in place.
  const started = Promise.resolve().then(start);
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
      await stop(await started.catch(() => undefined));
      logger.info(opts.stoppedMessage);
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  return started;
}
