import { afterAll, describe, expect, it } from 'vitest';
import { parserPoolFor, sharedParserPool, THREADS_FROM } from '../../../src/sync/parser-pool.js';

describe('the shared parse threads', () => {
  afterAll(async () => {
    await sharedParserPool()?.close();
  });

  it('are taken by a small run only once running; a big run takes them while they start', async () => {
    expect(parserPoolFor(10)).toBeNull(); // none started: a small run does not start them
    const pool = sharedParserPool(); // started ahead of a sync, as sync --direct does
    expect(pool).not.toBeNull();
    // Still loading their code (the test loads it through tsx: far longer than these lines take).
    expect(pool!.running).toBe(false);
    expect(parserPoolFor(10)).toBeNull();
    expect(parserPoolFor(THREADS_FROM)).toBe(pool);
    for (let i = 0; i < 600 && !pool!.running; i++) await new Promise((r) => setTimeout(r, 50));
    expect(pool!.running).toBe(true);
    expect(parserPoolFor(1)).toBe(pool);
    // And they parse.
    const email = await pool!.parse(Buffer.from('Subject: hi\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n'));
    expect(email).not.toBeInstanceOf(Error);
  });
});
