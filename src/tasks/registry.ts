// The handlers every worker registers, by task name.
import type { HandlerMap, TaskHandler } from '../queue/types.js';
import { pingTask } from './ping.js';
import { syncAllAccountsTask } from './sync-all-accounts.js';
import { syncUserEmailsTask } from './sync-user-emails.js';
import type { TaskDeps } from './task-deps.js';

export function buildHandlers(deps: TaskDeps): HandlerMap {
  const handlers: TaskHandler[] = [syncUserEmailsTask(deps), syncAllAccountsTask(deps), pingTask];
  return new Map(handlers.map((h) => [h.type, h]));
}
