// MIME parsing in worker threads, so the main thread keeps reading IMAP and writing SQL while
// messages are parsed. The worker tries the fast path (src/mime/parse-fast.ts) first; for what it
// declines it uses postal-mime with the concatenating Blob (concat-blob.ts) that makes postal-mime ~4×
// faster on Node 20; that global patch stays inside the worker.
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { EmailFields } from '../mime/parse-fast.js';
import { ConcatBlob } from './concat-blob.js';
import { POSTAL_MIME_OPTIONS } from './parse-message.js';

// Plain JavaScript (eval'd), so it runs the same from dist/ and from TypeScript sources under tsx/vitest.
// The fast path is a module of ours: JavaScript in dist/, TypeScript (loaded through tsx's API) in src/.
// Should it fail to load, the worker parses everything with postal-mime: slower, same results.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
var __name = (target) => target; // a helper some TypeScript transpilers emit into class sources
globalThis.Blob = (${ConcatBlob.toString()});
const ready = import(workerData.postalMimeUrl).then((m) => m.default);
const fast = (workerData.tsxApiUrl
  ? import(workerData.tsxApiUrl).then((tsx) => tsx.tsImport(workerData.parseFastUrl, workerData.parseFastUrl))
  : import(workerData.parseFastUrl)
).then((m) => m.parseFast, () => () => null);
parentPort.on('message', async ({ id, raw, options }) => {
  const PostalMime = await ready;
  const parseFast = await fast;
  try {
    const email = parseFast(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)) ?? (await PostalMime.parse(raw, options));
    const transfer = [...new Set(email.attachments.map((a) => a.content).filter((c) => c instanceof ArrayBuffer))];
    parentPort.postMessage({ id, email }, transfer);
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

/** The worker itself failed (not the message): the caller parses in its own thread instead. */
export class ParserUnavailable extends Error {}

interface Pending {
  resolve(v: EmailFields | Error): void;
}

export class ParserPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private rr = 0;

  constructor(size = Math.min(2, Math.max(1, cpus().length - 1))) {
    const postalMimeUrl = import.meta.resolve('postal-mime');
    const fromSource = import.meta.url.endsWith('.ts');
    const parseFastUrl = new URL(`../mime/parse-fast.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
    const tsxApiUrl = fromSource ? import.meta.resolve('tsx/esm/api') : null;
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { postalMimeUrl, parseFastUrl, tsxApiUrl } });
      w.on('message', (m: { id: number; email?: EmailFields; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        p.resolve(m.email ?? new Error(m.error ?? 'parse failed'));
        if (this.pending.size === 0) this.idle();
      });
      w.on('error', (err) => this.failAll(err));
      w.unref();
      this.workers.push(w);
    }
  }

  /** Resolves with the parsed email, or with an Error describing why the message does not parse. */
  parse(raw: Buffer): Promise<EmailFields | Error> {
    const id = this.nextId++;
    const w = this.workers[this.rr++ % this.workers.length];
    // Workers hold the process open only while they have work, so an idle shared pool never blocks exit.
    if (this.pending.size === 0) for (const x of this.workers) x.ref();
    return new Promise<EmailFields | Error>((resolve) => {
      this.pending.set(id, { resolve });
      w.postMessage({ id, raw: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), options: POSTAL_MIME_OPTIONS });
    });
  }

  private idle(): void {
    for (const w of this.workers) w.unref();
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.resolve(new ParserUnavailable(`parser worker failed: ${err.message}`));
    this.pending.clear();
    this.idle();
    if (shared === this) shared = null;
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
 * start-up once, not per sync. Returns null where worker threads cannot start (then parse in-thread).
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

/** Below this many messages, starting parse threads costs more than parsing in this thread. */
export const THREADS_FROM = 500;

/** The pool for a run that parses `count` messages: started only when worth it, reused whenever it runs. */
export function parserPoolFor(count: number): ParserPool | null {
  return count >= THREADS_FROM ? sharedParserPool() : shared;
}
