// Maps whatever IMAP, TLS, sockets or the store throw to a SyncError with a kind the retry policy
// can act on. Messages name the host and what to do, never credentials or mail content.
import { DecryptError } from '../crypto/aead.js';
import { permanent, SyncError, transient } from './errors.js';

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'TLS_FINGERPRINT_MISMATCH',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'NoConnection',
  'EConnectionClosed',
  'ClosedAfterConnectText',
  'ClosedAfterConnectTLS',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ETIMEOUT', 'CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT', 'SOCKET_TIMEOUT']);
// PostgreSQL: serialization/deadlock, too many connections, shutting down, connection failures.
const PG_BUSY = new Set(['40001', '40P01', '53300', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

interface ErrLike {
  code?: string;
  message?: string;
  authenticationFailed?: boolean;
  responseStatus?: string;
  responseText?: string;
  serverResponseCode?: string;
  /** ImapFlow: the text of the server's BYE, on a NoConnection error. */
  reason?: string;
}

export function toSyncError(err: unknown, where: { host: string; port: number }): SyncError {
  if (err instanceof SyncError) return err;
  if (err instanceof DecryptError)
    return permanent('cannot-decrypt', 'Cannot decrypt the stored account data with this key; re-enter the account password.', err);
  const e = (err ?? {}) as ErrLike;
  const server = `${where.host}:${where.port}`;
  const code = e.code ?? '';
  if (e.authenticationFailed || code === 'AUTHENTICATIONFAILED' || e.serverResponseCode === 'AUTHENTICATIONFAILED')
    return permanent('auth-failed', `The IMAP server ${server} rejected the username or password; check the account's credentials.`, err);
  if (TLS_CODES.has(code) || /certificate|wrong version number|SSL routines/i.test(e.message ?? ''))
    return permanent(
      'tls-rejected',
      `The TLS certificate of ${server} was rejected (${code || 'TLS error'}); check the host name and security setting, or trust the certificate's fingerprint.`,
      err,
    );
  if (code === 'ENOTFOUND')
    return permanent('dns-not-found', `The IMAP host ${where.host} does not exist (DNS lookup failed); check the host name.`, err);
  // ImapFlow reports a server BYE as NoConnection carrying the BYE text in `reason`: say that the server closed it.
  if ((code === 'NoConnection' || code === 'EConnectionClosed') && typeof e.reason === 'string' && e.reason)
    return transient(
      'server-unavailable',
      `The IMAP server ${server} closed the connection (BYE: ${e.reason.slice(0, 200)}); it will be retried.`,
      err,
    );
  if (TIMEOUT_CODES.has(code)) return transient('timeout', `The IMAP server ${server} did not answer in time.`, err);
  if (NETWORK_CODES.has(code)) return transient('network', `The connection to ${server} failed or was cut (${code}).`, err);
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || PG_BUSY.has(code))
    return transient('store-busy', 'The store is busy or unreachable; the sync will be retried.', err);
  if (code === 'ERR_OUT_OF_RANGE' || code === 'ERR_INVALID_ARG_VALUE')
    return permanent('invalid-settings', `Invalid connection settings for ${server}.`, err);
  if (
    e.serverResponseCode === 'UNAVAILABLE' ||
    e.serverResponseCode === 'INUSE' ||
    /\bBYE\b|unavailable|try again/i.test(e.responseText ?? e.message ?? '')
  )
    return transient('server-unavailable', `The IMAP server ${server} is unavailable or closed the connection; it will be retried.`, err);
  // NO may be momentary (locks, quotas); BAD means the server will never accept what we send.
  if (e.responseStatus === 'NO')
    return transient('server-refused', `The IMAP server ${server} refused a command: ${(e.responseText ?? '').slice(0, 200)}`, err);
  if (e.responseStatus === 'BAD')
    return permanent(
      'server-refused',
      `The IMAP server ${server} rejected a command as invalid: ${(e.responseText ?? '').slice(0, 200)}`,
      err,
    );
  return transient('internal', `Sync of ${server} failed unexpectedly: ${(e.message ?? String(err)).slice(0, 200)}`, err);
}
