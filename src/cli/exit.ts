// Start-up failures a person can fix print one clear message and exit 2, never a stack trace.
import { ConfigError } from '../config/config.js';
import { StoreUnavailableError } from '../store/db.js';
import { MigrationError } from '../store/migrate.js';
import { RedisUnavailableError } from '../queue/redis.js';
import { ServerSecretMissingError } from '../grants/server-secret.js';

export class UsageError extends Error {}

export function exitOnStartupError(err: unknown): never {
  if (
    err instanceof ConfigError ||
    err instanceof StoreUnavailableError ||
    err instanceof RedisUnavailableError ||
    err instanceof MigrationError ||
    err instanceof UsageError ||
    err instanceof ServerSecretMissingError
  ) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`Mail Helper failed unexpectedly: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
