import { describe, expect, it } from 'vitest';
import { decideRetry, retryDelayMs } from '../../../src/queue/retry-policy.js';
import { classifyError } from '../../../src/tasks/classify-error.js';
import { GrantError } from '../../../src/grants/grant-store.js';
import { permanent, transient } from '../../../src/sync/errors.js';

const config = { retryBaseMs: 60_000, retryAttempts: 3 };

describe('retry policy', () => {
  it('retries a transient error 3 times after 60, 120 and 240 s, then gives up', () => {
    expect([0, 1, 2, 3].map((n) => decideRetry('transient', n, config))).toEqual([
      { retry: true, delayMs: 60_000 },
      { retry: true, delayMs: 120_000 },
      { retry: true, delayMs: 240_000 },
      { retry: false },
    ]);
  });

  it('never retries a permanent error', () => {
    expect(decideRetry('permanent', 0, config)).toEqual({ retry: false });
  });

  it('scales with the configured base', () => {
    expect(retryDelayMs(3, 10)).toBe(40);
  });
});

describe('error classification', () => {
  it('reads the kind of typed errors, never their message', () => {
    expect(classifyError(transient('timeout', 'permanent-sounding text'))).toMatchObject({ kind: 'transient', code: 'timeout' });
    expect(classifyError(permanent('auth-failed', 'temporary-sounding timeout'))).toMatchObject({ kind: 'permanent', code: 'auth-failed' });
    expect(classifyError(new GrantError('expired'))).toMatchObject({ kind: 'permanent', code: 'grant' });
  });

  it('treats network errno codes as transient and unknown errors as permanent internal errors', () => {
    expect(classifyError(Object.assign(new Error('x'), { code: 'ECONNRESET' })).kind).toBe('transient');
    const internal = classifyError(new TypeError('secret-ish detail'));
    expect(internal).toMatchObject({ kind: 'permanent', code: 'internal' });
    expect(internal.message).not.toContain('secret-ish');
  });
});
