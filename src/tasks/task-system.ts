// Wires the queue for the configured mode: backend + handlers (+ the worker, where this process runs jobs).
import type { Config } from '../config/config.js';
import { grantKey, resolveServerSecret } from '../grants/server-secret.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createBackend, TaskQueue } from '../queue/task-queue.js';
import type { WorkerRuntime } from '../queue/types.js';
import { createWorkerRuntime } from '../queue/worker-runtime.js';
import type { Store } from '../store/db.js';
import { buildHandlers } from './registry.js';
import type { SyncAccountFn, TaskDeps } from './task-deps.js';

export interface TaskSystem {
  queue: TaskQueue;
  deps: TaskDeps;
  /** Starts a worker in this process (embedded local worker, or a BullMQ consumer). */
  startWorker(opts?: { concurrency?: number; pollMs?: number }): Promise<WorkerRuntime>;
  close(): Promise<void>;
}

export function createTaskSystem(opts: {
  config: Config;
  store: Store;
  logger: Logger;
  syncAccount?: SyncAccountFn;
  metrics?: Metrics;
  /** Embedded mode may generate DATA_DIR/server-secret; workers must find an existing secret. */
  createSecret?: boolean;
}): TaskSystem {
  const { config, store, logger } = opts;
  const secret = resolveServerSecret(config, { create: opts.createSecret ?? config.queue.kind === 'local' });
  const deps: TaskDeps = { store, config, grantKey: grantKey(secret), syncAccount: opts.syncAccount };
  const handlers = buildHandlers(deps);
  const backend = createBackend(config, store);
  const queue = new TaskQueue(store, backend, handlers, config.worker.retryAttempts);
  const workers: WorkerRuntime[] = [];
  return {
    queue,
    deps,
    async startWorker(o = {}) {
      const worker = createWorkerRuntime({ config, store, backend, handlers, logger, metrics: opts.metrics, ...o });
      await worker.start();
      workers.push(worker);
      return worker;
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      await queue.close();
    },
  };
}
