// Typed errors that carry a decision: the retry policy and the HTTP layer read `kind`,
// never the message text.
export type ErrorKind = 'transient' | 'permanent';

export type SyncErrorCode =
  | 'network' // connection refused/reset/cut, DNS temporary failure
  | 'timeout'
  | 'server-unavailable' // BYE, server busy
  | 'store-busy'
  | 'auth-failed'
  | 'tls-rejected'
  | 'dns-not-found'
  | 'cannot-decrypt'
  | 'invalid-settings'
  | 'server-refused' // NO/BAD to a command we cannot do without
  | 'not-found' // user/account missing or not the user's
  | 'cancelled'
  | 'internal';

export class SyncError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: SyncErrorCode,
    /** Safe to show a user: no credentials, no key material, no mail content. */
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SyncError';
  }
}

export const transient = (code: SyncErrorCode, message: string, cause?: unknown) => new SyncError('transient', code, message, { cause });
export const permanent = (code: SyncErrorCode, message: string, cause?: unknown) => new SyncError('permanent', code, message, { cause });

export function isTransient(err: unknown): boolean {
  return err instanceof SyncError && err.kind === 'transient';
}
