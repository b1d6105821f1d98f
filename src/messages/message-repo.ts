// The read model of stored messages for the web views and the API: owner-scoped, decrypted on
// the fly with the user's DEK. Another user's message is simply not found (undefined → 404).
import type { Kysely } from 'kysely';
import { decrypt, decryptJson, DecryptError } from '../crypto/aead.js';
import type { Database } from '../store/schema.js';
import { packDirFor, readPacked } from '../store/blob-packs.js';
import { isChunkRef, readChunked } from '../store/blob-chunks.js';
import { messageContent } from './message-content.js';
import { attachmentAad, bodyAad, metaAad, rawAad, type AttachmentMeta, type MessageBody, type MessageMeta } from './message-format.js';

export interface MessageListRow {
  id: number;
  accountId: number;
  accountName: string;
  folderId: number | null;
  folderPath: string | null;
  /** Sent date (epoch ms), falling back to the server's internal date. */
  date: number | null;
  from: string | null;
  subject: string | null;
  flags: string[];
  hasAttachments: boolean;
  parseError: string | null;
}

export interface MessagePage {
  rows: MessageListRow[];
  total: number;
  page: number;
  pageSize: number;
}

export interface MessageDetail extends MessageListRow {
  to: string[];
  cc: string[];
  messageId: string | null;
  text: string | null;
  html: string | null;
  size: number | null;
  attachments: AttachmentMeta[];
  hasSkippedAttachments: boolean;
}

export interface AttachmentContent {
  filename: string | null;
  mimeType: string;
  size: number;
  /** null when the attachment was above the size limit and only its metadata was kept. */
  content: Buffer | null;
}

export interface ListFilter {
  accountId?: number;
  folderId?: number;
  page?: number;
  pageSize?: number;
}

const MAX_PAGE_SIZE = 200;

function baseQuery(db: Kysely<Database>, userId: number) {
  return db
    .selectFrom('messages as m')
    .innerJoin('mail_accounts as a', (j) => j.onRef('a.id', '=', 'm.account_id').on('a.user_id', '=', userId))
    .leftJoin('folders as f', 'f.id', 'm.folder_id')
    .where('m.user_id', '=', userId)
    .where('m.deleted_at', 'is', null);
}

interface ListSource {
  id: number;
  account_id: number;
  name: string;
  folder_id: number | null;
  path: string | null;
  sent_at: number | null;
  flags: string;
  meta_enc: Buffer;
  stable_id: string;
  parse_error: string | null;
}

/** The row's clear columns; `readable` fills in what comes from the encrypted metadata. */
function rowFrom(r: ListSource, readable: Pick<MessageListRow, 'from' | 'subject' | 'hasAttachments' | 'parseError'>): MessageListRow {
  return {
    id: Number(r.id),
    accountId: Number(r.account_id),
    accountName: r.name,
    folderId: r.folder_id === null ? null : Number(r.folder_id),
    folderPath: r.path,
    date: r.sent_at === null ? null : Number(r.sent_at),
    flags: JSON.parse(r.flags) as string[],
    ...readable,
  };
}

function listRow(dek: Buffer, r: ListSource): { row: MessageListRow; meta: MessageMeta } {
  const meta = decryptJson<MessageMeta>(dek, r.meta_enc, metaAad(Number(r.account_id), r.stable_id), 'a message');
  return {
    meta,
    row: rowFrom(r, { from: meta.from, subject: meta.subject, hasAttachments: meta.attachments.length > 0, parseError: r.parse_error }),
  };
}

/** One row that no longer decrypts must not hide the others: it is listed, marked, without its fields. */
function listRowOrUnreadable(dek: Buffer, r: ListSource): MessageListRow {
  try {
    return listRow(dek, r).row;
  } catch (err) {
    if (!(err instanceof DecryptError)) throw err;
    return rowFrom(r, {
      from: null,
      subject: '(this message cannot be decrypted)',
      hasAttachments: false,
      parseError: 'The stored data cannot be decrypted with your key.',
    });
  }
}

const LIST_COLUMNS = [
  'm.id',
  'm.account_id',
  'a.name',
  'm.folder_id',
  'f.path',
  'm.sent_at',
  'm.flags',
  'm.meta_enc',
  'm.stable_id',
  'm.parse_error',
] as const;

/**
 * The list's two index-only queries (0040-message-list-indexes): how many live messages match, and
 * the ids of one page of them, newest first. The page's ids come first, so that the rows skipped by
 * the offset are never read, only the page's own (page 100 of a 13,000-message store read 150 ms of
 * rows from disk before).
 */
export function listQueries(db: Kysely<Database>, userId: number, filter: ListFilter = {}) {
  const pageSize = Math.min(Math.max(1, Math.floor(filter.pageSize ?? 50)), MAX_PAGE_SIZE);
  const page = Math.max(1, Math.floor(filter.page ?? 1));
  let q = baseQuery(db, userId);
  if (filter.accountId !== undefined) q = q.where('m.account_id', '=', filter.accountId);
  if (filter.folderId !== undefined) q = q.where('m.folder_id', '=', filter.folderId);
  return {
    page,
    pageSize,
    matching: q,
    count: q.select((eb) => eb.fn.countAll<number>().as('n')),
    pageIds: q
      .select('m.id')
      .orderBy('m.sent_at', 'desc')
      .orderBy('m.id', 'desc')
      .limit(pageSize)
      .offset((page - 1) * pageSize),
  };
}

