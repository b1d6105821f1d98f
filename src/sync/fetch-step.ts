// Step 2: fetch what the state holds but the store does not, newest first, at most max_emails.
// Bodies stream in per-folder UID batches; writes are flushed by count or bytes inside one
// transaction each, so memory stays bounded by a batch, never by the mailbox.
import { readBodies } from './body-fetch.js';
import { transient } from './errors.js';
import { parseEmail } from '../mime/parse-email.js';
import { ParserUnavailable, type ParserPool } from './parser-pool.js';
import { packWriterFor } from '../store/blob-packs.js';
import { chunks, uidSet } from './plan.js';
import { messageRow, SEAL_PARSE, sealMessage, type MessageBase, type SealedMessage } from './seal-message.js';
import type { PendingMessage, ServerMessageRow } from './sync-store.js';
import type { ThreadStoreTarget } from './thread-store.js';
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
    for await (const m of readBodies(run.client, uidSet(batch.map((p) => p.uid)), false)) {
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
 * How many batches may be parsed, sealed or stored at once while the next one fills. Where the parse
 * thread writes, a sealed batch never comes back to this thread and two fit in the memory budget; a
 * moment's lag of the thread then no longer stalls the IMAP reader (behind ImapFlow's back-pressure,
 * the connection too). Those two are the batches not yet in the thread's pack file; behind them up to
 * `threadUncommitted` in all may wait for their sync and commit, which hold little memory (their
 * sources are on disk) and may share one fdatasync (PackWriter.hold): with every batch's slot taken
 * until its commit, the reader waited on each sync, ~10 % of a 10,000-message first sync (README,
 * Sync engine). Where this thread writes (PostgreSQL), the sealed bytes and the driver's copies
 * of them wait here: one batch, or two whose sources come to at most half a full one together (a
 * second full batch cost ~20 MB of peak RSS in a 10,000-message first sync, and two of up to FLUSH_BYTES
 * together still ~10 MB; the small batches of new mail, a folder's few messages each, overlap their
 * INSERTs so: after 100 new messages on PostgreSQL ~5-10 % sooner, bench:ab).
 */
const IN_FLIGHT = { thread: 2, threadUncommitted: 4, here: 1, hereSmall: 2, hereSmallBytes: FLUSH_BYTES / 2 };

/**
 * Stores batches while the next one is fetched: batches are parsed, sealed and written (in order)
 * while another fills, so memory stays bounded by a few batches and IMAP reading overlaps parsing and SQL.
 */
export class BatchWriter {
  done = 0;
  onStored: (done: number) => void = () => {};
  /** The stores still running, oldest first; each settles (never rejects) when its batch is written or failed. */
  private inflight: Promise<void>[] = [];
  /** The raw bytes of the batches in `inflight` that this thread stores (roomHere). */
  private inflightBytes = 0;
  /** Batches in `inflight` that the parse thread has not appended to its pack yet (their sources in memory). */
  private unwritten = 0;
  /** Waiting for the thread to append a batch (nextWritten). */
  private writtenWaiters: (() => void)[] = [];
  private error: unknown = null;
  /** Stable ids of the new server locations committed (by the thread or here) since settleCommitted was last called. */
  private committed: string[] = [];
  /** The inserts of the new locations submitted so far (see afterLocations). */
  private located: Promise<void> = Promise.resolve();

  constructor(
    private readonly run: SyncRun,
    private readonly dek: Buffer,
    private readonly maxAttachmentBytes: number,
  ) {}

  /** Where the parse thread writes batches itself (SQLite on a file), looked up once per writer. */
  private target: ThreadStoreTarget | null | undefined;

  /** Whether batches submitted with `parser` are written by its thread (their server rows must then come along). */
  writesInThread(parser: ParserPool | null): boolean {
    if (!parser) return false;
    this.target ??= this.run.store.threadTarget();
    return this.target !== null;
  }

