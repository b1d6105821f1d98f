// What the task handlers need from the outside, injected (the engine too, so the handlers are testable).
import type { Config } from '../config/config.js';
import type { Store } from '../store/db.js';
import type { SyncInput, SyncStats } from '../sync/engine-types.js';

export type SyncAccountFn = (input: SyncInput) => Promise<SyncStats>;

export interface TaskDeps {
  store: Store;
  config: Config;
  /** grantKey(serverSecret): opens and creates sync grants. */
  grantKey: Buffer;
  /** The sync engine; without it only tasks that need no engine (ping) are registered. */
  syncAccount?: SyncAccountFn;
}
