// `mail-helper sync --max-emails N`, checked alike for a queued sync (sync-run.ts) and a direct one (sync-direct.ts).
import { UsageError } from './exit.js';

/** The option as a number (undefined: the account's own setting), or a UsageError naming what is wrong. */
export function maxEmailsOption(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--max-emails must be a positive whole number, not "${raw}".`);
  return n;
}
