// A fast path for MIME parsing. postal-mime reads a message line by line in JavaScript (~75 MB/s),
// which dominated an initial sync. parseFast handles the common, well-formed structures with native
// operations (Buffer.indexOf to find boundaries, Buffer base64, TextDecoder) and returns exactly the
// fields of postal-mime 4's result that src/sync/parse-message.ts reads. On anything outside its scope
// (message/* parts, calendars, RFC 2231, comments in parameters, odd encodings or charsets, conversions
// between text and html) it returns null and the caller parses with postal-mime.
import { addressParser, decodeWords, type Address, type Attachment, type Email } from 'postal-mime';
import {
  base64Bytes,
  base64Size,
  decodeFlowedText,
  passThroughBytes,
  passThroughText,
  quotedPrintableBytes,
  textDecoderFor,
} from './body.js';
import { decline, fieldValue, firstValue, parseStructured, type HeaderField } from './headers.js';
import { parseTree, type Part } from './part-tree.js';

/** The part of postal-mime's Email that the store uses; both parsers produce it. */
export type EmailFields = Pick<Email, 'subject' | 'from' | 'to' | 'cc' | 'date' | 'messageId' | 'text' | 'html'> & {
  /** `size`: the decoded size, given (with empty content) where the bytes were not wanted (withContent: false). */
  attachments: (Pick<Attachment, 'filename' | 'mimeType' | 'content'> & { size?: number })[];
};

interface TextGroup {
  plain: string[];
  html: string[];
  /** Listed in Collected.groups at its first text, where postal-mime's textMap gets its key. */
  listed: boolean;
}

interface Collected {
  groups: TextGroup[];
  attachments: EmailFields['attachments'];
  /** false: the caller needs no text or HTML, so pass-through text parts are checked but not decoded. */
  withText: boolean;
  /** false: the caller needs attachments' sizes, not their bytes (see ParseOptions). */
  withContent: boolean;
}

function toArrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.byteOffset === 0 && u.byteLength === u.buffer.byteLength
    ? (u.buffer as ArrayBuffer)
    : (u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer);
}

function transferEncoding(fields: HeaderField[]): string {
  const v = firstValue(fields, 'content-transfer-encoding');
  if (v === undefined) return '8bit';
  if (/[()\\]/.test(v)) decline(); // postal-mime strips comments first
  return (v.toLowerCase().match(/[\w-]+/) || [''])[0];
}

function leafBytes(raw: Buffer, part: Part, encoding: string): Uint8Array {
  const { bodyStart: s, bodyEnd: e } = part;
  if (s < 0 || s >= e) return new Uint8Array(0); // never left its header block, or an empty body
  if (encoding === 'base64') return base64Bytes(raw, s, e);
  if (encoding === 'quoted-printable') return quotedPrintableBytes(raw, s, e);
  return passThroughBytes(raw, s, e);
}

function leafText(raw: Buffer, part: Part, encoding: string): string {
  const params = part.type.params;
  const decoder = textDecoderFor(params.get('charset'));
  let text: string;
  if (encoding === 'base64' || encoding === 'quoted-printable') text = decoder.decode(leafBytes(raw, part, encoding));
  else text = part.bodyStart < 0 ? '' : passThroughText(raw, part.bodyStart, part.bodyEnd, decoder);
  if (/^flowed$/i.test(params.get('format') ?? '')) text = decodeFlowedText(text, /^yes$/i.test(params.get('delsp') ?? ''));
  return text;
}

const ENCODINGS = new Set(['base64', 'quoted-printable', '7bit', '8bit', 'binary', '']);

