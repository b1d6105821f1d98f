// The parse thread (see parser-pool.ts): MIME parsing — the fast path, else postal-mime with the
// concatenating Blob — and, for a message to store, sealing it with the DEK, so that the sync's
// main thread is left with reading IMAP and writing SQL. The Blob patch stays inside this thread.
import { parentPort } from 'node:worker_threads';
import { installConcatBlob } from './concat-blob.js';
import { parseEmail } from '../mime/parse-email.js';
import { ownBuffer } from './parser-pool.js';
import { sealMessage, type SealContext } from './seal-message.js';

export type ParseJob =
  { kind: 'parse'; raw: Uint8Array } | { kind: 'seal'; raw: Uint8Array; ctx: Omit<SealContext, 'dek'> & { dek: Uint8Array } };
type ParseRequest = ParseJob & { id: number };

if (parentPort) {
  const port = parentPort;
  installConcatBlob();
  port.on('message', async (m: ParseRequest) => {
    try {
      const raw = Buffer.from(m.raw.buffer, m.raw.byteOffset, m.raw.byteLength);
      // A message to seal needs no text or HTML: the store keeps the raw source and the fields.
      const email = await parseEmail(raw, { withText: m.kind === 'parse' });
      if (m.kind === 'parse') {
        if (email instanceof Error) return port.postMessage({ id: m.id, error: email.message });
        const transfer = [...new Set(email.attachments.map((a) => a.content).filter((c) => c instanceof ArrayBuffer))];
        return port.postMessage({ id: m.id, email }, transfer);
      }
      const s = sealMessage(raw, email, { ...m.ctx, dek: Buffer.from(m.ctx.dek) });
      const sealed = { ...s, metaEnc: ownBuffer(s.metaEnc), rawEnc: ownBuffer(s.rawEnc) };
      const transfer = [sealed.metaEnc.buffer as ArrayBuffer, sealed.rawEnc.buffer as ArrayBuffer];
      port.postMessage({ id: m.id, sealed }, transfer);
    } catch (err) {
      port.postMessage({ id: m.id, error: String((err as Error)?.message ?? err) });
    }
  });
}
