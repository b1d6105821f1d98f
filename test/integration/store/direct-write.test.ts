// Pack files written past the page cache (src/store/direct-write.ts) on this machine's own filesystems:
// where direct I/O is taken (ext4 under the temp directory) the bytes read back as written, blocks
// padded with zeros, across the staging buffer's size. Where it is refused the pack writer writes
// through the page cache as before (Linux's tmpfs refused it before 6.6; no filesystem here does now,
// so that path is taken by asking for it).
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PackWriter, readPacked } from '../../../src/store/blob-packs.js';
import { BLOCK, blockEnd, createDirect, writeDirect } from '../../../src/store/direct-write.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(under: string): string {
  const d = mkdtempSync(join(under, 'mh-direct-'));
  dirs.push(d);
  return d;
}

/** Whether files under `dir` can be opened for direct I/O here. */
function takesDirect(dir: string): boolean {
  if (!constants.O_DIRECT) return false;
  const probe = join(dir, 'probe');
  try {
    closeSync(openSync(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT, 0o600));
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
}

describe('direct writes to pack files', () => {
  it.skipIf(!takesDirect(tmpdir()))('read back as written where the filesystem takes them, the last block padded with zeros', async () => {
    const dir = tempDir(tmpdir());
    const path = join(dir, 'x.pack');
    const fd = createDirect(path, Buffer.from('head'));
    expect(fd).not.toBeNull();
    // Pieces across the 4 MB staging buffer: a large one, a small one, an empty one, another crossing the boundary.
    const pieces = [Buffer.alloc(4 * 1024 * 1024 - 100, 1), Buffer.from('small'), Buffer.alloc(0), Buffer.alloc(300_000, 2)];
    const total = pieces.reduce((n, p) => n + p.length, 0);
    try {
      await writeDirect(fd!, pieces, BLOCK);
      await writeDirect(fd!, [Buffer.from('next')], blockEnd(BLOCK + total));
    } finally {
      closeSync(fd!);
    }
    const file = readFileSync(path);
    expect(file.subarray(0, 4).toString()).toBe('head');
    expect(file.subarray(4, BLOCK).every((b) => b === 0)).toBe(true);
    expect(file.subarray(BLOCK, BLOCK + total).equals(Buffer.concat(pieces))).toBe(true);
    expect(file.subarray(BLOCK + total, blockEnd(BLOCK + total)).every((b) => b === 0)).toBe(true);
    expect(file.subarray(blockEnd(BLOCK + total), blockEnd(BLOCK + total) + 4).toString()).toBe('next');
    expect(statSync(path).size).toBe(blockEnd(BLOCK + total) + BLOCK);
  });

  it.skipIf(!takesDirect(tmpdir()))(
    'a pack writer on such a filesystem writes its packs so, each append from a block boundary',
    async () => {
      const dir = tempDir(tmpdir());
      const w = new PackWriter(dir);
      const first = await w.append(1, [Buffer.from('one'), Buffer.alloc(5000, 3)]);
      const second = await w.append(1, [Buffer.from('two')]);
      w.close();
      expect([...first, ...second].map((r) => Number(r.split(':')[1]))).toEqual([BLOCK, BLOCK + 3, 3 * BLOCK]);
      expect((await readPacked(dir, 1, first[0])).toString()).toBe('one');
      expect((await readPacked(dir, 1, first[1])).equals(Buffer.alloc(5000, 3))).toBe(true);
      expect((await readPacked(dir, 1, second[0])).toString()).toBe('two');
    },
  );

  it('without them (asked for so, as where the filesystem refuses them) the pack writer writes through the page cache', async () => {
    const dir = tempDir(tmpdir());
    const w = new PackWriter(dir, false);
    const refs = [...(await w.append(1, [Buffer.from('one'), Buffer.from('two')])), ...(await w.append(1, [Buffer.from('three')]))];
    w.close();
    expect(refs.map((r) => r.split(':').slice(1).join(':'))).toEqual(['0:3', '3:3', '6:5']);
    expect(await Promise.all(refs.map(async (r) => (await readPacked(dir, 1, r)).toString()))).toEqual(['one', 'two', 'three']);
  });
});
