import { describe, expect, it } from 'vitest';
import { SyncRun } from '../../../src/sync/sync-run.js';

const run = () => new SyncRun({} as never, {} as never, {} as never, Buffer.alloc(32), true, undefined, undefined, undefined);

describe('store writes alongside a run', () => {
  it('are waited for, and the first failure fails the wait, after every write has settled', async () => {
    const r = run();
    const done: string[] = [];
    r.alongside(new Promise<void>((resolve) => setTimeout(() => (done.push('slow'), resolve()), 20)));
    r.alongside(Promise.reject(new Error('store busy')));
    r.alongside(Promise.reject(new Error('second')));
    await expect(r.writesDone()).rejects.toThrow('store busy');
    expect(done).toEqual(['slow']);
  });

  it('a run whose writes all succeed waits for them and goes on', async () => {
    const r = run();
    let saved = false;
    r.alongside(new Promise<void>((resolve) => setTimeout(() => ((saved = true), resolve()), 10)));
    await r.writesDone();
    expect(saved).toBe(true);
    await r.writesDone(); // nothing left: returns at once
  });
});
