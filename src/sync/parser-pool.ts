// Parse threads, so the main thread keeps reading IMAP and writing SQL while messages are parsed and
// sealed. The thread's code is parse-worker.ts: JavaScript in dist/, TypeScript (loaded through
// tsx's API) under tsx/vitest. Raw messages to seal are handed over, not copied, and the sealed
// buffers come back the same way.
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { EmailFields } from '../mime/parse-fast.js';
import type { ParseJob } from './parse-worker.js';
import type { MessageBase, SealContext, SealedMessage } from './seal-message.js';
import type { ServerMessageRow } from './sync-store.js';
import type { ThreadStoreTarget, WrittenRows } from './thread-store.js';

// Plain JavaScript (eval'd): loads the thread's module by URL, so it runs the same from dist/ and src/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
var __name = (target) => target; // a helper some TypeScript transpilers emit into class sources
(workerData.tsxApiUrl
  ? import(workerData.tsxApiUrl).then((tsx) => tsx.tsImport(workerData.moduleUrl, workerData.moduleUrl))
  : import(workerData.moduleUrl)
).then(
  () => parentPort.postMessage({ ready: true }),
  (err) => parentPort.postMessage({ fatal: String((err && err.message) || err) }),
);
`;

/** The thread itself failed (not the message). A parse falls back to this thread; a seal's raw message was handed over, so the sync is retried. */
export class ParserUnavailable extends Error {}

/** One message's outcome in a sealed batch: the sealed message, or why the thread could not seal it. */
export type SealOutcome = { sealed: SealedMessage } | { error: string };

/** A batch the thread sealed and wrote: what the run counts. */
export interface StoredBatch {
  bytes: number;
  parseProblems: number;
  written: WrittenRows;
}

type Reply = {
  id: number;
  email?: EmailFields;
  sealed?: SealOutcome[];
  stored?: StoredBatch;
  /** A batch to store is in its pack (not yet synced and committed): its memory is free. */
  written?: boolean;
  error?: string;
  code?: string;
  fatal?: string;
  ready?: boolean;
};

interface Pending {
  resolve(v: Reply | ParserUnavailable): void;
  written?(): void;
}

/** A view that owns its whole ArrayBuffer can be transferred; anything else (a pool slice) is copied first. */
export function ownBuffer(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** A batch's sealing context as it crosses to a thread (the key copied, never handed over). */
function threadContext(ctx: Omit<SealContext, 'stableId'>) {
  return { accountId: ctx.accountId, maxAttachmentBytes: ctx.maxAttachmentBytes, dek: new Uint8Array(ctx.dek) };
}

export class ParserPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  /** Why the pool stopped working (a thread failed, or close()): every later job answers ParserUnavailable. */
  private failed: Error | null = null;
  private rr = 0;
  /** Threads that have loaded their code: a job sent before waits for that. */
  private started = 0;
  /** Messages sent to the threads so far (see warm). */
  private handled = 0;

  constructor(size = Math.min(2, Math.max(1, cpus().length - 1))) {
    const fromSource = import.meta.url.endsWith('.ts');
    const moduleUrl = new URL(`./parse-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
    const tsxApiUrl = fromSource ? import.meta.resolve('tsx/esm/api') : null;
    for (let i = 0; i < size; i++) {
      // A small young generation: the thread's garbage is many short strings and objects per message
      // (bodies themselves live outside the heap); collecting it often keeps the process's peak RSS down.
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { moduleUrl, tsxApiUrl },
        resourceLimits: { maxYoungGenerationSizeMb: 4 },
      });
      w.on('message', (m: Reply) => {
        if (m.fatal !== undefined) return this.failAll(new Error(m.fatal));
        if (m.ready) return void this.started++;
        const p = this.pending.get(m.id);
        if (!p) return;
        if (m.written) return p.written?.();
        this.pending.delete(m.id);
        p.resolve(m);
        if (this.pending.size === 0) this.idle();
      });
      w.on('error', (err) => this.failAll(err));
      // A thread that ends unasked (killed, out of memory) answers nothing more.
      w.on('exit', (code) => this.failAll(new Error(`the thread exited (code ${code})`)));
      w.unref();
      this.workers.push(w);
    }
  }

  private send(req: ParseJob, transfer: ArrayBuffer[], written?: () => void): Promise<Reply | ParserUnavailable> {
    // A failed or closed pool answers at once: a sync still holding it must not wait for a dead thread.
    if (this.failed) return Promise.resolve(new ParserUnavailable(`parse thread failed: ${this.failed.message}`));
    this.handled += req.kind === 'parse' ? 1 : req.raws.length;
    const id = this.nextId++;
    const w = this.workers[this.rr++ % this.workers.length];
    // Threads hold the process open only while they have work, so an idle shared pool never blocks exit.
    if (this.pending.size === 0) for (const x of this.workers) x.ref();
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, written });
      w.postMessage({ ...req, id }, transfer);
    });
  }

  /** Resolves with the parsed email, or with an Error describing why the message does not parse. */
  async parse(raw: Buffer): Promise<EmailFields | Error> {
    const r = await this.send({ kind: 'parse', raw: new Uint8Array(raw) }, []);
    if (r instanceof ParserUnavailable) return r;
    return r.email ?? new Error(r.error ?? 'parse failed');
  }

  /** Parses and seals a message to store. `raw` is handed to the thread: do not use it afterwards. */
  async seal(raw: Buffer, ctx: SealContext): Promise<SealedMessage | Error> {
    const r = await this.sealBatch([raw], ctx, [ctx.stableId]);
    return r instanceof Error ? r : r[0];
  }

  /**
   * Parses and seals a batch in one round trip to a thread (one message each way, not one per
   * message: per-message messaging cost the reading thread ~10 µs a message). The raw messages are
   * handed to the thread: do not use them afterwards. An Error in the result is a thread failure.
   */
  async sealBatch(raws: Buffer[], ctx: Omit<SealContext, 'stableId'>, stableIds: string[]): Promise<(SealedMessage | Error)[] | Error> {
    const own = raws.map(ownBuffer);
    const job: ParseJob = {
      kind: 'seal',
      raws: own,
      stableIds,
      ctx: threadContext(ctx),
    };
    const r = await this.send(job, [...new Set(own.map((o) => o.buffer as ArrayBuffer))]);
    if (r instanceof ParserUnavailable) return r;
    if (!r.sealed) return new ParserUnavailable(`parse thread failed: ${r.error ?? 'no result'}`);
    return r.sealed.map((o) =>
      'sealed' in o
        ? { ...o.sealed, metaEnc: asBuffer(o.sealed.metaEnc), rawEnc: o.sealed.rawEnc.map(asBuffer) }
        : new ParserUnavailable(`parse thread failed: ${o.error}`),
    );
  }

  /**
   * Parses, seals and writes a batch in a thread (thread-store.ts): the new server locations, then the
   * messages, in one transaction of the thread's own connection. Resolves when it is committed; rejects
   * with the thread's error (its SQLite code kept, so a busy store stays a transient failure), or with
   * ParserUnavailable if the thread itself failed. The raw messages are handed over, as in sealBatch.
   * `written` is called when the thread has appended the batch to its pack (the batch's bytes no longer
   * in memory), before the sync and the commit, which may wait for the batches after it.
   */
  async storeBatch(
    raws: Buffer[],
    ctx: Omit<SealContext, 'stableId'>,
    bases: MessageBase[],
    server: ServerMessageRow[],
    target: ThreadStoreTarget,
    written?: () => void,
  ): Promise<StoredBatch> {
    const own = raws.map(ownBuffer);
    const job: ParseJob = {
      kind: 'store',
      raws: own,
      bases,
      server,
      target,
      ctx: threadContext(ctx),
    };
    const r = await this.send(job, [...new Set(own.map((o) => o.buffer as ArrayBuffer))], written);
    if (r instanceof ParserUnavailable) throw r;
    if (r.stored) return r.stored;
    throw Object.assign(new Error(r.error ?? 'the parse thread did not store the batch'), { code: r.code });
  }

  private idle(): void {
    for (const w of this.workers) w.unref();
  }

  private failAll(err: Error): void {
    this.failed ??= err;
    for (const p of this.pending.values()) p.resolve(new ParserUnavailable(`parse thread failed: ${err.message}`));
    this.pending.clear();
    this.idle();
    if (shared === this) shared = null;
  }

  /** Every thread has loaded its code and takes a job at once. */
  get running(): boolean {
    return !this.failed && this.started === this.workers.length;
  }

  /** Running, and past the first THREADS_FROM messages: the threads' code is compiled for the work by now. */
  get warm(): boolean {
    return this.running && this.handled >= THREADS_FROM;
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  async close(): Promise<void> {
    if (shared === this) shared = null;
    this.failAll(new Error('parser closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

let shared: ParserPool | null = null;

/**
 * The process-wide pool, created on first use: a long-running worker process pays the thread
 * start-up once, not per sync. Called ahead of a sync (`mail-helper sync --direct`), it starts the
 * threads so that the sync finds them running. Returns null where worker threads cannot start (then
 * parse in-thread).
 */
export function sharedParserPool(): ParserPool | null {
  if (shared) return shared;
  try {
    shared = new ParserPool();
  } catch {
    return null;
  }
  return shared;
}

/**
 * Below this many messages, waiting for parse threads to start costs more than parsing in this thread
 * (a fresh process: +38 ms in a resync after 100 new messages). Threads that have parsed this many are
 * faster from the first message (-18 ms there); threads just started are not: their code runs cold,
 * as this thread's would (+28 ms there with threads started ahead, as `sync --direct` starts them).
 */
export const THREADS_FROM = 500;

/**
 * The pool for a run that parses `count` messages: started only when worth the wait; once warm, used
 * for any run. A pool still starting, or not yet warm, is left alone by small runs.
 */
export function parserPoolFor(count: number): ParserPool | null {
  return count >= THREADS_FROM ? sharedParserPool() : shared?.warm ? shared : null;
}
