// The parse thread (see parser-pool.ts): MIME parsing — the fast path, else postal-mime with the
// concatenating Blob — and, for a message to store, sealing it with the DEK, so that the sync's
// main thread is left with reading IMAP and writing SQL. The Blob patch stays inside this thread.
import { parentPort } from 'node:worker_threads';
import { installConcatBlob } from './concat-blob.js';
import { parseEmail } from '../mime/parse-email.js';
import { ownBuffer, type SealOutcome } from './parser-pool.js';
import { SEAL_PARSE, sealMessage, type MessageBase, type SealContext, type SealedMessage } from './seal-message.js';
import type { ServerMessageRow } from './sync-store.js';
import { writeSealedBatch, type ThreadStoreTarget } from './thread-store.js';

export type ParseJob =
  | { kind: 'parse'; raw: Uint8Array }
  | { kind: 'seal'; raws: Uint8Array[]; stableIds: string[]; ctx: ThreadSealContext }
  | {
      kind: 'store';
      raws: Uint8Array[];
      bases: MessageBase[];
      server: ServerMessageRow[];
      target: ThreadStoreTarget;
      ctx: ThreadSealContext;
    };
type ThreadSealContext = Omit<SealContext, 'dek' | 'stableId'> & { dek: Uint8Array };
type ParseRequest = ParseJob & { id: number };

const EMPTY = new Uint8Array(0);

if (parentPort) {
  const port = parentPort;
  installConcatBlob();
  port.on('message', async (m: ParseRequest) => {
    if (m.kind === 'parse') {
      try {
        const email = await parseEmail(Buffer.from(m.raw.buffer, m.raw.byteOffset, m.raw.byteLength));
        if (email instanceof Error) return port.postMessage({ id: m.id, error: email.message });
        const transfer = [...new Set(email.attachments.map((a) => a.content).filter((c) => c instanceof ArrayBuffer))];
        return port.postMessage({ id: m.id, email }, transfer);
      } catch (err) {
        return port.postMessage({ id: m.id, error: String((err as Error)?.message ?? err) });
      }
    }
    const dek = Buffer.from(m.ctx.dek);
    const view = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    if (m.kind === 'store') {
      try {
        let bytes = 0;
        let parseProblems = 0;
        const written = await writeSealedBatch(
          m.target,
          m.server,
          async () => {
            const rows: [MessageBase, SealedMessage][] = [];
            for (let i = 0; i < m.raws.length; i++) {
              const raw = view(m.raws[i]);
              m.raws[i] = EMPTY; // sealed, the raw source is garbage: not held until the batch is written
              const base = m.bases[i];
              const s = sealMessage(raw, await parseEmail(raw, SEAL_PARSE), { ...m.ctx, dek, stableId: base.stable_id });
              rows.push([base, s]);
              bytes += s.size;
              if (s.parseError) parseProblems++;
            }
            return rows;
          },
          () => port.postMessage({ id: m.id, written: true }),
        );
        port.postMessage({ id: m.id, stored: { bytes, parseProblems, written } });
      } catch (err) {
        const e = err as { message?: string; code?: unknown };
        port.postMessage({ id: m.id, error: String(e?.message ?? err), code: typeof e?.code === 'string' ? e.code : undefined });
      }
      return;
    }
    const sealed: SealOutcome[] = [];
    // A set: a buffer listed twice fails the whole postMessage.
    const transfer = new Set<ArrayBuffer>();
    for (let i = 0; i < m.raws.length; i++) {
      try {
        const raw = view(m.raws[i]);
        m.raws[i] = EMPTY;
        // A message to seal needs no text, HTML or attachment bytes: the store keeps the raw source and the fields.
        const s = sealMessage(raw, await parseEmail(raw, SEAL_PARSE), { ...m.ctx, dek, stableId: m.stableIds[i] });
        const metaEnc = ownBuffer(s.metaEnc);
        // In its pieces, as COPY writes them (PostgreSQL, src/store/pg-copy.ts): the ciphertext owns its
        // memory and moves as it is; only the envelope's short header is copied.
        const rawEnc = s.rawEnc.map(ownBuffer);
        for (const b of [metaEnc, ...rawEnc]) transfer.add(b.buffer as ArrayBuffer);
        sealed.push({ sealed: { ...s, metaEnc, rawEnc } as SealedMessage });
      } catch (err) {
        sealed.push({ error: String((err as Error)?.message ?? err) });
      }
    }
    port.postMessage({ id: m.id, sealed }, [...transfer]);
  });
}