/** Sorts leaves into text and attachments as postal-mime's collectNode does, text grouped by nearest alternative. */
function collect(raw: Buffer, part: Part, alternative: TextGroup | null, out: Collected): void {
  if (part.multipart) {
    if (part.multipart === 'alternative') alternative = { plain: [], html: [], listed: false };
    for (const child of part.children) collect(raw, child, alternative, out);
    return;
  }
  const type = part.type.value;
  if (type.startsWith('message/') || type === 'text/calendar' || type === 'application/ics') decline();
  const encoding = transferEncoding(part.fields);
  if (!ENCODINGS.has(encoding)) decline();
  const disposition = parseStructured(firstValue(part.fields, 'content-disposition'));
  if (disposition.value !== 'attachment' && (type === 'text/plain' || type === 'text/html')) {
    const group = alternative ?? { plain: [], html: [], listed: false };
    if (!group.listed) {
      group.listed = true;
      out.groups.push(group);
    }
    const skip = !out.withText && encoding !== 'base64' && encoding !== 'quoted-printable';
    // Skipped, a part still declines where decoding it would (its charset), so both modes accept the same messages.
    if (skip) textDecoderFor(part.type.params.get('charset'));
    (type === 'text/html' ? group.html : group.plain).push(skip ? '' : leafText(raw, part, encoding));
    return;
  }
  const named = disposition.params.get('filename') || part.type.params.get('name') || null;
  const filename = named ? decodeWords(named) : null;
  // Base64 (nearly every attachment) sized without its bytes; the other encodings are rare and small.
  if (!out.withContent && encoding === 'base64') {
    const { bodyStart: s, bodyEnd: e } = part;
    // An empty buffer of its own: a shared one would be detached by the first transfer of a result.
    out.attachments.push({ filename, mimeType: type, content: new ArrayBuffer(0), size: s < 0 || s >= e ? 0 : base64Size(raw, s, e) });
    return;
  }
  out.attachments.push({ filename, mimeType: type, content: toArrayBuffer(leafBytes(raw, part, encoding)) });
}

function addresses(fields: HeaderField[], key: string): Address[] {
  const out: Address[] = [];
  for (const f of fields) {
    if (f.key !== key) continue;
    const v = fieldValue(f);
    if (v) for (const a of addressParser(v)) out.push(a);
  }
  return out;
}

/** The envelope fields as postal-mime's buildMessage derives them from the top-level headers. */
function envelope(fields: HeaderField[], email: EmailFields): void {
  const from = firstValue(fields, 'from');
  if (from) {
    const list = addressParser(from);
    if (list.length) email.from = list[0];
  }
  const to = addresses(fields, 'to');
  if (to.length) email.to = to;
  const cc = addresses(fields, 'cc');
  if (cc.length) email.cc = cc;
  const subject = firstValue(fields, 'subject');
  if (subject) email.subject = decodeWords(subject);
  const messageId = firstValue(fields, 'message-id');
  if (messageId) email.messageId = decodeWords(messageId);
  const date = firstValue(fields, 'date');
  if (date !== undefined) {
    const d = new Date(date);
    email.date = Number.isNaN(d.getTime()) ? date : d.toISOString();
  }
}

export interface ParseOptions {
  /** false: text and html are left undefined (decoding them was ~10 % of an initial sync's CPU, and the sync keeps neither). */
  withText?: boolean;
  /**
   * false: a base64 attachment comes with its decoded `size` and empty content (the sync keeps only the
   * size; the bytes are derived from the raw source when downloaded). postal-mime's fallback decodes them.
   */
  withContent?: boolean;
}

/** Parses raw as postal-mime would (for the fields of EmailFields), or returns null to leave it to postal-mime. */
export function parseFast(raw: Buffer, options: ParseOptions = {}): EmailFields | null {
  const withText = options.withText ?? true;
  try {
    const root = parseTree(raw);
    const out: Collected = { groups: [], attachments: [], withText, withContent: options.withContent ?? true };
    collect(raw, root, null, out);
    const email: EmailFields = { attachments: out.attachments };
    envelope(root.fields, email);
    // postal-mime renders a group lacking one of the types from the other (html↔text conversion): not mirrored.
    const withPlain = out.groups.filter((g) => g.plain.length).length;
    const withHtml = out.groups.filter((g) => g.html.length).length;
    if ((withPlain && withPlain < out.groups.length) || (withHtml && withHtml < out.groups.length)) return null;
    if (!withText) return email;
    const text = out.groups.flatMap((g) => g.plain).join('\n');
    const html = out.groups.flatMap((g) => g.html).join('\n');
    if (html) email.html = html;
    if (text) email.text = text;
    return email;
  } catch {
    // A decline, or anything unforeseen: postal-mime decides.
    return null;
  }
}
