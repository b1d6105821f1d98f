// Redis restarted mid-run (own throwaway redis-server without persistence): the worker reconnects, the
// running task completes, a job Redis lost is queued again from the tasks table, and new work runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueUnavailableError } from '../../../src/queue/types.js';
import { waitForTask } from '../../../src/queue/task-watch.js';
import { enqueuePing } from '../../../src/tasks/sync-service.js';
import { createQueueHarness, type QueueHarness } from '../../fixtures/queue.js';
import { createRedisInstance, type RedisInstance } from '../../fixtures/redis-instance.js';

describe('BullMQ across a Redis restart', () => {
  let redis: RedisInstance;
  let h: QueueHarness;
  beforeAll(async () => {
    redis = await createRedisInstance();
    h = await createQueueHarness('bullmq', 'sqlite', { concurrency: 1, extra: { REDIS_URL: redis.url, WORKER_LEASE_MS: '1000' } });
  });
  afterAll(async () => {
    await h?.cleanup();
    await redis?.stop();
  });

  it('keeps running: reconnects, re-queues the lost job, refuses new work only while Redis is down', async () => {
    const running = await enqueuePing(h.system.queue, { delayMs: 1500, echo: 'a' });
    const waiting = await enqueuePing(h.system.queue, { echo: 'b' });
    const end = Date.now() + 10_000;
    while ((await h.system.queue.get(running.task.id))?.state !== 'STARTED') {
      if (Date.now() > end) throw new Error('task did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    await redis.kill();
    await expect(enqueuePing(h.system.queue, { echo: 'while down' })).rejects.toBeInstanceOf(QueueUnavailableError);
    await redis.start();

    expect((await waitForTask(h.ts.store, running.task.id, { timeoutMs: 15_000, pollMs: 50 })).state).toBe('SUCCESS');
    // Redis lost the waiting job (no persistence); the tasks table brings it back.
    expect((await waitForTask(h.ts.store, waiting.task.id, { timeoutMs: 15_000, pollMs: 50 })).state).toBe('SUCCESS');
    const after = await enqueuePing(h.system.queue, { echo: 'c' });
    expect((await waitForTask(h.ts.store, after.task.id, { timeoutMs: 15_000, pollMs: 50 })).state).toBe('SUCCESS');
  });
});
