import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { storeKinds } from '../../fixtures/stores.js';
import { createWebMailUser, type WebMailUser } from '../../fixtures/web-mailbox.js';
import { createTestApp, type TestApp } from '../../fixtures/web.js';
import { UserPool } from '../sync/sync-helpers.js';

const kinds = await storeKinds();
let d: Dovecot;
let pool: UserPool;
beforeAll(async () => {
  d = await startDovecot();
  pool = new UserPool(d, 8);
});
afterAll(async () => d?.stop());

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');
const head = (id: string, subject: string, date: string) =>
  `From: Bob <bob@example.org>\nTo: alice@example.org\nSubject: ${subject}\nMessage-ID: <${id}@views.example>\nDate: ${date}\nMIME-Version: 1.0\n`;

const HOSTILE_HTML =
  '<html><head><style>p{color:#123456;background:url(http://tracker.example/bg.png)}</style></head>' +
  '<body onload="steal()"><script>alert("x")</script><p class="keep" onclick="evil()">Safe paragraph</p>' +
  '<img src="https://tracker.example/pixel.gif" alt="pixel"><a href="javascript:alert(1)">click</a>' +
  '<a href="https://example.org/page">real link</a><iframe src="https://evil.example/frame"></iframe>' +
  '<form action="https://evil.example/post"><input name="pw"></form><object data="https://evil.example/x.swf"></object></body></html>';
const hostile = crlf(
  `${head('hostile', 'Hostile <b>HTML</b>', 'Wed, 4 Jan 2023 10:00:00 +0000')}Content-Type: multipart/alternative; boundary="alt"\n\n--alt\nContent-Type: text/plain; charset=utf-8\n\nPlain <version> & more\n--alt\nContent-Type: text/html; charset=utf-8\n\n${HOSTILE_HTML}\n--alt--\n`,
);
const pdfBytes = Buffer.from([0x25, 0x50, 0x44, 0x46, 0x2d, 0x00, 0xff, 0x10, 0x80, 0x0d, 0x0a, 0x7f]);
const bigBytes = Buffer.alloc(4000, 0x41);
const withAttachments = crlf(
  `${head('att', 'With attachments', 'Thu, 5 Jan 2023 10:00:00 +0000')}Content-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/plain\n\nsee attached\n--m\nContent-Type: application/pdf; name="../r\u00e9sum\u00e9 \\"final\\".pdf"\nContent-Disposition: attachment; filename*=UTF-8''..%2Fr%C3%A9sum%C3%A9%20%22final%22.pdf\nContent-Transfer-Encoding: base64\n\n${pdfBytes.toString('base64')}\n--m\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="big.bin"\nContent-Transfer-Encoding: base64\n\n${bigBytes.toString('base64').replace(/.{76}/g, '$&\n')}\n--m--\n`,
);

