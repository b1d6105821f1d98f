// `mail-helper health` and `mail-helper integration-test` against running installations, in both modes.
import { afterAll, describe, expect, it, vi } from 'vitest';

// Every step here starts a CLI process; on a busy 2-core box each takes seconds.
vi.setConfig({ testTimeout: 120_000 });
import { freePort } from '../../fixtures/dovecot.js';
import { runCli, startServe, startWorkerProcess, type RunningProcess } from '../../fixtures/processes.js';
import { createTestRedis, type TestRedis } from '../../fixtures/redis.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';

const running: RunningProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL');
  for (const c of cleanups) await c();
});

describe('embedded mode (SQLite, local queue)', () => {
  it('health is 0 while serve runs, integration-test passes, and health is 1 with no worker', async () => {
    const ts = await createTestStore('sqlite');
    cleanups.push(() => ts.cleanup());
    const serve = await startServe(ts.env);
    running.push(serve);

    const h = await runCli(['health', '--json'], ts.env);
    const report = JSON.parse(h.stdout) as { healthy: boolean; checks: { name: string; ok: boolean }[] };
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(h.code).toBe(0);

    const it = await runCli(['integration-test', '--timeout', '20'], ts.env);
    expect(it.stdout).toMatch(/ok\s+ping task\s+\d+ ms\s+ran on /);
    expect(it.stdout).toMatch(/integration test passed/);
    expect(it.code).toBe(0);

    expect(await serve.stop('SIGTERM')).toBe(0);
    const down = await runCli(['health'], ts.env);
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/FAIL\s+workers .*no local worker/);
    expect(down.stdout).toMatch(/→ The web process runs the local queue: start it with `mail-helper serve`/);

    const noWorker = await runCli(['integration-test', '--timeout', '1'], ts.env);
    expect(noWorker.code).toBe(1);
    expect(noWorker.stdout).toMatch(/FAIL\s+ping task .*did not finish within 1 s/);
  });
});

describe.runIf((await storeKinds()).includes('postgres'))('distributed mode (PostgreSQL, BullMQ)', () => {
  let ts: TestStore;
  let redis: TestRedis;
  it('health is 0 with a live worker, integration-test passes on it', async () => {
    ts = await createTestStore('postgres');
    redis = await createTestRedis();
    cleanups.push(async () => {
      await ts.cleanup();
      await redis.cleanup();
    });
    const env = { ...ts.env, QUEUE: 'bullmq', REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix };
    const worker = await startWorkerProcess(env, ['--concurrency', '2']);
    running.push(worker);
    const h = await runCli(['health'], env);
    expect(h.stdout).toMatch(/ok\s+redis/);
    expect(h.stdout).toMatch(/ok\s+workers\s+1 live worker/);
    expect(h.code).toBe(0);
    const it = await runCli(['integration-test', '--timeout', '20'], env);
    expect(it.stdout).toMatch(/ok\s+redis/);
    expect(it.stdout).toMatch(/ok\s+ping task .*ran on /);
    expect(it.code).toBe(0);
  });

  it('health is 1 naming Redis when Redis is unreachable', async () => {
    const env = { ...ts.env, QUEUE: 'bullmq', REDIS_URL: `redis://127.0.0.1:${await freePort()}`, REDIS_PREFIX: redis.prefix };
    const h = await runCli(['health'], env);
    expect(h.code).toBe(1);
    expect(h.stdout).toMatch(/FAIL\s+redis\s+Cannot reach Redis/);
    expect(h.stdout).toMatch(/→ Start Redis or fix REDIS_URL/);
  });

  it('health is 1 naming the store when PostgreSQL is unreachable', async () => {
    const env = { ...ts.env, QUEUE: 'bullmq', REDIS_URL: redis.url, DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/x` };
    const h = await runCli(['health', '--json'], env);
    expect(h.code).toBe(1);
    const report = JSON.parse(h.stdout) as { healthy: boolean; checks: { name: string; ok: boolean; hint?: string }[] };
    expect(report.healthy).toBe(false);
    expect(report.checks[0]).toMatchObject({ name: 'store', ok: false, hint: expect.stringMatching(/Start PostgreSQL/) });
  });
});
