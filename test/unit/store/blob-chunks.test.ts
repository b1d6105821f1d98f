// How a batch of sealed sources is laid out as chunk rows (src/store/blob-chunks.ts): every chunk but
// the last is exactly CHUNK_BYTES, blobs are back to back, each ref names its blob's bytes, and the
// chunks are views of the blobs, not copies.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, chunkPack, isChunkRef, newPackId } from '../../../src/store/blob-chunks.js';

const join = (v: unknown) => Buffer.concat(v as Buffer[]);

describe('chunkPack', () => {
  it('cuts blobs laid back to back into full chunks, and each ref finds its blob again', () => {
    // Sizes around the chunk boundary, a blob larger than two chunks, pieces as sealing makes them.
    const blobs = [29, CHUNK_BYTES - 29, 1, 3 * CHUNK_BYTES + 17, CHUNK_BYTES, 0, 5].map((n) => [
      randomBytes(Math.min(29, n)),
      randomBytes(Math.max(0, n - 29)),
    ]);
    const { rows, refs } = chunkPack(7, 42, blobs);
    const all = Buffer.concat(blobs.flat());
    expect(rows.map((r) => r.slice(0, 3))).toEqual(rows.map((_, i) => [7, 42, i]));
    expect(rows.slice(0, -1).every((r) => join(r[3]).length === CHUNK_BYTES)).toBe(true);
    expect(join(rows.at(-1)![3]).length).toBe(all.length - (rows.length - 1) * CHUNK_BYTES);
    expect(Buffer.concat(rows.map((r) => join(r[3]))).equals(all)).toBe(true);
    expect(refs).toHaveLength(blobs.length);
    refs.forEach((ref, i) => {
      expect(isChunkRef(ref)).toBe(true);
      const [, offset, length] = /^chunks-42:(\d+):(\d+)$/.exec(ref)!.map(Number);
      expect(all.subarray(offset, offset + length).equals(Buffer.concat(blobs[i]))).toBe(true);
    });
  });

  it('gives views of the blobs: a chunk holds no copied byte', () => {
    const big = randomBytes(2 * CHUNK_BYTES + 100);
    const { rows } = chunkPack(1, 1, [[big]]);
    const pieces = rows.flatMap((r) => r[3] as Buffer[]);
    expect(pieces.every((p) => p.buffer === big.buffer)).toBe(true);
  });

  it('makes no chunk for no bytes', () => {
    expect(chunkPack(1, 1, [])).toEqual({ rows: [], refs: [] });
  });

  it('numbers packs with safe integers that differ', () => {
    const ids = Array.from({ length: 100 }, newPackId);
    expect(ids.every(Number.isSafeInteger)).toBe(true);
    expect(new Set(ids).size).toBe(100);
  });

  it('tells its refs from pack-file refs', () => {
    expect(isChunkRef('chunks-12:0:40')).toBe(true);
    expect(isChunkRef('1700000000-1-ab.pack:0:40')).toBe(false);
  });
});
