// Bodies read straight from ImapFlow's connection (src/sync/body-fetch.ts), against Dovecot: the same
// fields as ImapFlow's fetch(), the bodies never through ImapFlow's parser, and the connection handed
// back to ImapFlow in every way a read can end.
import { X509Certificate, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBodies } from '../../../src/sync/body-fetch.js';
import type { FetchedBody } from '../../../src/sync/fetch-response.js';
import { connectImap, createImapClient } from '../../../src/sync/imap-connection.js';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { startFaultProxy, type FaultProxy } from '../../fixtures/fault-proxy.js';
import { rawMessage } from '../../fixtures/sync-account.js';
import { UserPool } from './sync-helpers.js';

let plain: Dovecot;
let tls: Dovecot;
let plainUsers: UserPool;
let tlsUsers: UserPool;
beforeAll(async () => {
  [plain, tls] = await Promise.all([startDovecot(), startDovecot({ tls: true })]);
  plainUsers = new UserPool(plain, 10);
  tlsUsers = new UserPool(tls, 10);
});
afterAll(async () => {
  await plain?.stop();
  await tls?.stop();
});

const servers = [
  { name: 'plain', d: () => plain, users: () => plainUsers },
  { name: 'TLS', d: () => tls, users: () => tlsUsers },
];

/** A mailbox with small, empty-bodied, 8-bit and large (many socket reads) messages, some flagged. */
function fill(d: Dovecot, user: string): void {
  d.writeMessage(user, 'INBOX', rawMessage({ subject: 'first' }), { flags: ['\\Seen'] });
  d.writeMessage(user, 'INBOX', Buffer.from('Subject: empty\r\n\r\n'));
  d.writeMessage(user, 'INBOX', Buffer.concat([Buffer.from('Subject: 8bit\r\n\r\n'), Buffer.from([0xe9, 0xff, 0x7b, 0x7d, 0x0d, 0x0a])]));
  const big = randomBytes(600_000).toString('base64').replace(/.{76}/g, '$&\r\n');
  d.writeMessage(user, 'INBOX', `Subject: big\r\nContent-Type: application/octet-stream\r\n\r\n${big}\r\n`, {
    flags: ['\\Flagged', '\\Answered'],
  });
  d.writeMessage(user, 'INBOX', rawMessage({ subject: 'last {5}' }));
}

async function open(s: (typeof servers)[number], via?: { host: string; port: number }): Promise<ImapFlow> {
  const { user, pw } = s.users().take();
  fill(s.d(), user);
  return connectAs(s.d(), user, pw, via);
}

/** A client as the sync engine makes it (compression off, QRESYNC on, the certificate pinned under TLS). */
async function connectAs(d: Dovecot, user: string, pw: string, via?: { host: string; port: number }): Promise<ImapFlow> {
  const secure = d.tlsPort !== null;
  const client = createImapClient(
    {
      id: 1,
      userId: 1,
      host: via?.host ?? d.host,
      port: via?.port ?? (secure ? d.tlsPort! : d.port),
      security: secure ? 'tls' : 'none',
      includeFolders: [],
      excludeFolders: [],
      sinceDate: null,
      unseenOnly: false,
      maxEmails: 0,
      tlsFingerprint: secure ? new X509Certificate(readFileSync(d.certPem!)).fingerprint256 : null,
    },
    { username: user, password: pw },
  );
  await connectImap(client);
  return client;
}

async function all(it: AsyncIterable<FetchedBody>): Promise<FetchedBody[]> {
  const out: FetchedBody[] = [];
  for await (const m of it) out.push({ uid: m.uid, flags: m.flags, size: m.size, internalDate: m.internalDate, source: m.source });
  return out;
}

/** Bytes ImapFlow's own parser has read from the connection. */
const parsedBytes = (c: ImapFlow) => (c as unknown as { streamer: { readBytesCounter: number } }).streamer.readBytesCounter;

/** Runs fn with INBOX open read-only (and locked) on a new connection to a filled mailbox (`via` a proxy). */
async function inInbox(
  s: (typeof servers)[number],
  fn: (c: ImapFlow) => Promise<void>,
  via?: { host: string; port: number },
): Promise<void> {
  const c = await open(s, via);
  try {
    const lock = await c.getMailboxLock('INBOX', { readOnly: true });
    try {
      await fn(c);
    } finally {
      lock.release();
    }
  } finally {
    await c.logout();
  }
}

/** ImapFlow's own fetch of the same fields a body read gives. */
const viaImapFlow = (c: ImapFlow) =>
  all(c.fetch('1:*', { uid: true, flags: true, size: true, internalDate: true, source: true }, { uid: true }));

/** The same five messages with the same fields (sources compared with equals(): a deep equality of 800 KB buffers takes seconds). */
function expectSame(got: FetchedBody[], want: FetchedBody[]): void {
  expect(got.map((m) => ({ ...m, source: undefined }))).toEqual(want.map((m) => ({ ...m, source: undefined })));
  expect(got.map((m, i) => m.source?.equals(want[i].source!))).toEqual([true, true, true, true, true]);
}

/** inInbox on the plain server, through a fault proxy that fn can make the server's answers odd with. */
async function throughProxy(fn: (c: ImapFlow, proxy: FaultProxy) => Promise<void>): Promise<void> {
  const proxy = await startFaultProxy({ host: plain.host, port: plain.port });
  try {
    await inInbox(servers[0], (c) => fn(c, proxy), proxy);
  } finally {
    await proxy.close();
  }
}

