// Connecting to an account's IMAP server the way every part of Mail Helper should: bounded by one
// deadline, TLS verified unless the account trusts one certificate by its SHA-256 fingerprint, and
// failures classified into kinds a person can act on.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import type { AccountSettings, Credentials } from '../sync/engine-types.js';

/**
 * 'credentials': the stored username/password cannot be decrypted or must be re-entered;
 * 'rate-limited': the caller refused to run another test so soon (tests are throttled per user).
 */
export type ConnectFailureKind =
  'credentials' | 'rate-limited' | 'dns' | 'refused' | 'timeout' | 'tls-certificate' | 'tls' | 'auth' | 'server-refused' | 'network';

export interface CertificateInfo {
  /** SHA-256 of the DER certificate, lower-case hex without colons (the form stored in tls_fingerprint). */
  fingerprint: string;
  subject: string;
  issuer: string;
  validTo: string;
}

export class ImapConnectError extends Error {
  constructor(
    readonly kind: ConnectFailureKind,
    message: string,
    readonly certificate?: CertificateInfo,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ImapConnectError';
  }
}

type ConnectTarget = Pick<AccountSettings, 'host' | 'port' | 'security' | 'tlsFingerprint'>;

export function normalizeFingerprint(fp: string): string {
  return fp.replace(/:/g, '').toLowerCase();
}

/** "ab12cd…" → "AB:12:CD:…" for display. */
export function formatFingerprint(fp: string): string {
  return (
    normalizeFingerprint(fp)
      .toUpperCase()
      .match(/.{1,2}/g)
      ?.join(':') ?? ''
  );
}

const CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'MH_FINGERPRINT_MISMATCH',
]);

function describeCert(cert: PeerCertificate): CertificateInfo {
  const name = (o: unknown) =>
    o && typeof o === 'object'
      ? Object.entries(o as Record<string, unknown>)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(', ')
      : '';
  return {
    fingerprint: normalizeFingerprint(cert.fingerprint256),
    subject: name(cert.subject),
    issuer: name(cert.issuer),
    validTo: cert.valid_to,
  };
}

function servername(host: string): { servername?: string } {
  return isIP(host) ? {} : { servername: host };
}

