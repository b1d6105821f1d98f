// The one place where commands link the task system to the sync engine.
import { syncAccount } from '../sync/engine.js';
import { createTaskSystem, type TaskSystem } from '../tasks/task-system.js';
import type { Metrics } from '../observability/metrics.js';
import type { Context } from './context.js';

export function openTaskSystem(ctx: Context, opts: { createSecret?: boolean; metrics?: Metrics } = {}): TaskSystem {
  return createTaskSystem({
    config: ctx.config,
    store: ctx.store,
    logger: ctx.logger,
    createSecret: opts.createSecret,
    syncAccount,
    metrics: opts.metrics,
  });
}
