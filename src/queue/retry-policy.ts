// Pure retry decisions: transient errors are retried `retryAttempts` times after base × 1, 2, 4 …;
// permanent errors fail at once.
import type { ErrorKind, RetryConfig } from './types.js';

export type RetryDecision = { retry: true; delayMs: number } | { retry: false };

/** `retriesSoFar`: transient failures already retried for this task. */
export function decideRetry(kind: ErrorKind, retriesSoFar: number, config: RetryConfig): RetryDecision {
  if (kind !== 'transient' || retriesSoFar >= config.retryAttempts) return { retry: false };
  return { retry: true, delayMs: retryDelayMs(retriesSoFar + 1, config.retryBaseMs) };
}

/** Delay before retry number `n` (1-based): base × 2^(n-1). */
export function retryDelayMs(n: number, baseMs: number): number {
  return baseMs * 2 ** (n - 1);
}
