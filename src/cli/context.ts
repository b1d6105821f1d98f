// Wiring shared by commands: config → store (checked, migrated) → logger.
import { loadConfig, type Config, type VarName } from '../config/config.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { checkStore, openStore, type Store } from '../store/db.js';
import { migrate } from '../store/migrate.js';

export interface Context {
  config: Config;
  store: Store;
  logger: Logger;
}

export async function openContext(
  overrides: Partial<Record<VarName, string | number | undefined>> = {},
  opts: { migrate?: boolean; check?: boolean } = {},
): Promise<Context> {
  const config = loadConfig({ overrides });
  const logger = createLogger(config);
  const store = openStore(config);
  try {
    if (opts.check !== false) await checkStore(store);
    if (opts.migrate !== false) {
      const res = await migrate(store.db, store.dialect);
      if (res.applied.length > 0) logger.info({ applied: res.applied }, 'migrations applied');
    }
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return { config, store, logger };
}
