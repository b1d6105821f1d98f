import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/exit.js';
import { maxEmailsOption } from '../../../src/cli/max-emails-option.js';
import { syncUserEmailsPayload } from '../../../src/tasks/sync-user-emails.js';

describe('maxEmailsOption', () => {
  it('absent is the account setting; a whole number from 1 to 100000 is taken', () => {
    expect(maxEmailsOption(undefined)).toBeUndefined();
    expect(maxEmailsOption('1')).toBe(1);
    expect(maxEmailsOption('100000')).toBe(100_000);
  });

  it.each(['0', '-3', '2.5', 'ten', ''])('"%s" is a usage error naming the value', (raw) => {
    expect(() => maxEmailsOption(raw)).toThrow(new UsageError(`--max-emails must be a positive whole number, not "${raw}".`));
  });

  it('more than one task may carry is refused up front, on both paths alike', () => {
    expect(() => maxEmailsOption('100001')).toThrow(
      new UsageError('--max-emails may be at most 100000 per run, not "100001"; run the sync again to fetch more.'),
    );
    // The bound is the queued task's own: what the option accepts, the payload accepts.
    expect(syncUserEmailsPayload.safeParse({ user_id: 1, account_id: 1, max_emails: 100_000 }).success).toBe(true);
    expect(syncUserEmailsPayload.safeParse({ user_id: 1, account_id: 1, max_emails: 100_001 }).success).toBe(false);
  });
});
