// One message's MIME parse, shared by the sync (which keeps its fields) and the read model (which derives
// the text, HTML and attachment bytes from the stored raw source when a message is opened). Parser chosen
// by measurement: postal-mime 4.0 parsed a 20 KB multipart message 1.2–2.2× faster than mailparser 3.14
// (notes/stack.md), is dependency-free and keeps attachments as bytes. Even so postal-mime (~75 MB/s,
// line by line in JavaScript) was the dominant cost of an initial sync, so the fast path of
// parse-fast.ts comes first: the same fields for the common, well-formed messages at several hundred MB/s.
import PostalMime from 'postal-mime';
import { parseFast, type EmailFields, type ParseOptions } from './parse-fast.js';

export const POSTAL_MIME_OPTIONS = { attachmentEncoding: 'arraybuffer', maxNestingDepth: 64 } as const;

/**
 * Parses in this thread: the fast path, else postal-mime; a failure comes back as an Error. With
 * `withText: false` text and html may be absent (the fast path skips them; postal-mime always decodes).
 */
export async function parseEmail(raw: Buffer, options?: ParseOptions): Promise<EmailFields | Error> {
  const fast = parseFast(raw, options);
  if (fast) return fast;
  try {
    return await PostalMime.parse(raw, POSTAL_MIME_OPTIONS);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** An attachment's content as a Buffer, whichever form the parser gave it in (no copy where it can be helped). */
export function contentBytes(c: ArrayBuffer | Uint8Array | string): Buffer {
  if (typeof c === 'string') return Buffer.from(c, 'utf8');
  if (c instanceof Uint8Array) return Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  return Buffer.from(c);
}
