import { describe, expect, it } from 'vitest';
import { classifyConnectError, formatFingerprint, normalizeFingerprint } from '../../../src/accounts/imap-connect.js';

const target = { host: 'imap.example.test', port: 993, security: 'tls' as const, tlsFingerprint: null };

describe('connection error classification', () => {
  it('a server NO/BAD answer is reported with the server text', async () => {
    const e = await classifyConnectError(
      Object.assign(new Error('Command failed'), { responseStatus: 'NO', responseText: '[UNAVAILABLE] Maintenance' }),
      target,
      15_000,
    );
    expect(e.kind).toBe('server-refused');
    expect(e.message).toBe('The server answered NO: [UNAVAILABLE] Maintenance');
  });

  it('maps Node and ImapFlow codes to distinct kinds', async () => {
    const kind = async (code: string) => (await classifyConnectError(Object.assign(new Error(code), { code }), target, 15_000)).kind;
    expect(await kind('ENOTFOUND')).toBe('dns');
    expect(await kind('ECONNREFUSED')).toBe('refused');
    expect(await kind('GREETING_TIMEOUT')).toBe('timeout');
    expect(await kind('EPROTO')).toBe('tls');
    expect(await kind('ECONNRESET')).toBe('network');
    expect((await classifyConnectError(Object.assign(new Error('x'), { authenticationFailed: true }), target, 1)).kind).toBe('auth');
  });

  it('fingerprints are stored colon-free lower-case and shown with colons', () => {
    expect(normalizeFingerprint('AB:CD:0F')).toBe('abcd0f');
    expect(formatFingerprint('abcd0f')).toBe('AB:CD:0F');
  });
});