describe.each(kinds)('message views on %s', (kind) => {
  let t: TestApp;
  let alice: WebMailUser;
  let mallory: WebMailUser;
  let acc1: number;
  let acc2: number;
  let ids: Record<string, number>;

  beforeAll(async () => {
    t = await createTestApp(kind, { REGISTRATION_OPEN: 'true', ARGON2_MEMORY_KIB: '8192' });
    alice = await createWebMailUser(t, d, 'alice');
    mallory = await createWebMailUser(t, d, 'mallory');
    const box1 = pool.take();
    const box2 = pool.take();
    d.writeMessage(box1.user, 'INBOX', crlf(`${head('plain', 'Plain one', 'Mon, 2 Jan 2023 10:00:00 +0000')}\nHello Alice\n`), {
      flags: ['\\Seen'],
    });
    d.writeMessage(box1.user, 'INBOX', hostile);
    d.writeMessage(box1.user, 'INBOX', withAttachments);
    for (let i = 1; i <= 3; i++)
      d.writeMessage(box1.user, 'Archive', crlf(`${head(`arch${i}`, `Archived ${i}`, `Sun, ${i} Jan 2022 10:00:00 +0000`)}\nold ${i}\n`));
    d.writeMessage(box2.user, 'INBOX', crlf(`${head('other', 'Other account', 'Fri, 6 Jan 2023 10:00:00 +0000')}\nsecond account\n`));
    const a1 = await alice.addAccount('Main', box1, { maxAttachmentBytes: 1000 });
    const a2 = await alice.addAccount('Second', box2);
    acc1 = a1.id;
    acc2 = a2.id;
    expect((await a1.sync()).fetched).toBe(6);
    expect((await a2.sync()).fetched).toBe(1);
    const all = await alice.client.get('/api/messages?page_size=200');
    ids = Object.fromEntries((all.json().messages as { id: number; subject: string }[]).map((m) => [m.subject, m.id]));
  });
  afterAll(async () => t?.cleanup());

  it('the dashboard lists every message with date, sender, subject, account, folder and flags, newest first', async () => {
    const r = await alice.client.get('/');
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('Messages 1–7 of 7');
    const subjects = [...r.body.matchAll(/<a href="\/messages\/\d+">\s*([^<]*?)\s*<\/a\s*>/g)].map((m) => m[1]);
    expect(subjects).toEqual([
      'Other account',
      'With attachments',
      'Hostile &lt;b&gt;HTML&lt;/b&gt;',
      'Plain one',
      'Archived 3',
      'Archived 2',
      'Archived 1',
    ]);
    const plainRow = new RegExp(`<tr data-message-id="${ids['Plain one']}"[\\s\\S]*?</tr>`).exec(r.body)![0];
    expect(plainRow).toContain('2023-01-02 10:00 UTC');
    expect(plainRow).toContain('Bob &lt;bob@example.org&gt;');
    expect(plainRow).toMatch(/<td>Main<\/td>\s*<td>INBOX<\/td>\s*<td>seen<\/td>/);
    expect(r.headers['content-security-policy']).not.toContain('unsafe-inline');
  });

  it('filters by account and by folder, and pages through the list without gaps or repeats', async () => {
    const api = async (q: string) => (await alice.client.get(`/api/messages?${q}`)).json();
    expect((await api(`account=${acc2}`)).messages.map((m: { subject: string }) => m.subject)).toEqual(['Other account']);
    const folders = await t.ts.store.db.selectFrom('folders').select(['id', 'path', 'account_id']).execute();
    const archive = Number(folders.find((f) => f.path === 'Archive' && Number(f.account_id) === acc1)!.id);
    const inArchive = await api(`account=${acc1}&folder=${archive}`);
    expect(inArchive.total).toBe(3);
    expect(inArchive.messages.map((m: { folderPath: string }) => m.folderPath)).toEqual(['Archive', 'Archive', 'Archive']);
    // A folder of another account than the chosen one is refused.
    expect(Object.keys((await alice.client.get(`/api/messages?account=${acc2}&folder=${archive}`)).json().fields)).toEqual(['folder']);
    const html = await alice.client.get(`/?folder=${archive}`);
    expect(html.body).toContain('Messages 1–3 of 3');
    expect(html.body).toContain(`<option value="${archive}" selected>Main: Archive</option>`);

    const seen: number[] = [];
    for (let page = 1; page <= 4; page++) {
      const p = await api(`page_size=2&page=${page}`);
      expect(p.total).toBe(7);
      expect(p.messages.length).toBe(page < 4 ? 2 : 1);
      seen.push(...p.messages.map((m: { id: number }) => m.id));
    }
    expect(new Set(seen).size).toBe(7);
    const page2 = await alice.client.get('/?page_size=2&page=2');
    expect(page2.body).toContain('Page 2 of 4');
    expect(page2.body).toContain('href="/?page_size=2&amp;page=3"');
    expect((await api('page=99')).messages).toEqual([]);
  });

  it('bad query parameters answer 400 naming the parameter, on the page and in the API', async () => {
    const cases: [string, string][] = [
      ['page=0', 'page'],
      ['page=abc', 'page'],
      ['page=1&page=2', 'page'],
      ['page_size=500', 'page_size'],
      ['account=-1', 'account'],
      ['account=x', 'account'],
      ['folder=1.5', 'folder'],
      ['account=999999', 'account'],
    ];
    for (const [q, param] of cases) {
      const api = await alice.client.get(`/api/messages?${q}`);
      expect(api.statusCode, q).toBe(400);
      expect(Object.keys(api.json().fields), q).toEqual([param]);
      const page = await alice.client.get(`/?${q}`);
      expect(page.statusCode, q).toBe(400);
      expect(page.body, q).toContain(`<li>${param.replace('_', ' ')}: `);
    }
    // Another user's account id is not a valid filter for mallory.
    expect((await mallory.client.get(`/api/messages?account=${acc1}`)).statusCode).toBe(400);
    for (const url of ['/messages/abc', '/messages/0', `/messages/${ids['Plain one']}/attachments/x`, '/api/messages/1e3'])
      expect((await alice.client.get(url)).statusCode, url).toBe(400);
  });

  it('the detail page shows headers and the text body escaped, and the HTML body sanitised in a sandboxed frame', async () => {
    const id = ids['Hostile <b>HTML</b>'];
    const r = await alice.client.get(`/messages/${id}`);
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('<title>Hostile &lt;b&gt;HTML&lt;/b&gt; · Mail Helper</title>');
    expect(r.body).toContain('Plain &lt;version&gt; &amp; more');
    expect(r.body).toMatch(/Remote content blocked: 2 remote/);
    expect(r.body).toContain(`sandbox="allow-popups allow-popups-to-escape-sandbox"`);
    expect(r.body).toContain(`src="/messages/${id}/body"`);
    expect(r.body).not.toContain('tracker.example');
    expect(r.headers['content-security-policy']).toContain("style-src 'self'");
    expect(r.headers['content-security-policy']).not.toContain('unsafe-inline');

    const body = await alice.client.get(`/messages/${id}/body`);
    expect(body.statusCode).toBe(200);
    expect(body.headers['content-security-policy']).toMatch(/default-src 'none'.*sandbox/);
    expect(body.body).toContain('<p>Safe paragraph</p>');
    expect(body.body).toContain('color:#123456');
    expect(body.body).toContain('href="https://example.org/page"');
    expect(body.body).toContain('[image blocked: pixel]');
    for (const bad of [
      '<script',
      'alert',
      'onload',
      'onclick',
      'steal',
      'evil',
      'javascript:',
      'tracker.example',
      '<iframe',
      '<form',
      '<input',
      '<object',
    ])
      expect(body.body.toLowerCase(), bad).not.toContain(bad);

    const json = (await alice.client.get(`/api/messages/${id}`)).json();
    expect(json.text).toContain('Plain <version> & more');
    expect(json.html).not.toContain('<script');
    expect(json.remoteContentBlocked).toBe(2);
  });

  it('attachments download with the right bytes and a safe name; one above the limit is listed as not stored', async () => {
    const id = ids['With attachments'];
    const page = await alice.client.get(`/messages/${id}`);
    expect(page.body).toContain(`href="/messages/${id}/attachments/0"`);
    expect(page.body).toMatch(/big\.bin<\/span> \(application\/octet-stream, 3\.9 KB\) —\s*<em>too large, not stored<\/em>/);
    expect(page.body).not.toContain(`/messages/${id}/attachments/1"`);

    const a = await alice.client.get(`/messages/${id}/attachments/0`);
    expect(a.statusCode).toBe(200);
    expect(a.rawPayload.equals(pdfBytes)).toBe(true);
    expect(a.headers['content-type']).toBe('application/pdf');
    expect(a.headers['x-content-type-options']).toBe('nosniff');
    const cd = a.headers['content-disposition'] as string;
    expect(cd).toMatch(/^attachment; filename="[^"/\\]+"; filename\*=UTF-8''/);
    expect(decodeURIComponent(cd.split("UTF-8''")[1])).toBe('_r\u00e9sum\u00e9 _final_.pdf');
    const big = await alice.client.get(`/messages/${id}/attachments/1`);
    expect(big.statusCode).toBe(404);
    expect(big.body).toContain('too large to store');
    expect((await alice.client.get(`/messages/${id}/attachments/7`)).statusCode).toBe(404);
  });

  it('the raw source downloads as the exact bytes on the server', async () => {
    const r = await alice.client.get(`/messages/${ids['Hostile <b>HTML</b>']}/raw`);
    expect(r.statusCode).toBe(200);
    expect(r.rawPayload.equals(hostile)).toBe(true);
    expect(r.headers['content-disposition']).toContain(`filename="message-${ids['Hostile <b>HTML</b>']}.eml"`);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
  });

  it("another user's message, body, attachment and raw source answer 404; without a session the API answers 401", async () => {
    const id = ids['With attachments'];
    for (const url of [
      `/messages/${id}`,
      `/messages/${id}/body`,
      `/messages/${id}/attachments/0`,
      `/messages/${id}/raw`,
      `/api/messages/${id}`,
    ]) {
      const r = await mallory.client.get(url);
      expect(r.statusCode, url).toBe(404);
      expect(r.body, url).not.toContain('With attachments');
    }
    expect((await mallory.client.get('/api/messages')).json().total).toBe(0);
    expect((await mallory.client.get('/')).body).toContain('No messages.');
    const anon = t.client();
    expect((await anon.get('/api/messages')).statusCode).toBe(401);
    expect((await anon.get(`/messages/${id}/raw`)).statusCode).toBe(303);
  });
});
