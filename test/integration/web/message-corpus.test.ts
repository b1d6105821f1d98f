// Issue 7, bad input: every malformed or unusual message is stored by the real engine and viewable on the web.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { malformedCorpus } from '../../fixtures/mail-corpus.js';
import { storeKinds } from '../../fixtures/stores.js';
import { createWebMailUser } from '../../fixtures/web-mailbox.js';
import { createTestApp, type TestApp } from '../../fixtures/web.js';
import { UserPool } from '../sync/sync-helpers.js';

const kinds = await storeKinds();
const corpus = malformedCorpus();
let d: Dovecot;
let pool: UserPool;
beforeAll(async () => {
  d = await startDovecot();
  pool = new UserPool(d, 4);
});
afterAll(async () => d?.stop());

/**
 * What IMAP can carry: without the BINARY extension a message travels as text, so Dovecot sends bare LF as
 * CRLF and NUL bytes as 0x80 (seen here). For a message whose bytes are already in that form, this is the identity.
 */
const imapForm = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\0/g, '\x80').replace(/\r?\n/g, '\r\n'), 'latin1');

async function serverSources(user: string, pw: string, folder: string): Promise<Buffer[]> {
  return d.withClient(user, pw, async (c) => {
    const lock = await c.getMailboxLock(folder, { readOnly: true });
    try {
      const out: Buffer[] = [];
      for await (const m of c.fetch('1:*', { source: true })) out.push(m.source ?? Buffer.alloc(0));
      return out;
    } finally {
      lock.release();
    }
  });
}

describe.each(kinds)('malformed message corpus through sync and the web views on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind, { REGISTRATION_OPEN: 'true', ARGON2_MEMORY_KIB: '8192' });
  });
  afterAll(async () => t?.cleanup());

  it(`stores all ${corpus.length} corpus messages and shows each one; the raw download is the bytes written (as IMAP carries them)`, async () => {
    const box = pool.take();
    for (const m of corpus) d.writeMessage(box.user, 'Corpus', m.raw);
    const user = await createWebMailUser(t, d, 'corpus');
    const account = await user.addAccount('Corpus box', box);
    const stats = await account.sync();
    const onServer = await serverSources(box.user, box.pw, 'Corpus');
    expect(onServer.length).toBe(corpus.length);
    expect(stats.remaining).toBe(0);

    const list = (await user.client.get('/api/messages?page_size=200')).json();
    expect(list.total).toBe(onServer.length);

    const unmatched = new Map(corpus.map((m) => [m.name, m.raw]));
    const serverLeft = [...onServer];
    const failures: string[] = [];
    let identical = 0;
    let problemsShown = 0;
    for (const { id, parseError } of list.messages as { id: number; parseError: string | null }[]) {
      for (const url of [`/messages/${id}`, `/api/messages/${id}`]) {
        const r = await user.client.get(url);
        if (r.statusCode !== 200) failures.push(`${url}: ${r.statusCode}`);
        if (url.startsWith('/messages') && parseError !== null) {
          if (r.body.includes('data-parse-error')) problemsShown++;
          else failures.push(`${url} does not show its parse problem`);
        }
      }
      if ((await user.client.get(`/api/messages/${id}`)).json().html !== null) {
        const body = await user.client.get(`/messages/${id}/body`);
        if (body.statusCode !== 200 || /<script|onload=|javascript:|tracker\.example/i.test(body.body))
          failures.push(`/messages/${id}/body`);
      }
      const raw = await user.client.get(`/messages/${id}/raw`);
      if (raw.statusCode !== 200) failures.push(`/messages/${id}/raw: ${raw.statusCode}`);
      // Exactly what the server serves: the engine changes no byte.
      const onServerIdx = serverLeft.findIndex((b) => b.equals(raw.rawPayload));
      if (onServerIdx === -1) failures.push(`/messages/${id}/raw differs from every message on the server`);
      else serverLeft.splice(onServerIdx, 1);
      const match = [...unmatched].find(([, bytes]) => bytes.equals(raw.rawPayload) || imapForm(bytes).equals(raw.rawPayload));
      if (!match) {
        failures.push(`/messages/${id}/raw matches no corpus message (${raw.rawPayload.length} bytes)`);
        continue;
      }
      if (match[1].equals(raw.rawPayload)) identical++;
      unmatched.delete(match[0]);
    }
    expect(failures).toEqual([]);
    expect(problemsShown).toBeGreaterThan(0);
    expect([...unmatched.keys()], 'corpus messages not found by their raw bytes').toEqual([]);
    // 21 of the 24 survive IMAP byte for byte; bare-LF, NUL-byte and UTF-16 messages arrive in IMAP's text form.
    expect(identical).toBe(corpus.filter((m) => imapForm(m.raw).equals(m.raw)).length);
    expect(identical).toBe(corpus.length - 3);
  });
});
