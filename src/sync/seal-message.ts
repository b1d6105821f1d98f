// A fetched message as the store keeps it: its raw source and its parsed fields, each sealed with the DEK
// under associated data naming the account and stable id. Text, HTML and attachment bytes are not sealed
// apart: the read model derives them from the raw source (src/messages/message-content.ts), which halves
// what an initial sync encrypts and writes (the decoded copies were ~0.9× the mailbox again).
// Pure and synchronous, so it runs in a parse thread (parse-worker.ts) or in the caller's.
import { encrypt, encryptJson } from '../crypto/aead.js';
import { metaAad, rawAad } from '../messages/message-format.js';
import type { EmailFields } from '../mime/parse-fast.js';
import { fromParseResult } from './parse-message.js';

export interface SealContext {
  dek: Buffer;
  accountId: number;
  stableId: string;
  maxAttachmentBytes: number;
}

export interface SealedMessage {
  size: number;
  sentAt: number | null;
  parseError: string | null;
  hasSkippedAttachments: boolean;
  metaEnc: Buffer;
  rawEnc: Buffer;
}

export function sealMessage(raw: Buffer, parsed: EmailFields | Error, c: SealContext): SealedMessage {
  const m = fromParseResult(raw, parsed, c.maxAttachmentBytes);
  return {
    size: raw.length,
    sentAt: m.sentAt,
    parseError: m.parseError,
    hasSkippedAttachments: m.attachments.some((a) => a.meta.tooLarge),
    metaEnc: encryptJson(c.dek, m.meta, metaAad(c.accountId, c.stableId)),
    rawEnc: encrypt(c.dek, raw, rawAad(c.accountId, c.stableId)),
  };
}
