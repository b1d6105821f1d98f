// `mail-helper sync --max-emails N`, checked alike for a queued sync (sync-run.ts) and a direct one (sync-direct.ts).
import { MAX_EMAILS_PER_RUN } from '../tasks/max-emails-per-run.js';
import { UsageError } from './exit.js';

/** The option as a number (undefined: the account's own setting), or a UsageError naming what is wrong. */
export function maxEmailsOption(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--max-emails must be a positive whole number, not "${raw}".`);
  // The queued task's payload allows no more; a direct run is held to the same so both paths take the same values.
  if (n > MAX_EMAILS_PER_RUN)
    throw new UsageError(`--max-emails may be at most ${MAX_EMAILS_PER_RUN} per run, not "${raw}"; run the sync again to fetch more.`);
  return n;
}
