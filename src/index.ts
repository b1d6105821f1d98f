// Programmatic API of the package.
export { loadConfig, type Config } from './config/config.js';
export { openStore, type Store } from './store/db.js';
export { migrate } from './store/migrate.js';
export {
  MailHelperClient,
  openMailHelper,
  UnknownUserError,
  WrongPasswordError,
  type OpenOptions,
  type QueuedTask,
  type UserRef,
} from './api/mail-helper-client.js';
export type { TaskView, TaskStatus } from './tasks/sync-service.js';
export { InvalidMaxEmailsError, NotFoundError } from './tasks/sync-service.js';
export { TaskName } from './tasks/task-names.js';
export { QueueUnavailableError } from './queue/types.js';
export { TaskWaitTimeoutError } from './queue/task-watch.js';
export type { TaskState } from './store/schema.js';
