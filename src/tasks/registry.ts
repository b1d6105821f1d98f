// The handlers every worker registers, by task name.
import type { HandlerMap, TaskHandler } from '../queue/types.js';
import { pingTask } from './ping.js';
import { syncAllAccountsTask } from './sync-all-accounts.js';
import { syncUserEmailsTask } from './sync-user-emails.js';
import type { TaskDeps } from './task-deps.js';

export function buildHandlers(deps: TaskDeps): HandlerMap {
  const handlers: TaskHandler[] = [pingTask];
  if (deps.syncAccount) handlers.push(syncUserEmailsTask({ ...deps, syncAccount: deps.syncAccount }), syncAllAccountsTask(deps));
  return new Map(handlers.map((h) => [h.type, h]));
}
