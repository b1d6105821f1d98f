// Watching a task that stays queued for a long time must not pile up abort listeners on the caller's
// signal (one per poll; an SSE stream watching a long sync leaked them).
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchTask } from '../../../src/queue/task-watch.js';
import { enqueuePing } from '../../../src/tasks/sync-service.js';
import { createQueueHarness, type QueueHarness } from '../../fixtures/queue.js';

describe('watchTask', () => {
  let h: QueueHarness;
  beforeAll(async () => {
    h = await createQueueHarness('local', 'sqlite', { startWorker: false });
  });
  afterAll(async () => h?.cleanup());

  it('keeps at most one abort listener on the signal however many times it polls', async () => {
    const { task } = await enqueuePing(h.system.queue, {});
    const ac = new AbortController();
    let polls = 0;
    const watching = (async () => {
      for await (const t of watchTask(h.ts.store, task.id, { pollMs: 2, signal: ac.signal })) expect(t.state).toBe('PENDING');
    })();
    const end = Date.now() + 300;
    while (Date.now() < end) {
      polls++;
      expect(getEventListeners(ac.signal, 'abort').length).toBeLessThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 10));
    }
    ac.abort();
    await watching;
    expect(polls).toBeGreaterThan(10);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});