/** The user's live messages, newest first, one page at a time (page is 1-based). */
export async function listMessages(db: Kysely<Database>, dek: Buffer, userId: number, filter: ListFilter = {}): Promise<MessagePage> {
  const { page, pageSize, matching, count, pageIds } = listQueries(db, userId, filter);
  const total = await count.executeTakeFirstOrThrow();
  const rows = await matching
    .select([...LIST_COLUMNS])
    .where('m.id', 'in', pageIds)
    .orderBy('m.sent_at', 'desc')
    .orderBy('m.id', 'desc')
    .execute();
  return { rows: rows.map((r) => listRowOrUnreadable(dek, r)), total: Number(total.n), page, pageSize };
}

export async function getMessage(db: Kysely<Database>, dek: Buffer, userId: number, messageId: number): Promise<MessageDetail | undefined> {
  if (!Number.isSafeInteger(messageId)) return undefined;
  const r = await baseQuery(db, userId)
    .where('m.id', '=', messageId)
    .select([...LIST_COLUMNS, 'm.body_enc', 'm.raw_enc', 'm.raw_ref', 'm.size', 'm.has_skipped_attachments'])
    .executeTakeFirst();
  if (!r) return undefined;
  const { row, meta } = listRow(dek, r);
  // body_enc: a message stored by a version that kept the decoded body apart.
  const raw = r.body_enc ? null : await openRaw(db, dek, row.accountId, r.stable_id, r);
  const body: MessageBody = r.body_enc
    ? decryptJson<MessageBody>(dek, r.body_enc, bodyAad(row.accountId, r.stable_id), 'a message')
    : raw
      ? (await messageContent(raw)).body
      : { text: null, html: null };
  return {
    ...row,
    to: meta.to,
    cc: meta.cc,
    messageId: meta.messageId,
    text: body.text,
    html: body.html,
    size: r.size === null ? null : Number(r.size),
    attachments: meta.attachments,
    hasSkippedAttachments: r.has_skipped_attachments === 1,
  };
}

export async function getAttachment(
  db: Kysely<Database>,
  dek: Buffer,
  userId: number,
  messageId: number,
  idx: number,
): Promise<AttachmentContent | undefined> {
  if (!Number.isSafeInteger(messageId) || !Number.isSafeInteger(idx)) return undefined;
  const r = await baseQuery(db, userId)
    .leftJoin('attachments as t', (j) => j.onRef('t.message_id', '=', 'm.id').on('t.idx', '=', idx))
    .where('m.id', '=', messageId)
    .select(['m.account_id', 'm.stable_id', 'm.meta_enc', 'm.raw_enc', 'm.raw_ref', 't.content_enc'])
    .executeTakeFirst();
  if (!r) return undefined;
  const accountId = Number(r.account_id);
  const meta = decryptJson<MessageMeta>(dek, r.meta_enc, metaAad(accountId, r.stable_id), 'a message');
  const m = meta.attachments.find((a) => a.idx === idx);
  if (!m) return undefined;
  let content: Buffer | null = null;
  // Above the size limit: kept as metadata only, as the account's settings ask.
  if (!m.tooLarge) {
    // content_enc: an attachment stored apart by an earlier version; otherwise derived from the raw source.
    if (r.content_enc) content = decrypt(dek, r.content_enc, attachmentAad(accountId, r.stable_id, idx), 'an attachment');
    else {
      const raw = await openRaw(db, dek, accountId, r.stable_id, r);
      if (raw) content = (await messageContent(raw, { withText: false })).attachment(idx);
    }
    if (!content) return undefined;
  }
  return { filename: m.filename, mimeType: m.mimeType, size: m.size, content };
}

/** The original message source (RFC 5322 bytes), e.g. for "download .eml". */
export async function getRawMessage(db: Kysely<Database>, dek: Buffer, userId: number, messageId: number): Promise<Buffer | undefined> {
  if (!Number.isSafeInteger(messageId)) return undefined;
  const r = await baseQuery(db, userId)
    .where('m.id', '=', messageId)
    .select(['m.account_id', 'm.stable_id', 'm.raw_enc', 'm.raw_ref'])
    .executeTakeFirst();
  if (!r) return undefined;
  return (await openRaw(db, dek, Number(r.account_id), r.stable_id, r)) ?? undefined;
}

/** The message's raw source, decrypted: from its row, or from the pack file or chunks its row names; null if it has none. */
async function openRaw(
  db: Kysely<Database>,
  dek: Buffer,
  accountId: number,
  stableId: string,
  r: { raw_enc: Buffer | null; raw_ref: string | null },
): Promise<Buffer | null> {
  const sealed = r.raw_enc ?? (r.raw_ref ? await readStored(db, accountId, r.raw_ref) : null);
  return sealed ? decrypt(dek, sealed, rawAad(accountId, stableId), 'a message') : null;
}

/** The sealed bytes a raw_ref names: a range of blob_chunks (PostgreSQL) or of a pack file (SQLite). */
async function readStored(db: Kysely<Database>, accountId: number, ref: string): Promise<Buffer> {
  if (isChunkRef(ref)) return readChunked(db, accountId, ref);
  const dir = packDirFor(db);
  if (!dir) throw new Error('A message names a pack file, but this store keeps none (was it copied from a SQLite store?).');
  return readPacked(dir, accountId, ref);
}
