// Errors → retry decision. Reads the error's class and kind, never its message text.
import { GrantError } from '../grants/grant-store.js';
import type { ClassifiedError } from '../queue/types.js';
import { SyncError } from '../sync/errors.js';

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'SQLITE_BUSY',
  '57P01',
  '08006',
  '08001',
  '40001',
  '40P01',
]);

export function classifyError(err: unknown): ClassifiedError {
  if (err instanceof SyncError) return { kind: err.kind, code: err.code, message: err.message };
  if (err instanceof GrantError) return { kind: 'permanent', code: 'grant', message: err.message };
  const e = err as { kind?: unknown; code?: unknown; message?: unknown; name?: unknown };
  if (e && (e.kind === 'permanent' || e.kind === 'transient'))
    return { kind: e.kind, code: String(e.name ?? 'error'), message: String(e.message ?? 'The task failed.') };
  if (e && typeof e.code === 'string' && TRANSIENT_CODES.has(e.code))
    return { kind: 'transient', code: e.code, message: `A temporary problem interrupted the task (${e.code}); it will be retried.` };
  return {
    kind: 'permanent',
    code: 'internal',
    message: `The task failed because of an internal error (${err instanceof Error ? err.name : 'unknown'}); see the worker log.`,
  };
}
