import { describe, expect, it } from 'vitest';
import { DecryptError } from '../../../src/crypto/aead.js';
import { toSyncError } from '../../../src/sync/error-mapping.js';
import { isMissingFolder } from '../../../src/sync/state-step.js';

const at = { host: 'imap.example.org', port: 993 };
const err = (props: Record<string, unknown>, message = 'x') => Object.assign(new Error(message), props);
const classify = (e: unknown) => {
  const s = toSyncError(e, at);
  return [s.kind, s.code];
};

describe('error classification', () => {
  it('splits transient from permanent by code, never by message words', () => {
    expect(classify(err({ authenticationFailed: true }))).toEqual(['permanent', 'auth-failed']);
    expect(classify(err({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }))).toEqual(['permanent', 'tls-rejected']);
    expect(classify(err({ code: 'TLS_FINGERPRINT_MISMATCH' }))).toEqual(['permanent', 'tls-rejected']);
    expect(classify(err({ code: 'ENOTFOUND' }))).toEqual(['permanent', 'dns-not-found']);
    expect(classify(new DecryptError())).toEqual(['permanent', 'cannot-decrypt']);
    expect(classify(err({ code: 'ECONNREFUSED' }))).toEqual(['transient', 'network']);
    expect(classify(err({ code: 'ECONNRESET' }))).toEqual(['transient', 'network']);
    expect(classify(err({ code: 'NoConnection' }))).toEqual(['transient', 'network']);
    expect(classify(err({ code: 'NoConnection', reason: 'Server shutting down.' }))).toEqual(['transient', 'server-unavailable']);
    expect(toSyncError(err({ code: 'NoConnection', reason: 'Server shutting down.' }), at).message).toContain('BYE: Server shutting down.');
    expect(classify(err({ code: 'ETIMEDOUT' }))).toEqual(['transient', 'timeout']);
    expect(classify(err({ code: 'GREETING_TIMEOUT' }))).toEqual(['transient', 'timeout']);
    expect(classify(err({ code: 'SQLITE_BUSY' }))).toEqual(['transient', 'store-busy']);
    expect(classify(err({ code: '57P01' }))).toEqual(['transient', 'store-busy']);
    expect(classify(err({ serverResponseCode: 'UNAVAILABLE', responseStatus: 'NO' }))).toEqual(['transient', 'server-unavailable']);
    expect(classify(err({ responseStatus: 'BAD', responseText: 'Error in IMAP command' }))).toEqual(['permanent', 'server-refused']);
  });

  it('names the server but never the secret in the message', () => {
    const s = toSyncError(err({ authenticationFailed: true }, 'LOGIN user hunter2 failed'), at);
    expect(s.message).toContain('imap.example.org:993');
    expect(s.message).not.toContain('hunter2');
  });

  it('recognises a folder that vanished between LIST and EXAMINE', () => {
    expect(isMissingFolder(err({ serverResponseCode: 'NONEXISTENT' }))).toBe(true);
    expect(isMissingFolder(err({ responseStatus: 'NO', responseText: "Mailbox doesn't exist: Old" }))).toBe(true);
    expect(isMissingFolder(err({ responseStatus: 'NO', responseText: 'Quota exceeded' }))).toBe(false);
  });
});
