// What step 2 keeps of a parsed message: its fields (meta), attachment list and parse problem. The text,
// HTML and attachment bytes are not stored apart from the raw source: the read model derives them from it
// (src/messages/message-content.ts), so each message's bytes are written and encrypted once.
// The parse itself runs in a worker thread with the concatenating Blob of concat-blob.ts (parser-pool.ts).
import type { Address } from 'postal-mime';
import { contentBytes, parseEmail } from '../mime/parse-email.js';
import type { EmailFields } from '../mime/parse-fast.js';
import type { AttachmentMeta, MessageBody, MessageMeta } from '../messages/message-format.js';
import { headerBlock, parseIdentityHeaders } from './identity.js';

export interface ParsedAttachment {
  meta: AttachmentMeta;
  /** null: too large to keep, or not decoded (a parse for sealing gives sizes only). */
  content: Buffer | null;
}

export interface ParsedMessage {
  meta: MessageMeta;
  body: MessageBody | null;
  attachments: ParsedAttachment[];
  sentAt: number | null;
  parseError: string | null;
}

function formatAddress(a: Address): string[] {
  if (a.group) return a.group.flatMap(formatAddress);
  const addr = a.address ?? '';
  return [a.name ? `${a.name} <${addr}>` : addr];
}

function addresses(list: Address[] | Address | undefined): string[] {
  if (!list) return [];
  return (Array.isArray(list) ? list : [list]).flatMap(formatAddress);
}

/** A header block that cannot hold a message: no header line before the first empty line. */
function structuralProblem(raw: Buffer): string | null {
  // The header block within the first 64 KB; only it becomes a string (64 KB per message cost more
  // than the rest of this check).
  const headers = headerBlock(raw.subarray(0, Math.min(raw.length, 64 * 1024))).toString('latin1');
  if (!/^[!-9;-~]+:/m.test(headers)) return 'no header fields found';
  const ct = /^content-type:[ \t]*multipart\/[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*/im.exec(headers);
  if (ct && !/boundary\s*=/i.test(ct[0])) return 'multipart message without a boundary parameter';
  return null;
}

/** Parses in this thread into what the store keeps. */
export async function parseMessage(raw: Buffer, maxAttachmentBytes: number): Promise<ParsedMessage> {
  return fromParseResult(raw, await parseEmail(raw), maxAttachmentBytes);
}

/** Turns the parse result (postal-mime's or the fast path's, or a failure) into what the store keeps. */
export function fromParseResult(raw: Buffer, result: EmailFields | Error, maxAttachmentBytes: number): ParsedMessage {
  if (result instanceof Error) {
    // Stored raw with the problem recorded; identity headers still give the list view something to show.
    const h = parseIdentityHeaders(
      raw
        .subarray(0, Math.min(raw.length, 64 * 1024))
        .toString('latin1')
        .split(/\r?\n\r?\n/)[0],
    );
    const when = h.date ? Date.parse(h.date) : NaN;
    return {
      meta: { subject: h.subject, from: h.from, to: [], cc: [], date: h.date, messageId: h.messageId, attachments: [] },
      body: null,
      attachments: [],
      sentAt: Number.isNaN(when) ? null : when,
      parseError: `MIME parse failed: ${result.message}`.slice(0, 500),
    };
  }
  const email = result;
  const attachments: ParsedAttachment[] = email.attachments.map((a, idx) => {
    // A parse for sealing gives base64 attachments' sizes only (ParseOptions.withContent).
    const bytes = a.size === undefined ? contentBytes(a.content) : null;
    const size = a.size ?? bytes!.length;
    const tooLarge = size > maxAttachmentBytes;
    return {
      meta: { idx, filename: a.filename, mimeType: a.mimeType, size, tooLarge },
      content: tooLarge ? null : bytes,
    };
  });
  const sent = email.date ? Date.parse(email.date) : NaN;
  return {
    meta: {
      subject: email.subject ?? null,
      from: addresses(email.from)[0] ?? null,
      to: addresses(email.to),
      cc: addresses(email.cc),
      date: email.date ?? null,
      messageId: email.messageId ?? null,
      attachments: attachments.map((a) => a.meta),
    },
    body: { text: email.text ?? null, html: email.html ?? null },
    attachments,
    sentAt: Number.isNaN(sent) ? null : sent,
    parseError: structuralProblem(raw),
  };
}
