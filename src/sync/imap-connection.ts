// Opens the ImapFlow session for one sync run: security mode, certificate pinning, timeouts.
// The engine only reads: mailboxes are opened with EXAMINE and bodies fetched with BODY.PEEK.
import net from 'node:net';
import tls from 'node:tls';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import type { AccountSettings, Credentials } from './engine-types.js';
import { permanent } from './errors.js';

const DEFAULT_TIMEOUT_MS = 15_000;

/** Normalises "AB:cd:…" / "abcd…" to lowercase hex without colons. */
export function normaliseFingerprint(fp: string): string {
  return fp.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
}

function pinningError(host: string): Error {
  const err = new Error(`The certificate of ${host} does not match the trusted fingerprint`) as Error & { code: string };
  err.code = 'TLS_FINGERPRINT_MISMATCH';
  return err;
}

/**
 * A transport that accepts exactly the certificate with the pinned SHA-256 fingerprint (CA-signed
 * or not). The check runs on the TLS handshake, before ImapFlow sends any credential.
 */
function pinnedTransport(fingerprint: string): NonNullable<ImapFlowOptions['transport']> {
  const want = normaliseFingerprint(fingerprint);
  const secure = (opts: tls.ConnectionOptions, host: string, onSecure: () => void): tls.TLSSocket => {
    const socket = tls.connect({ ...opts, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerCertificate();
      if (!cert || normaliseFingerprint(cert.fingerprint256 ?? '') !== want) {
        socket.destroy(pinningError(host));
        return;
      }
      onSecure();
    });
    return socket;
  };
  return {
    connect(options, onConnect) {
      const { host, port, servername } = options as { host: string; port: number; servername?: string };
      if ((options as { secure?: boolean }).secure) return secure({ host, port, servername }, host, onConnect) as never;
      return net.connect({ host, port }, onConnect) as never;
    },
    upgrade(socket, options, onSecure) {
      const { host, servername } = options as { host: string; servername?: string };
      return secure({ socket: socket as unknown as net.Socket, servername }, host, onSecure) as never;
    },
  };
}

/** `onExpunge` receives the UIDs of VANISHED (EARLIER) responses during a CHANGEDSINCE fetch. */
export function createImapClient(
  account: AccountSettings,
  credentials: Credentials,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  onExpunge: (uid: number | undefined) => void = () => {},
): ImapFlow {
  if (!account.host || !Number.isInteger(account.port) || account.port < 1 || account.port > 65535)
    throw permanent('invalid-settings', `Invalid IMAP server address "${account.host}:${account.port}": the port must be 1–65535.`);
  const opts: ImapFlowOptions = {
    host: account.host,
    port: account.port,
    secure: account.security === 'tls',
    // 'none' must never upgrade silently; 'starttls' must never fall back to cleartext.
    doSTARTTLS: account.security === 'starttls' ? true : account.security === 'none' ? false : undefined,
    auth: { user: credentials.username, pass: credentials.password },
    // On loopback and LAN, DEFLATE costs far more CPU than it saves (notes/dovecot.md).
    disableCompression: true,
    // Our own logs carry what matters; ImapFlow's would include protocol lines with mail data.
    logger: false,
    qresync: true,
    expungeHandler: (ev) => onExpunge(ev.uid),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: Math.max(timeoutMs * 4, 30_000),
    tls: { minVersion: 'TLSv1.2' },
  };
  if (account.tlsFingerprint && account.security !== 'none') opts.transport = pinnedTransport(account.tlsFingerprint);
  return new ImapFlow(opts);
}

/** The text of the server's BYE, once one arrived (ImapFlow keeps it on the client, not public). */
export function byeReason(client: ImapFlow | undefined): string | undefined {
  const bye = (client as { byeReason?: unknown } | undefined)?.byeReason;
  return typeof bye === 'string' ? bye : undefined;
}

let collationLoaded = false;

/**
 * Connects. ImapFlow's list() ranks special-use candidates with localeCompare, and the first such
 * call in a process loads ICU's collation data (~10 ms, blocking). Loaded while the socket waits for
 * the server's greeting, it takes no time of its own; but only after the connect is under way: Node
 * opens a connection to an IP address on the next tick, so loading it at once held the connection
 * back by the load's full length.
 */
export async function connectImap(client: ImapFlow): Promise<void> {
  const connecting = client.connect();
  if (!collationLoaded) {
    collationLoaded = true;
    setImmediate(() => 'INBOX'.localeCompare('Sent'));
  }
  await connecting;
}