  /**
   * Starts parsing and sealing the batch (in `parser`'s thread, else here), then stores it behind the
   * previous ones. `server` holds the batch's new server locations (their bookkeeping done, see
   * SyncStore.beforeInsertElsewhere): where the thread writes (writesInThread), in the same transaction
   * before the messages; here, inserted at once and the messages after them. Either way the caller goes
   * on meanwhile (the next folder's EXAMINE and FETCH: on PostgreSQL the INSERT took 2-6 ms a folder).
   */
  async submit(batch: Fetched[], parser: ParserPool | null, server: ServerMessageRow[] = []): Promise<void> {
    let stored: Promise<void>;
    /** Where the batch's new locations are written: settles once they are in the store. */
    let located: Promise<void> | null = null;
    let bytes = 0;
    if (parser && this.writesInThread(parser)) {
      while (this.unwritten >= IN_FLIGHT.thread || this.inflight.length >= IN_FLIGHT.threadUncommitted)
        await Promise.race([this.inflight[0], this.nextWritten()]);
      if (this.error) throw this.error;
      if (batch.length === 0 && server.length === 0) return;
      stored = this.writeThere(batch, server, parser, this.target!);
      if (server.length > 0) located = stored; // the thread commits them with the batch
    } else {
      // In this thread the work waits one macrotask, so that the IMAP command that follows (the next
      // FETCH, the next folder's EXAMINE) goes out first and the server answers it meanwhile.
      const sealed = parser
        ? this.sealThere(batch, parser)
        : new Promise((resolve) => setTimeout(resolve, 0)).then(() => this.sealHere(batch));
      // Awaited by storeBatch; if an earlier batch failed first, nobody does: not an unhandled rejection.
      sealed.catch(() => {});
      bytes = batch.reduce((n, f) => n + f.raw.length, 0);
      while (!this.roomHere(bytes)) await this.inflight[0];
      if (this.error) throw this.error;
      if (batch.length === 0 && server.length === 0) return;
      if (server.length > 0) located = this.insertLocations(server);
      const previous = this.inflight.at(-1) ?? Promise.resolve();
      // A failed batch stops the ones behind it: the caller sees its error at the next submit or drain.
      stored = previous
        .then(() => located)
        .then(() =>
          this.error || batch.length === 0 ? undefined : storeBatch(this.run, batch, sealed).then(() => this.stored(batch.length)),
        );
    }
    this.track(stored, bytes);
    if (located) this.locating(located);
  }

  /** Whether a batch of `bytes` to store in this thread may join those in flight (see IN_FLIGHT). */
  private roomHere(bytes: number): boolean {
    const n = this.inflight.length;
    return n < IN_FLIGHT.here || (n < IN_FLIGHT.hereSmall && this.inflightBytes + bytes <= IN_FLIGHT.hereSmallBytes);
  }

  /**
   * Runs `task` once the new locations of every batch submitted so far are in the store; rejects
   * without running it if one of them failed (a rerun redoes the batch then). The caller does not wait
   * for it (SyncRun.alongside).
   */
  afterLocations(task: () => Promise<void>): Promise<void> {
    return this.located.then(task);
  }

  /**
   * Adds `write` (of new locations) to what afterLocations waits for. Promise.all takes its rejection at
   * once: none goes unhandled while the batch waits for those before it.
   */
  private locating(write: Promise<unknown>): void {
    const all = Promise.all([this.located, write]).then(() => {});
    all.catch(() => {}); // its error reaches afterLocations' callers, and the batch's, the writer's
    this.located = all;
  }

  /** Holds `work` (a batch of `bytes`) among the running stores; it settles (never rejects), its error kept for the caller. */
  private track(work: Promise<void>, bytes = 0): void {
    const tracked: Promise<void> = work
      .catch((err: unknown) => {
        this.error ??= err;
      })
      .finally(() => {
        this.inflight.splice(this.inflight.indexOf(tracked), 1);
        this.inflightBytes -= bytes;
      });
    this.inflight.push(tracked);
    this.inflightBytes += bytes;
  }

  /**
   * Takes the locations the thread has committed out of SyncRun.unsettledIds: the store shows them now.
   * Only between claims, so that no claim has read the store before their commit and looks here after.
   */
  settleCommitted(): void {
    for (const id of this.committed) this.run.unsettledIds.delete(id);
    this.committed = [];
  }

  /** New locations written here: once committed, the next claim may take them out of SyncRun.unsettledIds. */
  private async insertLocations(server: ServerMessageRow[]): Promise<void> {
    await this.run.store.insertLocations(server);
    for (const row of server) this.committed.push(row.stable_id);
  }

  private stored(count: number): void {
    this.done += count;
    this.onStored(this.done);
  }

