import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../src/sync/parse-message.js';
import { ParserPool } from '../../../src/sync/parser-pool.js';
import { fromParseResult } from '../../../src/sync/parse-message.js';
import { parseEmail } from '../../../src/mime/parse-email.js';
import { sealMessage, type SealedMessage } from '../../../src/sync/seal-message.js';
import { decrypt, decryptJson, joinPieces, newKey } from '../../../src/crypto/aead.js';
import { metaAad, rawAad } from '../../../src/messages/message-format.js';
import { messageContent } from '../../../src/messages/message-content.js';
import { varietyCorpus } from '../../fixtures/mime-variety.js';

const simple = Buffer.from(
  'From: "Ann" <ann@example.org>\r\nTo: b@example.org\r\nSubject: =?UTF-8?B?w5xiZXI=?=\r\nMessage-ID: <p1@x>\r\nDate: Tue, 3 Jan 2023 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf; name="a.pdf"\r\nContent-Disposition: attachment; filename="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n',
);

describe('MIME parsing', () => {
  it('parses headers, text and attachments in this thread and in the worker alike', async () => {
    const here = await parseMessage(simple, 1024);
    expect(here.meta).toMatchObject({ subject: 'Über', from: 'Ann <ann@example.org>', to: ['b@example.org'], messageId: '<p1@x>' });
    expect(here.body?.text?.trim()).toBe('hi');
    expect(here.attachments[0].meta).toEqual({ idx: 0, filename: 'a.pdf', mimeType: 'application/pdf', size: 9, tooLarge: false });
    expect(here.attachments[0].content?.toString()).toBe('%PDF-1.4\n');
    expect(here.sentAt).toBe(Date.UTC(2023, 0, 3, 10));
    const pool = new ParserPool(1);
    try {
      const there = fromParseResult(simple, await pool.parse(simple), 1024);
      expect(there).toEqual(here);
    } finally {
      await pool.close();
    }
  });

  it('keeps attachments above the limit as metadata only', async () => {
    const p = await parseMessage(simple, 4);
    expect(p.attachments[0]).toEqual({
      meta: { idx: 0, filename: 'a.pdf', mimeType: 'application/pdf', size: 9, tooLarge: true },
      content: null,
    });
  });

  it('records a structural problem instead of failing', async () => {
    const p = await parseMessage(Buffer.from('From: a@b\r\nContent-Type: multipart/mixed\r\n\r\nbody\r\n'), 1024);
    expect(p.parseError).toMatch(/boundary/);
    expect((await parseMessage(Buffer.from('just text\r\n'), 1024)).parseError).toMatch(/no header fields/);
  });

  it('seals in the parse thread exactly as in this thread: same plaintexts under the same associated data', async () => {
    const dek = newKey();
    const ctx = { dek, accountId: 7, stableId: 'sid-1', maxAttachmentBytes: 1024 };
    const open = (s: SealedMessage) => ({
      size: s.size,
      sentAt: s.sentAt,
      parseError: s.parseError,
      skipped: s.hasSkippedAttachments,
      meta: decryptJson(dek, s.metaEnc, metaAad(7, 'sid-1')),
      raw: decrypt(dek, joinPieces(s.rawEnc), rawAad(7, 'sid-1')),
    });
    const here = open(sealMessage(simple, await parseEmail(simple), ctx));
    expect(here.raw.equals(simple)).toBe(true);
    expect(here.meta).toMatchObject({ subject: 'Über', attachments: [{ idx: 0, filename: 'a.pdf', size: 9, tooLarge: false }] });
    const pool = new ParserPool(1);
    try {
      const handed = Buffer.from(new Uint8Array(simple).buffer);
      const there = await pool.seal(handed, ctx);
      if (there instanceof Error) throw there;
      expect(handed.length).toBe(0); // handed over to the thread, not copied
      expect(open(there)).toEqual(here);
      // A small Buffer lives in Node's shared pool: it is copied, never handed over (that would take its neighbours along).
      const pooled = Buffer.from(simple);
      const again = await pool.seal(pooled, ctx);
      expect(pooled.equals(simple)).toBe(true);
      expect(open(again as SealedMessage)).toEqual(here);
      // A batch goes in one round trip; each message is sealed under its own stable id, a malformed one too.
      const broken = Buffer.from('just text\r\n');
      const batch = await pool.sealBatch([Buffer.from(simple), Buffer.from(broken)], ctx, ['sid-1', 'sid-2']);
      if (batch instanceof Error) throw batch;
      expect(batch).toHaveLength(2);
      expect(open(batch[0] as SealedMessage)).toEqual(here);
      const second = batch[1] as SealedMessage;
      expect(second.parseError).toMatch(/no header fields/);
      expect(decrypt(dek, joinPieces(second.rawEnc), rawAad(7, 'sid-2')).equals(broken)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('derives the text, HTML and attachment bytes from the raw source as the sync parsed them', async () => {
    for (const m of [simple, ...varietyCorpus().map((x) => x.raw)]) {
      const parsed = await parseMessage(m, Number.MAX_SAFE_INTEGER);
      const c = await messageContent(m);
      expect(c.body).toEqual(parsed.body ?? { text: null, html: null });
      parsed.attachments.forEach((a, i) => expect(c.attachment(i)?.equals(a.content!)).toBe(true));
      expect(c.attachment(parsed.attachments.length)).toBeNull();
    }
  });
});