describe.each(servers)('bodies read straight from the connection ($name)', (s) => {
  it('come with the fields ImapFlow’s fetch gives, without passing its parser, and ImapFlow goes on after', () =>
    inInbox(s, async (c) => {
      const reference = await viaImapFlow(c);
      const before = parsedBytes(c);
      const direct = await all(readBodies(c, '1:*', true));
      expectSame(direct, reference);
      expect(direct.map((m) => /Subject: (\w+)/.exec(m.source!.toString('latin1'))?.[1])).toEqual([
        'first',
        'empty',
        '8bit',
        'big',
        'last',
      ]);
      const bodyBytes = direct.reduce((n, m) => n + m.source!.length, 0);
      expect(bodyBytes).toBeGreaterThan(800_000);
      expect(parsedBytes(c) - before).toBeLessThan(1000);
      // Without the metadata: UID and body only.
      expect((await all(readBodies(c, '2,4', false))).map((m) => [m.uid, m.flags, m.source?.length])).toEqual([
        [2, undefined, direct[1].source!.length],
        [4, undefined, direct[3].source!.length],
      ]);
      // The connection is ImapFlow's again: its commands and their answers work as before.
      expect(await c.search({ flagged: true }, { uid: true })).toEqual([4]);
      expect(await c.status('INBOX', { messages: true })).toMatchObject({ messages: 5 });
    }));

  it('leave ImapFlow’s own commands to it: a keepalive NOOP sent during the read, and the EXISTS it brings', () =>
    inInbox(s, async (c) => {
      const exists: number[] = [];
      c.on('exists', (e: { count: number }) => exists.push(e.count));
      const auth = (c as unknown as { options: { auth: { user: string; pass: string } } }).options.auth;
      // Another session's APPEND: Dovecot tells this one at its next full sync (the NOOP).
      const other = await connectAs(s.d(), auth.user, auth.pass);
      await other.append('INBOX', rawMessage({ subject: 'new' }));
      await other.logout();
      const before = parsedBytes(c);
      const got: number[] = [];
      let noop: Promise<unknown> | undefined;
      for await (const m of readBodies(c, '1:*', true)) {
        got.push(m.uid);
        // As ImapFlow's socket timeout does: a NOOP written while the bodies still stream in.
        noop ??= c.noop();
      }
      await noop;
      expect(got).toEqual([1, 2, 3, 4, 5]);
      expect(parsedBytes(c) - before).toBeLessThan(1000); // the NOOP's answer, not the bodies
      expect(exists).toEqual([6]);
      expect(c.mailbox && c.mailbox.exists).toBe(6);
      expect(await c.search({ all: true }, { uid: true })).toEqual([1, 2, 3, 4, 5, 6]);
    }));

  it('hand the connection back when the reader stops early or the server refuses the command', () =>
    inInbox(s, async (c) => {
      for await (const m of readBodies(c, '1:*', true)) {
        expect(m.uid).toBe(1);
        break;
      }
      expect((await all(readBodies(c, '1:*', true))).map((m) => m.uid)).toEqual([1, 2, 3, 4, 5]);
      await expect(all(readBodies(c, '0:abc', true))).rejects.toMatchObject({ responseStatus: 'BAD' });
      expect(await c.search({ seen: true }, { uid: true })).toEqual([1]);
    }));

  it('fail as a lost connection when the connection is cut', async () => {
    const c = await open(s);
    const lock = await c.getMailboxLock('INBOX', { readOnly: true });
    try {
      const read = all(
        (async function* () {
          for await (const m of readBodies(c, '1:*', true)) {
            // Cut once the first body is in: the big one is still on its way.
            (c as unknown as { socket: { destroy(): void } }).socket.destroy();
            yield m;
          }
        })(),
      );
      await expect(read).rejects.toMatchObject({ code: 'NoConnection' });
    } finally {
      lock.release();
      c.close();
    }
  });
});

describe('a FETCH response the reader cannot parse (a server quirk ImapFlow accepts)', () => {
  // A NUL in a quoted string: ImapFlow's parser takes it, this reader's does not (it marks literals so).
  const quirk = (line: string) => line.replace('FETCH (', 'FETCH (X-NOTE "a\0b" ');

  it('has ImapFlow read the rest: every message once, with the same fields, and the connection goes on', () =>
    throughProxy(async (c, proxy) => {
      const reference = await viaImapFlow(c);
      // The third response only: two bodies come from this reader, the other three from ImapFlow's fetch.
      let n = 0;
      proxy.rewriteFetch((line) => (++n === 3 ? quirk(line) : line), 5);
      proxy.resetCounters();
      expectSame(await all(readBodies(c, '1:*', true)), reference);
      expect(proxy.commands).toEqual(['UID FETCH', 'UID FETCH']);
      // Every response (the server always does so): ImapFlow reads them all.
      proxy.rewriteFetch(quirk, 10);
      expectSame(await all(readBodies(c, '1:*', true)), reference);
      expect(await c.search({ flagged: true }, { uid: true })).toEqual([4]);
    }));
});

describe('an untagged response amid the bodies', () => {
  it('goes to ImapFlow, whose events fire as if it had read the whole answer', () =>
    throughProxy(async (c, proxy) => {
      const flags: { uid?: number; flags: Set<string> }[] = [];
      c.on('flags', (e: { uid?: number; flags: Set<string> }) => flags.push({ uid: e.uid, flags: e.flags }));
      // Dovecot sends no such thing during a UID FETCH; other servers send flag changes any time.
      let n = 0;
      proxy.rewriteFetch((line) => (++n === 2 ? `* 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged))\r\n${line}` : line), 2);
      const got = await all(readBodies(c, '1:*', true));
      expect(got.map((m) => m.uid)).toEqual([1, 2, 3, 4, 5]);
      expect(flags).toEqual([{ uid: 1, flags: new Set(['\\Seen', '\\Flagged']) }]);
      expect(await c.search({ flagged: true }, { uid: true })).toEqual([4]);
    }));
});
