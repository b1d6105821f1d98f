// Builds the worker for the configured backend: embedded poller (local) or BullMQ consumer.
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../store/db.js';
import type { Config } from '../config/config.js';
import { BullmqBackend } from './bullmq/bullmq-backend.js';
import { BullmqWorker } from './bullmq/bullmq-worker.js';
import { LocalBackend } from './local/local-backend.js';
import { LocalWorker } from './local/local-worker.js';
import type { HandlerMap, QueueBackend, WorkerRuntime } from './types.js';

export function createWorkerRuntime(opts: {
  config: Config;
  store: Store;
  backend: QueueBackend;
  handlers: HandlerMap;
  logger: Logger;
  metrics?: Metrics;
  concurrency?: number;
  pollMs?: number;
}): WorkerRuntime {
  const { config } = opts;
  const env = {
    store: opts.store,
    handlers: opts.handlers,
    leaseMs: config.worker.leaseMs,
    retry: { retryBaseMs: config.worker.retryBaseMs, retryAttempts: config.worker.retryAttempts },
    logger: opts.logger,
    metrics: opts.metrics,
  };
  const concurrency = opts.concurrency ?? config.worker.concurrency;
  if (opts.backend instanceof LocalBackend) return new LocalWorker({ env, backend: opts.backend, concurrency, pollMs: opts.pollMs });
  if (opts.backend instanceof BullmqBackend)
    return new BullmqWorker({ env, backend: opts.backend, redisUrl: config.queue.redisUrl, prefix: config.queue.prefix, concurrency });
  throw new Error(`No worker for the ${opts.backend.kind} queue backend`);
}
