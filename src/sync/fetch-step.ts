// Step 2: fetch what the state holds but the store does not, newest first, at most max_emails.
// Bodies stream in per-folder UID batches; writes are flushed by count or bytes inside one
// transaction each, so memory stays bounded by a batch, never by the mailbox.
import { encrypt, encryptJson } from '../crypto/aead.js';
import { attachmentAad, bodyAad, metaAad, rawAad } from '../messages/message-format.js';
import type { MessagesTable } from '../store/schema.js';
import type { Insertable } from 'kysely';
import { fromParseResult, parseMessage } from './parse-message.js';
import { ParserUnavailable, type ParserPool } from './parser-pool.js';
import type { EmailFields } from '../mime/parse-fast.js';
import { chunks, uidSet } from './plan.js';
import type { PendingMessage } from './sync-store.js';
import type { SyncRun } from './sync-run.js';

const FETCH_BATCH = 200;
/** A batch goes to the writer at this many messages or bytes, whichever comes first. */
export const FLUSH_COUNT = 100;
export const FLUSH_BYTES = 4 * 1024 * 1024;

export interface Fetched {
  p: PendingMessage;
  raw: Buffer;
  /** Parsing starts as soon as the body arrives (in a worker) and is awaited only when the batch is stored. */
  parsed: Promise<EmailFields | Error> | null;
}

export async function fetchStep(
  run: SyncRun,
  pending: PendingMessage[],
  folders: Map<number, string>,
  dek: Buffer,
  maxAttachmentBytes: number,
  parser: ParserPool | null,
): Promise<void> {
  const byFolder = new Map<number, PendingMessage[]>();
  for (const p of pending) {
    const list = byFolder.get(p.folder_id) ?? [];
    list.push(p);
    byFolder.set(p.folder_id, list);
  }
  const total = pending.length;
  const writer = new BatchWriter(run, dek, maxAttachmentBytes);
  let i = 0;
  try {
    for (const [folderId, list] of byFolder) {
      i++;
      const path = folders.get(folderId);
      if (!path || run.vanishedFolders.has(folderId)) continue;
      const progress = { phase: 'fetch' as const, folder: path, folderIndex: i, folderCount: byFolder.size, total };
      writer.onStored = (done) => run.progress({ ...progress, done });
      run.progress({ ...progress, done: writer.done });
      const lock = await run.openFolder({ id: folderId, path } as never);
      if (!lock) continue;
      try {
        await fetchBodies(run, list, writer, parser);
      } finally {
        lock.release();
      }
    }
    await writer.drain();
  } finally {
    // An IMAP failure must not leave a write running behind the caller's back.
    await writer.settle();
  }
}

/** Bodies of these messages of the open folder, in UID batches, handed to the writer as they arrive. */
export async function fetchBodies(run: SyncRun, list: PendingMessage[], writer: BatchWriter, parser: ParserPool | null): Promise<void> {
  for (const batch of chunks(list, FETCH_BATCH)) {
    run.throwIfAborted();
    const byUid = new Map(batch.map((p) => [p.uid, p]));
    let buf: Fetched[] = [];
    let bytes = 0;
    for await (const m of run.client.fetch(uidSet(batch.map((p) => p.uid)), { uid: true, source: true }, { uid: true })) {
      const p = byUid.get(m.uid);
      if (!p || !m.source) continue;
      buf.push({ p, raw: m.source, parsed: parser ? parser.parse(m.source) : null });
      bytes += m.source.length;
      if (buf.length >= FLUSH_COUNT || bytes >= FLUSH_BYTES) {
        await writer.submit(buf);
        buf = [];
        bytes = 0;
      }
    }
    await writer.submit(buf);
  }
}

/**
 * Stores batches while the next one is fetched: at most one batch is being written (and parsed)
 * while another fills, so memory stays bounded and IMAP reading overlaps parsing and SQL.
 */
export class BatchWriter {
  done = 0;
  onStored: (done: number) => void = () => {};
  private inflight: Promise<void> = Promise.resolve();
  private error: unknown = null;

  constructor(
    private readonly run: SyncRun,
    private readonly dek: Buffer,
    private readonly maxAttachmentBytes: number,
  ) {}

  async submit(batch: Fetched[]): Promise<void> {
    await this.drain();
    if (batch.length === 0) return;
    this.inflight = storeBatch(this.run, batch, this.dek, this.maxAttachmentBytes).then(
      () => {
        this.done += batch.length;
        this.onStored(this.done);
      },
      (err: unknown) => {
        this.error = err;
      },
    );
  }

  async drain(): Promise<void> {
    await this.inflight;
    if (this.error) throw this.error;
  }

  async settle(): Promise<void> {
    await this.inflight;
  }
}

async function storeBatch(run: SyncRun, batch: Fetched[], dek: Buffer, maxAttachmentBytes: number): Promise<void> {
  if (batch.length === 0) return;
  const accountId = run.account.id;
  const now = Date.now();
  const rows: Insertable<MessagesTable>[] = [];
  const attachments = new Map<string, { idx: number; size: number; tooLarge: boolean; content: Buffer | null }[]>();
  for (const { p, raw, parsed: inWorker } of batch) {
    const result = inWorker ? await inWorker : null;
    const parsed =
      result && !(result instanceof ParserUnavailable)
        ? fromParseResult(raw, result, maxAttachmentBytes)
        : await parseMessage(raw, maxAttachmentBytes);
    if (parsed.parseError) run.stats.parseProblems++;
    run.stats.bytesFetched += raw.length;
    rows.push({
      user_id: run.account.userId,
      account_id: accountId,
      stable_id: p.stable_id,
      folder_id: p.folder_id,
      uid: p.uid,
      flags: p.flags,
      sent_at: parsed.sentAt ?? p.internal_date,
      size: raw.length,
      meta_enc: encryptJson(dek, parsed.meta, metaAad(accountId, p.stable_id)),
      body_enc: parsed.body ? encryptJson(dek, parsed.body, bodyAad(accountId, p.stable_id)) : null,
      raw_enc: encrypt(dek, raw, rawAad(accountId, p.stable_id)),
      parse_error: parsed.parseError,
      has_skipped_attachments: parsed.attachments.some((a) => a.meta.tooLarge) ? 1 : 0,
      deleted_at: null,
      created_at: now,
      updated_at: now,
    });
    if (parsed.attachments.length > 0)
      attachments.set(
        p.stable_id,
        parsed.attachments.map((a) => ({
          idx: a.meta.idx,
          size: a.meta.size,
          tooLarge: a.meta.tooLarge,
          content: a.content ? encrypt(dek, a.content, attachmentAad(accountId, p.stable_id, a.meta.idx)) : null,
        })),
      );
  }
  await run.store.db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('messages')
      .values(rows)
      .onConflict((oc) => oc.columns(['account_id', 'stable_id']).doNothing())
      .returning(['id', 'stable_id'])
      .execute();
    const attRows = inserted.flatMap((r) =>
      (attachments.get(r.stable_id) ?? []).map((a) => ({
        message_id: Number(r.id),
        idx: a.idx,
        size: a.size,
        too_large: a.tooLarge ? 1 : 0,
        content_enc: a.content,
      })),
    );
    for (const part of chunks(attRows, 50)) await trx.insertInto('attachments').values(part).execute();
  });
  run.stats.fetched += batch.length;
}
