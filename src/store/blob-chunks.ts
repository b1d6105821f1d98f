// Sealed raw sources of the messages a sync stores on PostgreSQL, kept in table blob_chunks instead of
// in the message rows. A row's bytea of more than ~2 KB is moved out of line by TOAST, which inserts
// it as ~2 KB tuples one at a time, each with its own index entry and WAL record, and without COPY's
// bulk-insert buffers: storing a 10,000-message first sync (288 MB) so took PostgreSQL ~1.9 s here.
// Here a sync's batch of sources is one "pack": their bytes one after another, cut into rows of
// CHUNK_BYTES that fill a page each and are stored as they are (STORAGE PLAIN: never compressed, never
// moved out of line), written by one COPY: the same bytes in ~1.0 s. A message row names its bytes by
// raw_ref = `chunks-<pack>:<offset>:<length>` (SQLite's packs are files, src/store/blob-packs.ts).
// The chunks of a batch are committed before the rows that name them, so a committed row never names
// missing bytes; chunks no row names (a batch whose rows failed) stay unread until their account goes.
// Deleting an account deletes its chunks (a trigger, migration 0070: a foreign key would cost a check
// per chunk, which doubled the COPY's time); a password reset deletes them with the messages.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { copyColumns, type CopyValue } from './pg-copy.js';
import type { Database } from './schema.js';

/**
 * Bytes per chunk row: one row fills one 8 KB page (PostgreSQL's limit for a row stored as it is is
 * 8160 bytes with its header). Part of the stored format: a ref's offsets count in these.
 */
export const CHUNK_BYTES = 8000;
const REF = /^chunks-(\d+):(\d+):(\d+)$/;

export const CHUNK_COPY = copyColumns({ account_id: 'int8', pack: 'int8', seq: 'int4', data: 'bytea' });

/** A pack's number: random, unique within its account (a collision fails its COPY, which then takes another). */
export function newPackId(): number {
  return Number(randomBytes(8).readBigUInt64BE() >> 11n); // 53 bits: a safe integer
}

export interface ChunkedPack {
  /** COPY rows in CHUNK_COPY's columns; each chunk's data is views of the blobs, not a copy. */
  rows: CopyValue[][];
  /** Each blob's raw_ref, in the order given. */
  refs: string[];
}

/** Lays the blobs (each a buffer's pieces) one after another in pack `pack` of the account and cuts them into chunk rows. */
export function chunkPack(accountId: number, pack: number, blobs: readonly (readonly Buffer[])[]): ChunkedPack {
  const rows: CopyValue[][] = [];
  const refs: string[] = [];
  let chunk: Buffer[] = [];
  let room = CHUNK_BYTES;
  let offset = 0;
  const flush = () => {
    rows.push([accountId, pack, rows.length, chunk]);
    chunk = [];
    room = CHUNK_BYTES;
  };
  for (const blob of blobs) {
    let length = 0;
    for (const piece of blob) {
      for (let at = 0; at < piece.length;) {
        const n = Math.min(room, piece.length - at);
        chunk.push(at === 0 && n === piece.length ? piece : piece.subarray(at, at + n));
        at += n;
        room -= n;
        if (room === 0) flush();
      }
      length += piece.length;
    }
    refs.push(`chunks-${pack}:${offset}:${length}`);
    offset += length;
  }
  if (chunk.length > 0) flush();
  return { rows, refs };
}

export function isChunkRef(ref: string): boolean {
  return REF.test(ref);
}

/** Reads the blob a chunk ref names. Throws when its chunks are missing. */
export async function readChunked(db: Kysely<Database>, accountId: number, ref: string): Promise<Buffer> {
  const m = REF.exec(ref);
  if (!m) throw new Error(`Not a chunk reference: ${ref}`);
  const [pack, offset, length] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (length === 0) return Buffer.alloc(0);
  const first = Math.floor(offset / CHUNK_BYTES);
  const last = Math.floor((offset + length - 1) / CHUNK_BYTES);
  const rows = await db
    .selectFrom('blob_chunks')
    .select(['seq', 'data'])
    .where('account_id', '=', accountId)
    .where('pack', '=', pack)
    .where('seq', '>=', first)
    .where('seq', '<=', last)
    .orderBy('seq')
    .execute();
  // The key makes seq unique within the pack: as many rows as the range is long are all of it, in order.
  if (rows.length !== last - first + 1) throw new Error(`A message's stored source is missing (pack ${pack} of account ${accountId}).`);
  const start = offset - first * CHUNK_BYTES;
  const joined = rows.length === 1 ? rows[0].data : Buffer.concat(rows.map((r) => r.data));
  return joined.subarray(start, start + length);
}
