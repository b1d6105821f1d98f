// Issue 7 item 4 over the wire: a shorter pass of the seeded malformed requests against a real listening
// `mail-helper serve`, sent on raw sockets, plus requests that only a raw socket can send (broken request
// lines, bytes that are not UTF-8 in the path, bad Content-Length, broken chunking) → never a 5xx, no crash.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../fixtures/web.js';
import {
  checkResponse,
  describeRequest,
  destructive,
  generateBadRequests,
  appRoutes,
  type BadRequest,
  type RouteInfo,
} from '../fixtures/bad-requests.js';
import { startServe, type RunningProcess } from '../fixtures/processes.js';
import { createTestStore, type TestStore } from '../fixtures/stores.js';

const REQUESTS = 300;
const SEED = Number(process.env.MH_FUZZ_SEED ?? 20261129) + 1;

interface RawResponse {
  status: number | null;
  headers: string;
  body: string;
}

/** Sends raw bytes on a fresh connection; resolves with the parsed status line (null: closed without an answer). */
function sendRaw(port: number, bytes: Buffer): Promise<RawResponse> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = connect(port, '127.0.0.1');
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      resolve({
        status: m ? Number(m[1]) : null,
        headers: split < 0 ? text : text.slice(0, split),
        body: split < 0 ? '' : text.slice(split + 4),
      });
    };
    // A request the server is still waiting on (e.g. a body shorter than its Content-Length) ends here.
    const timer = setTimeout(finish, 3000);
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', finish);
    sock.on('close', finish);
    // The server may answer 413 and close before a huge body is written: the answer still counts.
    sock.on('error', () => {});
    sock.write(bytes);
  });
}

function serialize(r: BadRequest, port: number): Buffer {
  const headers = {
    host: `127.0.0.1:${port}`,
    connection: 'close',
    ...r.headers,
    ...(r.body ? { 'content-length': String(r.body.length) } : {}),
  };
  const head = `${r.method} ${r.url} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), r.body ?? Buffer.alloc(0)]);
}

/** Requests only a raw socket can send. */
function transportCases(port: number, cookie: string, csrf: string): { label: string; bytes: Buffer }[] {
  const host = `Host: 127.0.0.1:${port}\r\nConnection: close\r\n`;
  const auth = `Cookie: ${cookie}\r\n`;
  const b = (s: string) => Buffer.from(s, 'latin1');
  const post = (path: string, ctype: string, body: Buffer, extra = '') =>
    Buffer.concat([
      b(
        `POST ${path} HTTP/1.1\r\n${host}${auth}Content-Type: ${ctype}\r\nx-csrf-token: ${csrf}\r\n${extra}Content-Length: ${body.length}\r\n\r\n`,
      ),
      body,
    ]);
  return [
    {
      label: 'invalid UTF-8 in the path',
      bytes: Buffer.concat([b('GET /messages/'), Buffer.from([0xff, 0xfe, 0xc3]), b(` HTTP/1.1\r\n${host}${auth}\r\n`)]),
    },
    {
      label: 'invalid UTF-8 in the query',
      bytes: Buffer.concat([b('GET /?folder='), Buffer.from([0xc0, 0xaf]), b(` HTTP/1.1\r\n${host}${auth}\r\n`)]),
    },
    { label: 'bare percent in the path', bytes: b(`GET /messages/% HTTP/1.1\r\n${host}${auth}\r\n`) },
    { label: 'invalid percent-encoding in the path', bytes: b(`GET /tasks/%zz%E0%A4 HTTP/1.1\r\n${host}${auth}\r\n`) },
    { label: 'encoded NUL in the path', bytes: b(`GET /api/messages/%00 HTTP/1.1\r\n${host}${auth}Accept: application/json\r\n\r\n`) },
    { label: 'overlong UTF-8 slash in the static path', bytes: b(`GET /static/%c0%af..%c0%afpackage.json HTTP/1.1\r\n${host}\r\n`) },
    { label: 'dot segments in the static path', bytes: b(`GET /static/../../package.json HTTP/1.1\r\n${host}\r\n`) },
    { label: 'garbage request line', bytes: b('HELLO THERE\r\n\r\n') },
    { label: 'unknown method', bytes: b(`BREW / HTTP/1.1\r\n${host}\r\n`) },
    { label: 'HTTP/1.1 without Host', bytes: b('GET / HTTP/1.1\r\nConnection: close\r\n\r\n') },
    { label: 'header without a colon', bytes: b(`GET / HTTP/1.1\r\n${host}this is not a header\r\n\r\n`) },
    { label: 'header too large', bytes: b(`GET / HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`) },
    { label: 'url too long', bytes: b(`GET /?q=${'a'.repeat(70_000)} HTTP/1.1\r\n${host}\r\n\r\n`) },
    {
      label: 'two different Content-Length headers',
      bytes: b(`POST /login HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}`),
    },
    {
      label: 'negative Content-Length',
      bytes: b(`POST /login HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: -1\r\n\r\n{}`),
    },
    {
      label: 'Content-Length longer than the body',
      bytes: b(`POST /login HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 50\r\n\r\n{}`),
    },
    {
      label: 'bad chunk size',
      bytes: b(`POST /login HTTP/1.1\r\n${host}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`),
    },
    {
      label: 'chunked and Content-Length',
      bytes: b(
        `POST /login HTTP/1.1\r\n${host}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
      ),
    },
    {
      label: 'gzip body that is not gzip',
      bytes: post('/settings/accounts', 'application/json', b('{"name":"x"}'), 'Content-Encoding: gzip\r\n'),
    },
    {
      label: 'JSON in UTF-16',
      bytes: post('/settings/accounts', 'application/json; charset=utf-16', Buffer.from('{"name":"x"}', 'utf16le')),
    },
    {
      label: 'JSON with a BOM and invalid UTF-8',
      bytes: post('/api/accounts/1/test', 'application/json', Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0xff, 0x7d])),
    },
    {
      label: 'form with invalid UTF-8 and bad percent-encoding',
      bytes: post(
        '/settings/password',
        'application/x-www-form-urlencoded',
        Buffer.concat([b(`_csrf=${csrf}&current_password=%E0%A4&new_password=`), Buffer.from([0xff, 0xfe])]),
      ),
    },
    { label: 'multipart with no parts', bytes: post('/settings/accounts', 'multipart/form-data; boundary=zz', b('--zz--\r\n')) },
    { label: 'HTTP/2 preface on an HTTP/1 port', bytes: b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n') },
  ];
}

