// A fetched message as the store keeps it: its raw source and its parsed fields, each sealed with the DEK
// under associated data naming the account and stable id. Text, HTML and attachment bytes are not sealed
// apart: the read model derives them from the raw source (src/messages/message-content.ts), which halves
// what an initial sync encrypts and writes (the decoded copies were ~0.9× the mailbox again).
// Pure and synchronous, so it runs in a parse thread (parse-worker.ts) or in the caller's.
import { encryptJson, encryptPieces } from '../crypto/aead.js';
import { metaAad, rawAad } from '../messages/message-format.js';
import type { EmailFields, ParseOptions } from '../mime/parse-fast.js';
import type { MessagesTable } from '../store/schema.js';
import type { Insertable } from 'kysely';
import { fromParseResult } from './parse-message.js';

/** What sealing needs of a parse: the fields and attachment sizes, neither text nor attachment bytes. */
export const SEAL_PARSE: ParseOptions = { withText: false, withContent: false };

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
  /** The sealed raw source in pieces (aead.ts encryptPieces): a pack file takes them as they are, a row joined. */
  rawEnc: Buffer[];
}

export function sealMessage(raw: Buffer, parsed: EmailFields | Error, c: SealContext): SealedMessage {
  const m = fromParseResult(raw, parsed, c.maxAttachmentBytes);
  return {
    size: raw.length,
    sentAt: m.sentAt,
    parseError: m.parseError,
    hasSkippedAttachments: m.attachments.some((a) => a.meta.tooLarge),
    metaEnc: encryptJson(c.dek, m.meta, metaAad(c.accountId, c.stableId)),
    rawEnc: encryptPieces(c.dek, raw, rawAad(c.accountId, c.stableId)),
  };
}

/** What a stored message row takes from the mirror; the rest comes from sealing. */
export interface MessageBase {
  user_id: number;
  account_id: number;
  stable_id: string;
  folder_id: number;
  uid: number;
  flags: string;
  internal_date: number | null;
}

/**
 * The messages row of a sealed message: one definition for both writers (fetch-step.ts, thread-store.ts).
 * Its sealed source goes apart: to a pack file (src/store/blob-packs.ts), the row naming it by `rawRef`,
 * or as its pieces beside the row to SyncStore.insertMessages.
 */
export function messageRow(b: MessageBase, s: SealedMessage, now: number, rawRef: string | null = null): Insertable<MessagesTable> {
  return {
    user_id: b.user_id,
    account_id: b.account_id,
    stable_id: b.stable_id,
    folder_id: b.folder_id,
    uid: b.uid,
    flags: b.flags,
    sent_at: s.sentAt ?? b.internal_date,
    size: s.size,
    meta_enc: s.metaEnc,
    body_enc: null,
    raw_enc: null,
    raw_ref: rawRef,
    parse_error: s.parseError,
    has_skipped_attachments: s.hasSkippedAttachments ? 1 : 0,
    deleted_at: null,
    created_at: now,
    updated_at: now,
  };
}
