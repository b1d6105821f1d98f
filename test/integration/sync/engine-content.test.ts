import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAttachment, getMessage, getRawMessage, listMessages } from '../../../src/messages/message-repo.js';
import { syncAccount } from '../../../src/sync/engine.js';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { createTestAccount, rawMessage } from '../../fixtures/sync-account.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';
import { onServer, serverLocations, storedLive, UserPool } from './sync-helpers.js';

let d: Dovecot;
let users: UserPool;
beforeAll(async () => {
  d = await startDovecot();
  users = new UserPool(d);
});
afterAll(async () => {
  await d?.stop();
});

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe.each(await storeKinds())('sync engine: content and filters on %s', (kind) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(async () => {
    await ts?.cleanup();
  });

  async function setup(settings: Parameters<typeof createTestAccount>[3] = {}) {
    const { user, pw } = users.take();
    const acc = await createTestAccount(ts.store, { host: d.host, port: d.port }, { username: user, password: pw }, settings);
    const exact = async (folders: string[]) =>
      expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, folders));
    const list = async (f: Parameters<typeof listMessages>[3] = {}) =>
      listMessages(ts.store.db, acc.dek, acc.userId, { pageSize: 200, ...f });
    return { user, pw, acc, exact, list };
  }

  it('messages without a Message-ID are stored once each and recognised after a move', async () => {
    const { user, pw, acc, exact, list } = await setup();
    d.writeMessage(user, 'INBOX', rawMessage({ id: null, subject: 'no id one' }));
    d.writeMessage(user, 'INBOX', rawMessage({ id: null, subject: 'no id two' }));
    d.writeMessage(user, 'Archive', rawMessage({ subject: 'anchor' }));
    expect((await syncAccount(acc.input())).fetched).toBe(3);
    await onServer(d, user, pw, 'INBOX', (c) => c.messageMove('1', 'Archive', { uid: true }));
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(0);
    expect(stats.moved).toBe(1);
    expect((await list()).rows.map((r) => r.subject).sort()).toEqual(['anchor', 'no id one', 'no id two']);
    await exact(['INBOX', 'Archive']);
  });

  it('two different messages sharing a Message-ID are both stored', async () => {
    const { user, acc, exact, list } = await setup();
    d.writeMessage(user, 'INBOX', rawMessage({ id: 'dup', subject: 'first version', body: 'short\r\n' }));
    d.writeMessage(user, 'INBOX', rawMessage({ id: 'dup', subject: 'second version', body: 'a longer body text\r\n' }));
    // Same id and same size: still two messages.
    d.writeMessage(user, 'INBOX', rawMessage({ id: 'dup2', subject: 'AAAA' }));
    d.writeMessage(user, 'INBOX', rawMessage({ id: 'dup2', subject: 'BBBB' }));
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(4);
    expect((await list()).rows.map((r) => r.subject).sort()).toEqual(['AAAA', 'BBBB', 'first version', 'second version']);
    expect((await syncAccount(acc.input())).fetched).toBe(0);
    await exact(['INBOX']);
  });

  it('non-ASCII folder names and encoded headers and bodies come through decoded', async () => {
    const { user, pw, acc, exact, list } = await setup();
    const folder = 'Entwürfe/日本語 & Co';
    const raw = [
      `From: =?UTF-8?B?${b64('Jürgen Müller')}?= <jm@example.org>`,
      'To: alice@example.org',
      `Subject: =?UTF-8?B?${b64('Grüße aus 東京')}?=`,
      'Message-ID: <charset@example.org>',
      'Date: Tue, 3 Jan 2023 10:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Sch=F6ne Gr=FC=DFe',
      '',
    ].join('\r\n');
    d.writeMessage(user, folder, raw);
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(1);
    const page = await list();
    expect(page.rows[0].folderPath).toBe(folder);
    expect(page.rows[0].subject).toBe('Grüße aus 東京');
    expect(page.rows[0].from).toBe('Jürgen Müller <jm@example.org>');
    const detail = await getMessage(ts.store.db, acc.dek, acc.userId, page.rows[0].id);
    expect(detail?.text?.trim()).toBe('Schöne Grüße');
    expect((await syncAccount(acc.input())).fetched).toBe(0);
    await exact(['INBOX', folder]);
    // A flag change and new mail there: EXAMINE (QRESYNC) reports the change under the folder's decoded name.
    await onServer(d, user, pw, folder, (c) => c.messageFlagsAdd('1', ['\\Flagged'], { uid: true }));
    d.writeMessage(user, folder, rawMessage({ subject: 'second' }));
    const again = await syncAccount(acc.input());
    expect([again.fetched, again.flagChanges]).toEqual([1, 1]);
    await exact(['INBOX', folder]);
  });

  it('malformed MIME is stored raw with its parse problem and the sync goes on', async () => {
    const { user, acc, list } = await setup();
    const broken =
      'From: x@example.org\r\nSubject: broken\r\nMessage-ID: <broken@example.org>\r\nContent-Type: multipart/mixed\r\n\r\n--zzz\r\nnot really\r\n';
    d.writeMessage(user, 'INBOX', broken);
    d.writeMessage(user, 'INBOX', 'this is not a message at all\r\n');
    d.writeMessage(user, 'INBOX', rawMessage({ subject: 'fine' }));
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(3);
    expect(stats.parseProblems).toBe(2);
    const rows = (await list()).rows;
    const b = rows.find((r) => r.subject === 'broken');
    expect(b?.parseError).toMatch(/boundary/);
    expect(rows.find((r) => r.subject === 'fine')?.parseError).toBeNull();
    expect((await getRawMessage(ts.store.db, acc.dek, acc.userId, b!.id))?.toString()).toBe(broken);
  });

  it('an 8 MB attachment is stored encrypted, once; above the limit only its metadata is kept', async () => {
    const { user, acc, list } = await setup();
    const content = randomBytes(8 * 1024 * 1024);
    const mime = (id: string) =>
      [
        'From: a@example.org',
        'To: b@example.org',
        `Subject: big ${id}`,
        `Message-ID: <${id}@example.org>`,
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b1"',
        '',
        '--b1',
        'Content-Type: text/plain',
        '',
        'see attachment',
        '--b1',
        'Content-Type: application/octet-stream; name="big.bin"',
        'Content-Disposition: attachment; filename="big.bin"',
        'Content-Transfer-Encoding: base64',
        '',
        content.toString('base64').replace(/.{76}/g, '$&\r\n'),
        '--b1--',
        '',
      ].join('\r\n');
    d.writeMessage(user, 'INBOX', mime('big1'));
    await syncAccount(acc.input());
    const row = (await list()).rows[0];
    const detail = await getMessage(ts.store.db, acc.dek, acc.userId, row.id);
    expect(detail?.attachments).toEqual([
      { idx: 0, filename: 'big.bin', mimeType: 'application/octet-stream', size: content.length, tooLarge: false },
    ]);
    const att = await getAttachment(ts.store.db, acc.dek, acc.userId, row.id, 0);
    expect(att?.content?.equals(content)).toBe(true);
    expect(detail?.text?.trim()).toBe('see attachment');
    // The message's bytes are stored once (sealed raw source), not again as a decoded attachment.
    const stored = await ts.store.db
      .selectFrom('messages')
      .select(['raw_enc', 'raw_ref', 'meta_enc', 'body_enc'])
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    const attRows = await ts.store.db.selectFrom('attachments').select('content_enc').execute();
    // The sealed source is in a pack file (SQLite) or in blob_chunks (PostgreSQL): raw_ref ends with its length.
    const packed = stored.raw_ref ? Number(stored.raw_ref.split(':')[2]) : 0;
    expect(packed).toBeGreaterThan(0);
    const bytes = [stored.raw_enc, stored.meta_enc, stored.body_enc, ...attRows.map((a) => a.content_enc)].reduce(
      (n, b) => n + (b?.length ?? 0),
      packed,
    );
    expect(bytes).toBeGreaterThan(Buffer.byteLength(mime('big1')));
    expect(bytes).toBeLessThan(Buffer.byteLength(mime('big1')) + 4096);

    d.writeMessage(user, 'INBOX', mime('big2'));
    await syncAccount(acc.input({ options: { maxAttachmentBytes: 1024 * 1024 } }));
    const big2 = (await list()).rows.find((r) => r.subject === 'big big2')!;
    const d2 = await getMessage(ts.store.db, acc.dek, acc.userId, big2.id);
    expect(d2?.hasSkippedAttachments).toBe(true);
    expect(d2?.attachments[0]).toMatchObject({ tooLarge: true, size: content.length });
    expect((await getAttachment(ts.store.db, acc.dek, acc.userId, big2.id, 0))?.content).toBeNull();
  });

  it('max_emails per run fetches newest first and repeated runs reach everything', async () => {
    const { user, acc, exact, list } = await setup({ maxEmails: 3 });
    for (let i = 0; i < 7; i++)
      d.writeMessage(user, 'INBOX', rawMessage({ subject: `n${i}` }), { date: new Date(Date.UTC(2023, 0, 1 + i)) });
    const s1 = await syncAccount(acc.input());
    expect([s1.fetched, s1.remaining]).toEqual([3, 4]);
    expect((await list()).rows.map((r) => r.subject).sort()).toEqual(['n4', 'n5', 'n6']);
    const s2 = await syncAccount(acc.input());
    expect([s2.fetched, s2.remaining]).toEqual([3, 1]);
    const s3 = await syncAccount(acc.input());
    expect([s3.fetched, s3.remaining]).toEqual([1, 0]);
    await exact(['INBOX']);
  });

  it('folder include/exclude, since-date and unseen-only filters decide what is fetched', async () => {
    const { user, acc, list } = await setup({
      includeFolders: ['INBOX', 'Lists*'],
      excludeFolders: ['Lists/Noise'],
      sinceDate: '2023-06-01',
      unseenOnly: true,
    });
    d.writeMessage(user, 'INBOX', rawMessage({ subject: 'new unseen' }), { date: new Date('2023-07-01T00:00:00Z') });
    d.writeMessage(user, 'INBOX', rawMessage({ subject: 'new seen' }), { date: new Date('2023-07-01T00:00:00Z'), flags: ['\\Seen'] });
    d.writeMessage(user, 'INBOX', rawMessage({ subject: 'old unseen' }), { date: new Date('2023-01-01T00:00:00Z') });
    d.writeMessage(user, 'Lists/Dev', rawMessage({ subject: 'dev list' }), { date: new Date('2023-07-02T00:00:00Z') });
    d.writeMessage(user, 'Lists/Noise', rawMessage({ subject: 'noise' }), { date: new Date('2023-07-02T00:00:00Z') });
    d.writeMessage(user, 'Archive', rawMessage({ subject: 'archived' }), { date: new Date('2023-07-02T00:00:00Z') });
    const stats = await syncAccount(acc.input());
    expect(stats.foldersScanned).toBe(2);
    expect((await list()).rows.map((r) => r.subject).sort()).toEqual(['dev list', 'new unseen']);
    // Nothing changed on the server, but other filters select other messages.
    const wider = await syncAccount(acc.input({ account: { ...acc.account, unseenOnly: false } }));
    expect(wider.fetched).toBe(1);
    expect((await list()).rows.map((r) => r.subject).sort()).toEqual(['dev list', 'new seen', 'new unseen']);
  });

  it('the read model is owner-scoped, paginated and filterable by account and folder', async () => {
    const a = await setup();
    const b = await setup();
    for (let i = 0; i < 5; i++)
      d.writeMessage(a.user, 'INBOX', rawMessage({ subject: `a${i}` }), { date: new Date(Date.UTC(2023, 1, 1 + i)) });
    d.writeMessage(a.user, 'Archive', rawMessage({ subject: 'a-arch' }));
    d.writeMessage(b.user, 'INBOX', rawMessage({ subject: 'b0' }));
    await syncAccount(a.acc.input());
    await syncAccount(b.acc.input());
    const p1 = await a.list({ pageSize: 4, page: 1 });
    const p2 = await a.list({ pageSize: 4, page: 2 });
    expect(p1.total).toBe(6);
    expect(p1.rows).toHaveLength(4);
    expect(p2.rows).toHaveLength(2);
    expect(new Set([...p1.rows, ...p2.rows].map((r) => r.id)).size).toBe(6);
    // Newest first across the pages.
    const dates = [...p1.rows, ...p2.rows].map((r) => r.date ?? 0);
    expect(dates).toEqual([...dates].sort((x, y) => y - x));
    expect(p2.rows.map((r) => r.subject)).toEqual(['a1', 'a0']);
    const archiveId = p1.rows.concat(p2.rows).find((r) => r.subject === 'a-arch')!.folderId!;
    expect((await a.list({ folderId: archiveId })).rows.map((r) => r.subject)).toEqual(['a-arch']);
    expect((await a.list({ accountId: b.acc.account.id })).total).toBe(0);
    const bRow = (await b.list()).rows[0];
    expect(await getMessage(ts.store.db, a.acc.dek, a.acc.userId, bRow.id)).toBeUndefined();
    expect(await getRawMessage(ts.store.db, a.acc.dek, a.acc.userId, bRow.id)).toBeUndefined();
    expect((await getMessage(ts.store.db, b.acc.dek, b.acc.userId, bRow.id))?.subject).toBe('b0');
  });
});
