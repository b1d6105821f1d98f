// Step 2: fetch what the state holds but the store does not, newest first, at most max_emails.
// Bodies stream in per-folder UID batches; writes are flushed by count or bytes inside one
// transaction each, so memory stays bounded by a batch, never by the mailbox.
import type { MessagesTable } from '../store/schema.js';
import type { Insertable } from 'kysely';
import { transient } from './errors.js';
import { parseEmail } from '../mime/parse-email.js';
import { ParserUnavailable, type ParserPool } from './parser-pool.js';
import { chunks, uidSet } from './plan.js';
import { sealMessage, type SealedMessage } from './seal-message.js';
import type { PendingMessage } from './sync-store.js';
import type { SyncRun } from './sync-run.js';

const FETCH_BATCH = 200;
/** A batch goes to the writer at this many messages or bytes, whichever comes first. */
export const FLUSH_COUNT = 100;
export const FLUSH_BYTES = 4 * 1024 * 1024;

export interface Fetched {
  p: PendingMessage;
  raw: Buffer;
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
      buf.push({ p, raw: m.source });
      bytes += m.source.length;
      if (buf.length >= FLUSH_COUNT || bytes >= FLUSH_BYTES) {
        await writer.submit(buf, parser);
        buf = [];
        bytes = 0;
      }
    }
    await writer.submit(buf, parser);
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

  /** Starts parsing and sealing the batch (in `parser`'s thread, else here), then stores it behind the previous one. */
  async submit(batch: Fetched[], parser: ParserPool | null): Promise<void> {
    // In this thread the work waits one macrotask, so that the IMAP command that follows (the next
    // FETCH, the next folder's EXAMINE) goes out first and the server answers it meanwhile.
    const start = parser ? null : new Promise((resolve) => setTimeout(resolve, 0));
    const sealed = batch.map((f) => (start ? start.then(() => this.seal(f, null)) : this.seal(f, parser)));
    // Awaited by storeBatch; if an earlier batch failed first, nobody does: not an unhandled rejection.
    for (const s of sealed) s.catch(() => {});
    await this.drain();
    if (batch.length === 0) return;
    this.inflight = storeBatch(this.run, batch, sealed).then(
      () => {
        this.done += batch.length;
        this.onStored(this.done);
      },
      (err: unknown) => {
        this.error = err;
      },
    );
  }

  private async seal(f: Fetched, parser: ParserPool | null): Promise<SealedMessage> {
    const ctx = { dek: this.dek, accountId: this.run.account.id, stableId: f.p.stable_id, maxAttachmentBytes: this.maxAttachmentBytes };
    if (parser) {
      const s = await parser.seal(f.raw, ctx);
      // The raw message went to the thread with the job: a failed thread means fetching it again.
      if (s instanceof ParserUnavailable)
        throw transient('internal', 'The parse thread stopped unexpectedly; the sync will be retried.', s);
      if (s instanceof Error) throw s;
      return s;
    }
    return sealMessage(f.raw, await parseEmail(f.raw, { withText: false }), ctx);
  }

  async drain(): Promise<void> {
    await this.inflight;
    if (this.error) throw this.error;
  }

  async settle(): Promise<void> {
    await this.inflight;
  }
}

async function storeBatch(run: SyncRun, batch: Fetched[], sealing: Promise<SealedMessage>[]): Promise<void> {
  if (batch.length === 0) return;
  const accountId = run.account.id;
  const now = Date.now();
  const rows: Insertable<MessagesTable>[] = [];
  const sealed = await Promise.all(sealing);
  batch.forEach(({ p }, i) => {
    const s = sealed[i];
    if (s.parseError) run.stats.parseProblems++;
    run.stats.bytesFetched += s.size;
    rows.push({
      user_id: run.account.userId,
      account_id: accountId,
      stable_id: p.stable_id,
      folder_id: p.folder_id,
      uid: p.uid,
      flags: p.flags,
      sent_at: s.sentAt ?? p.internal_date,
      size: s.size,
      meta_enc: s.metaEnc,
      body_enc: null,
      raw_enc: s.rawEnc,
      parse_error: s.parseError,
      has_skipped_attachments: s.hasSkippedAttachments ? 1 : 0,
      deleted_at: null,
      created_at: now,
      updated_at: now,
    });
  });
  await run.store.redoable
    .insertInto('messages')
    .values(rows)
    .onConflict((oc) => oc.columns(['account_id', 'stable_id']).doNothing())
    .execute();
  run.stats.fetched += batch.length;
}
