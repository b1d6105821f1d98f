// A stored message's text, HTML and attachment bytes, derived from its raw source when it is opened. The
// sync keeps only the raw source and the parsed fields (what the list shows, and the attachment list), so
// every message's bytes are encrypted and written once; parsing one message again on opening costs well
// under a millisecond on the fast path. Same parser, same raw bytes → the same text and attachments the
// sync saw (the fast path gives postal-mime's result, see test/unit/mime/parse-fast.test.ts).
import { contentBytes, parseEmail } from '../mime/parse-email.js';
import type { ParseOptions } from '../mime/parse-fast.js';
import type { MessageBody } from './message-format.js';

export interface MessageContent {
  body: MessageBody;
  /** Attachment bytes by index, in the order of the stored attachment list. */
  attachment(idx: number): Buffer | null;
}

/**
 * The content of a raw message; a message that does not parse has no text, HTML or attachments.
 * `withText: false` for attachments only (the text and HTML may then be left out).
 */
export async function messageContent(raw: Buffer, options?: ParseOptions): Promise<MessageContent> {
  const email = await parseEmail(raw, options);
  if (email instanceof Error) return { body: { text: null, html: null }, attachment: () => null };
  return {
    body: { text: email.text ?? null, html: email.html ?? null },
    attachment: (idx) => {
      const a = email.attachments[idx];
      return a ? contentBytes(a.content) : null;
    },
  };
}