/** Reads lines until one matches, for the few plain IMAP lines the STARTTLS probe needs. */
function waitForLine(socket: Socket, match: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('latin1');
      if (match.test(buf)) {
        socket.off('data', onData);
        resolve();
      } else if (/^(\* BYE|a1 (NO|BAD))/m.test(buf) || buf.length > 16_384) {
        socket.off('data', onData);
        reject(new ImapConnectError('tls', 'The server does not offer STARTTLS.'));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/**
 * Fetches the certificate chain the server presents, without trusting it (nothing but the handshake is
 * sent). Used to show the fingerprint a person may choose to trust, and to pin it on later connections.
 */
export async function probeCertificate(target: ConnectTarget, timeoutMs: number): Promise<{ info: CertificateInfo; pems: string[] }> {
  let socket: Socket | undefined;
  const timer = new Promise<never>((_, reject) => {
    const t = setTimeout(() => reject(Object.assign(new Error('probe timed out'), { code: 'MH_DEADLINE' })), timeoutMs);
    t.unref();
  });
  const work = (async () => {
    let plain: Socket | undefined;
    if (target.security === 'starttls') {
      plain = netConnect({ host: target.host, port: target.port });
      socket = plain;
      await waitForLine(plain, /^\* OK/m);
      plain.write('a1 STARTTLS\r\n');
      await waitForLine(plain, /^a1 OK/m);
    }
    const opts: ConnectionOptions = { ...servername(target.host), rejectUnauthorized: false };
    if (plain) opts.socket = plain;
    else Object.assign(opts, { host: target.host, port: target.port });
    const tls = tlsConnect(opts);
    socket = tls;
    await new Promise<void>((resolve, reject) => {
      tls.once('secureConnect', () => resolve());
      tls.once('error', reject);
    });
    const chain: string[] = [];
    let cert = tls.getPeerCertificate(true);
    const info = describeCert(cert);
    const seen = new Set<string>();
    while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
      seen.add(cert.fingerprint256);
      chain.push(`-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`);
      cert = cert.issuerCertificate;
    }
    return { info, pems: chain };
  })();
  try {
    return await Promise.race([work, timer]);
  } finally {
    socket?.destroy();
    work.catch(() => {});
  }
}

/** ImapFlow options for an account (no logger: ImapFlow would log the LOGIN line's user name). */
async function clientOptions(target: ConnectTarget, creds: Credentials, timeoutMs: number): Promise<ImapFlowOptions> {
  const options: ImapFlowOptions = {
    host: target.host,
    port: target.port,
    secure: target.security === 'tls',
    doSTARTTLS: target.security === 'starttls' ? true : target.security === 'none' ? false : undefined,
    auth: { user: creds.username, pass: creds.password },
    logger: false,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    disableAutoIdle: true,
    verifyOnly: false,
  };
  if (target.security !== 'none' && target.tlsFingerprint) {
    const pinned = normalizeFingerprint(target.tlsFingerprint);
    // Trust exactly the chain the server presents, then insist that its leaf is the pinned certificate.
    const probe = await probeCertificate(target, timeoutMs);
    if (probe.info.fingerprint !== pinned) {
      throw new ImapConnectError(
        'tls-certificate',
        `The server now presents a different TLS certificate (SHA-256 ${formatFingerprint(probe.info.fingerprint)}) than the one trusted for this account. If you expected this change, trust the new certificate.`,
        probe.info,
      );
    }
    options.tls = {
      ca: probe.pems,
      checkServerIdentity: (_host: string, cert: PeerCertificate) =>
        normalizeFingerprint(cert.fingerprint256) === pinned
          ? undefined
          : Object.assign(new Error('certificate fingerprint does not match the trusted one'), { code: 'MH_FINGERPRINT_MISMATCH' }),
    } as ImapFlowOptions['tls'];
  }
  return options;
}

/** Turns anything a connection attempt throws into an ImapConnectError naming what failed. */
export async function classifyConnectError(err: unknown, target: ConnectTarget, timeoutMs: number): Promise<ImapConnectError> {
  if (err instanceof ImapConnectError) return err;
  const e = (err ?? {}) as {
    code?: string;
    message?: string;
    authenticationFailed?: boolean;
    responseStatus?: string;
    responseText?: string;
  };
  const where = `${target.host}:${target.port}`;
  const code = e.code ?? '';
  if (code === 'ENOTFOUND' || code === 'EAI_NONAME' || code === 'EAI_AGAIN' || code === 'EAI_FAIL') {
    return new ImapConnectError(
      'dns',
      `The server name "${target.host}" could not be found (DNS lookup failed). Check the IMAP host name.`,
      undefined,
      { cause: err },
    );
  }
  if (code === 'ECONNREFUSED') {
    return new ImapConnectError(
      'refused',
      `Connection refused by ${where}: nothing accepts connections on that port. Check the port (usually 993 for TLS, 143 for STARTTLS).`,
      undefined,
      { cause: err },
    );
  }
  if (
    ['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'ETIMEDOUT', 'ETIMEOUT', 'MH_DEADLINE'].includes(code) ||
    /timed? ?out/i.test(e.message ?? '')
  ) {
    return new ImapConnectError(
      'timeout',
      `No answer from ${where} within ${Math.round(timeoutMs / 1000)} s. The server or a firewall is not responding; check host, port and security.`,
      undefined,
      { cause: err },
    );
  }
  if (CERT_CODES.has(code)) {
    let certificate: CertificateInfo | undefined;
    try {
      certificate = (await probeCertificate(target, timeoutMs)).info;
    } catch {}
    const why =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? `it is not issued for "${target.host}"`
        : code === 'CERT_HAS_EXPIRED'
          ? 'it has expired'
          : code === 'MH_FINGERPRINT_MISMATCH'
            ? 'it is not the certificate trusted for this account'
            : 'it is self-signed or issued by an unknown authority';
    return new ImapConnectError('tls-certificate', `The server's TLS certificate is not trusted: ${why} (${code}).`, certificate, {
      cause: err,
    });
  }
  if (e.authenticationFailed) {
    return new ImapConnectError('auth', 'Authentication failed: the server rejected the username or password.', undefined, { cause: err });
  }
  if (e.responseStatus === 'NO' || e.responseStatus === 'BAD') {
    return new ImapConnectError(
      'server-refused',
      `The server answered ${e.responseStatus}: ${(e.responseText ?? e.message ?? '').slice(0, 300)}`,
      undefined,
      { cause: err },
    );
  }
  if (/ssl|tls|handshake|EPROTO/i.test(`${code} ${e.message ?? ''}`)) {
    return new ImapConnectError(
      'tls',
      `The TLS handshake with ${where} failed (${code || e.message}). Check the security setting: TLS usually on 993, STARTTLS on 143.`,
      undefined,
      { cause: err },
    );
  }
  return new ImapConnectError('network', `The connection to ${where} failed: ${code || e.message || 'unknown error'}.`, undefined, {
    cause: err,
  });
}

/**
 * A logged-in ImapFlow client within `timeoutMs` (connect, TLS, greeting, login), or an ImapConnectError.
 * The caller logs out (or closes) the client.
 */
export async function connectImap(target: ConnectTarget, creds: Credentials, timeoutMs: number): Promise<ImapFlow> {
  let client: ImapFlow | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('deadline'), { code: 'MH_DEADLINE' })), timeoutMs);
    });
    const attempt = (async () => {
      client = new ImapFlow(await clientOptions(target, creds, timeoutMs));
      client.on('error', () => {});
      await client.connect();
      return client;
    })();
    attempt.catch(() => {});
    return await Promise.race([attempt, deadline]);
  } catch (err) {
    client?.close();
    throw await classifyConnectError(err, target, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}

export interface FolderInfo {
  path: string;
  specialUse: string | null;
}

export type ConnectionTestResult =
  | { ok: true; folders: FolderInfo[]; durationMs: number }
  | { ok: false; kind: ConnectFailureKind; message: string; certificate?: CertificateInfo; durationMs: number };

/** Logs in and lists the folders, all within `timeoutMs`; reports exactly what failed. */
export async function testConnection(target: ConnectTarget, creds: Credentials, timeoutMs: number): Promise<ConnectionTestResult> {
  const t0 = Date.now();
  let client: ImapFlow | undefined;
  try {
    client = await connectImap(target, creds, timeoutMs);
    const remaining = Math.max(1000, timeoutMs - (Date.now() - t0));
    let timer: NodeJS.Timeout | undefined;
    const list = await Promise.race([
      client.list(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('deadline'), { code: 'MH_DEADLINE' })), remaining);
      }),
    ]).finally(() => clearTimeout(timer));
    const folders = list
      .map((f) => ({ path: f.path, specialUse: f.specialUse ?? null }))
      .sort((a, b) => (a.path === 'INBOX' ? -1 : b.path === 'INBOX' ? 1 : a.path.localeCompare(b.path)));
    await client.logout().catch(() => client?.close());
    return { ok: true, folders, durationMs: Date.now() - t0 };
  } catch (err) {
    client?.close();
    const e = await classifyConnectError(err, target, timeoutMs);
    return { ok: false, kind: e.kind, message: e.message, certificate: e.certificate, durationMs: Date.now() - t0 };
  }
}
