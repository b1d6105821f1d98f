import { afterAll, describe, expect, it } from 'vitest';
import { parserPoolFor, sharedParserPool, THREADS_FROM } from '../../../src/sync/parser-pool.js';

describe('the shared parse threads', () => {
  afterAll(async () => {
    await sharedParserPool()?.close();
  });

  it('are taken by a small run only once warm; a big run takes them while they start', async () => {
    expect(parserPoolFor(10)).toBeNull(); // none started: a small run does not start them
    const pool = sharedParserPool(); // started ahead of a sync, as sync --direct does
    expect(pool).not.toBeNull();
    // Still loading their code (the test loads it through tsx: far longer than these lines take).
    expect(pool!.running).toBe(false);
    expect(parserPoolFor(10)).toBeNull();
    expect(parserPoolFor(THREADS_FROM)).toBe(pool);
    for (let i = 0; i < 600 && !pool!.running; i++) await new Promise((r) => setTimeout(r, 50));
    expect(pool!.running).toBe(true);
    // Running but cold: a small run still parses in its own thread.
    expect(parserPoolFor(1)).toBeNull();
    expect(parserPoolFor(THREADS_FROM)).toBe(pool);
    // And they parse; once they have parsed THREADS_FROM messages, small runs take them too.
    const raw = () => Buffer.from('Subject: hi\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n');
    expect(await pool!.parse(raw())).not.toBeInstanceOf(Error);
    const sealed = await pool!.sealBatch(
      Array.from({ length: THREADS_FROM - 2 }, raw),
      { dek: Buffer.alloc(32, 1), accountId: 1, maxAttachmentBytes: 1 << 20 },
      Array.from({ length: THREADS_FROM - 2 }, (_, i) => `id-${i}`),
    );
    expect(sealed).not.toBeInstanceOf(Error);
    expect(parserPoolFor(1)).toBeNull(); // THREADS_FROM - 1 so far
    expect(await pool!.parse(raw())).not.toBeInstanceOf(Error);
    expect(parserPoolFor(1)).toBe(pool);
  });
});
