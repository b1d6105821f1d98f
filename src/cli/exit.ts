// Start-up failures a person can fix print one clear message and exit 2, never a stack trace.
import { StartupError } from '../config/startup-error.js';

export class UsageError extends StartupError {}

export function exitOnStartupError(err: unknown): never {
  if (err instanceof StartupError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`Mail Helper failed unexpectedly: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
