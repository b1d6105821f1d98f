// A fetched message as the store keeps it: parsed, then its raw source, fields, body and
// attachments each sealed with the DEK under associated data naming the account and stable id.
// Pure and synchronous, so it runs in a prepare thread (prepare-pool.ts) or in the caller's.
import { encrypt, encryptJson } from '../crypto/aead.js';
import { attachmentAad, bodyAad, metaAad, rawAad } from '../messages/message-format.js';
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
  bodyEnc: Buffer | null;
  rawEnc: Buffer;
  attachments: { idx: number; size: number; tooLarge: boolean; contentEnc: Buffer | null }[];
}

export function sealMessage(raw: Buffer, parsed: EmailFields | Error, c: SealContext): SealedMessage {
  const m = fromParseResult(raw, parsed, c.maxAttachmentBytes);
  return {
    size: raw.length,
    sentAt: m.sentAt,
    parseError: m.parseError,
    hasSkippedAttachments: m.attachments.some((a) => a.meta.tooLarge),
    metaEnc: encryptJson(c.dek, m.meta, metaAad(c.accountId, c.stableId)),
    bodyEnc: m.body ? encryptJson(c.dek, m.body, bodyAad(c.accountId, c.stableId)) : null,
    rawEnc: encrypt(c.dek, raw, rawAad(c.accountId, c.stableId)),
    attachments: m.attachments.map((a) => ({
      idx: a.meta.idx,
      size: a.meta.size,
      tooLarge: a.meta.tooLarge,
      contentEnc: a.content ? encrypt(c.dek, a.content, attachmentAad(c.accountId, c.stableId, a.meta.idx)) : null,
    })),
  };
}