  /** Resolves when the thread next says it has appended a batch to its pack. */
  private nextWritten(): Promise<void> {
    return new Promise((resolve) => this.writtenWaiters.push(resolve));
  }

  /** The thread seals and writes the batch; the run counts it once committed. */
  private async writeThere(batch: Fetched[], server: ServerMessageRow[], parser: ParserPool, target: ThreadStoreTarget): Promise<void> {
    const bases = batch.map(({ p }) => messageBase(this.run, p));
    this.unwritten++;
    let appended = false;
    const written = () => {
      if (appended) return;
      appended = true;
      this.unwritten--;
      for (const wake of this.writtenWaiters.splice(0)) wake();
    };
    let r;
    try {
      r = await parser.storeBatch(
        batch.map((f) => f.raw),
        this.context(),
        bases,
        server,
        target,
        written,
      );
    } catch (err) {
      throw err instanceof ParserUnavailable ? threadLost(err) : err;
    } finally {
      written();
    }
    for (const row of server) this.committed.push(row.stable_id);
    this.run.store.locationsWritten(server, r.written.locations === server.length);
    if (r.written.messages === batch.length) this.run.store.settle(bases.map((b) => b.stable_id));
    this.run.stats.fetched += batch.length;
    this.run.stats.bytesFetched += r.bytes;
    this.run.stats.parseProblems += r.parseProblems;
    this.stored(batch.length);
  }

  private context() {
    return { dek: this.dek, accountId: this.run.account.id, maxAttachmentBytes: this.maxAttachmentBytes };
  }

  private async sealThere(batch: Fetched[], parser: ParserPool): Promise<SealedMessage[]> {
    if (batch.length === 0) return [];
    const r = await parser.sealBatch(
      batch.map((f) => f.raw),
      this.context(),
      batch.map((f) => f.p.stable_id),
    );
    const failed = r instanceof Error ? r : r.find((s): s is Error => s instanceof Error);
    if (failed) throw threadLost(failed);
    return r as SealedMessage[];
  }

  private async sealHere(batch: Fetched[]): Promise<SealedMessage[]> {
    const out: SealedMessage[] = [];
    for (const f of batch)
      out.push(sealMessage(f.raw, await parseEmail(f.raw, SEAL_PARSE), { ...this.context(), stableId: f.p.stable_id }));
    return out;
  }

  async drain(): Promise<void> {
    await this.settle();
    if (this.error) throw this.error;
  }

  /** Waits for every submitted batch to be written or failed, without throwing. */
  async settle(): Promise<void> {
    while (this.inflight.length > 0) await this.inflight.at(-1);
  }
}

/** The mirror's side of a stored message row. */
function messageBase(run: SyncRun, p: PendingMessage): MessageBase {
  const { userId, id } = run.account;
  return {
    user_id: userId,
    account_id: id,
    stable_id: p.stable_id,
    folder_id: p.folder_id,
    uid: p.uid,
    flags: p.flags,
    internal_date: p.internal_date,
  };
}

/** The raw messages went to the thread with the job: a failed thread means fetching them again. */
function threadLost(cause: Error): Error {
  return transient('internal', 'The parse thread stopped unexpectedly; the sync will be retried.', cause);
}

async function storeBatch(run: SyncRun, batch: Fetched[], sealing: Promise<SealedMessage[]>): Promise<void> {
  if (batch.length === 0) return;
  const now = Date.now();
  const sealed = await sealing;
  // On SQLite the raw sources go to the account's pack (src/store/blob-packs.ts), synced before the
  // rows naming them are inserted; written off the event loop, so IMAP reading goes on meanwhile.
  const packs = packWriterFor(run.store.db);
  const rawRefs = packs
    ? await packs.append(
        run.account.id,
        sealed.map((s) => s.rawEnc),
      )
    : null;
  const rows = batch.map(({ p }, i) => {
    const s = sealed[i];
    if (s.parseError) run.stats.parseProblems++;
    run.stats.bytesFetched += s.size;
    return messageRow(messageBase(run, p), s, now, rawRefs?.[i] ?? null);
  });
  const inserted = await run.store.insertMessages(
    rows,
    sealed.map((s) => (rawRefs ? null : s.rawEnc)),
  );
  // Each message was written from its location as read: those the run inserted and left alone need no step 3.
  if (inserted === rows.length) run.store.settle(batch.map(({ p }) => p.stable_id));
  run.stats.fetched += batch.length;
}