describe('malformed requests against a listening `mail-helper serve`', () => {
  let ts: TestStore;
  let serve: RunningProcess;
  let routes: RouteInfo[];

  beforeAll(async () => {
    // The routes come from Fastify itself, read from an app built from the same source as dist/.
    const t = await createTestApp('sqlite');
    routes = appRoutes(t.app);
    await t.cleanup();
    ts = await createTestStore('sqlite', { QUEUE: 'local', REGISTRATION_OPEN: 'true' });
    serve = await startServe({ ...ts.env, QUEUE: 'local', REGISTRATION_OPEN: 'true', LOG_LEVEL: 'warn' });
  }, 60_000);
  afterAll(async () => {
    await serve?.stop();
    await ts?.cleanup();
  });

  /** A cookie-keeping fetch against the process, for the logged-in user the malformed requests act as. */
  async function loggedInUser(name: string) {
    const jar = new Map<string, string>();
    let csrf = '';
    const call = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${serve.url}${path}`, {
        redirect: 'manual',
        ...init,
        headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '), ...(init.headers as Record<string, string>) },
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const [k, v] = pair.split('=');
        if (v) jar.set(k, v);
        else jar.delete(k);
      }
      const text = await res.text();
      const m = /<meta name="csrf-token" content="([^"]+)"/.exec(text);
      if (m) csrf = m[1];
      return { status: res.status, text };
    };
    const form = (path: string, fields: Record<string, string>) =>
      call(path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
      });
    await call('/register');
    expect(
      (await form('/register', { username: name, password: 'a long web password', password_confirm: 'a long web password' })).status,
    ).toBe(303);
    await call('/settings/accounts/new');
    const added = await form('/settings/accounts', {
      name: 'x',
      host: '127.0.0.1',
      security: 'none',
      port: '1',
      allow_insecure: 'on',
      username: 'u',
      password: 'p',
      max_emails: '',
      enabled: 'on',
    });
    expect(added.status).toBe(303);
    await call('/');
    return { call, cookie: () => [...jar].map(([k, v]) => `${k}=${v}`).join('; '), csrf: () => csrf };
  }

  it(`answers ${REQUESTS} generated and the raw transport cases with 4xx (never 5xx) and keeps running`, async () => {
    const alice = await loggedInUser('alice');
    const bob = await loggedInUser('bob');
    const requests = generateBadRequests(
      routes,
      { realIds: { id: ['1'], idx: ['0'] }, cookie: alice.cookie(), csrf: alice.csrf(), otherCsrf: bob.csrf(), destructive },
      REQUESTS,
      SEED,
    );
    const failures: string[] = [];
    const statuses = new Map<string, number>();
    const count = (s: number | null) => statuses.set(String(s), (statuses.get(String(s)) ?? 0) + 1);
    for (const r of requests) {
      const res = await sendRaw(serve.port, serialize(r, serve.port));
      count(res.status);
      if (res.status === null) {
        failures.push(`no answer\n${describeRequest(r)}`);
        continue;
      }
      const ctype = /content-type: ([^\r\n]+)/i.exec(res.headers)?.[1] ?? '';
      const chunked = /transfer-encoding: chunked/i.test(res.headers);
      // A chunked body carries size lines: check the JSON shape only for plain bodies.
      const problem = checkResponse(r, res.status, chunked ? '' : ctype, res.body);
      if (problem) failures.push(`${problem}\n${describeRequest(r)}`);
    }
    const transport = transportCases(serve.port, alice.cookie(), alice.csrf());
    for (const c of transport) {
      const res = await sendRaw(serve.port, c.bytes);
      count(res.status);
      // Node's HTTP parser may drop a connection it cannot parse at all; anything it answers must be below 500.
      if (res.status !== null && res.status >= 500) failures.push(`${c.label}: got ${res.status} ${res.body.slice(0, 200)}`);
    }
    console.log(
      `[bad-input http] ${requests.length} generated + ${transport.length} raw transport requests against serve; statuses: ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(failures.slice(0, 10)).toEqual([]);

    expect(serve.proc.exitCode).toBeNull();
    expect((await fetch(`${serve.url}/healthz`)).status).toBe(200);
    const page = await alice.call('/settings/accounts');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Mail accounts');
  }, 120_000);

  it('answers a body over the limit with 413 every time, though the client sends it all at once', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 'x');
    const head = `POST /login HTTP/1.1\r\nhost: 127.0.0.1:${serve.port}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
    const statuses: (number | null)[] = [];
    // Closed with the body unread, the connection was reset, and the reset often beat the 413 to the client.
    for (let i = 0; i < 10; i++) statuses.push((await sendRaw(serve.port, Buffer.concat([Buffer.from(head), body]))).status);
    expect(statuses).toEqual(Array(10).fill(413));
  }, 60_000);
});
