// Crashes of the services around a running sync: a throwaway Redis (no persistence, so its jobs are
// lost) and a throwaway PostgreSQL are restarted while a `mail-helper worker` process syncs. The tasks
// must recover and complete, and the store must equal the server exactly. Never the machine's shared
// Redis or PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../src/store/schema.js';
import { attemptsOf } from '../../../src/queue/task-repo.js';
import { enqueueAccountSync } from '../../../src/tasks/sync-service.js';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { startPgInstance, type PgInstance } from '../../fixtures/pg-instance.js';
import { startWorkerProcess, type RunningProcess } from '../../fixtures/processes.js';
import { createQueueHarness, type QueueHarness, type TestUser } from '../../fixtures/queue.js';
import { createRedisInstance, type RedisInstance } from '../../fixtures/redis-instance.js';
import { serverLocations, storedLive } from '../../integration/sync/sync-helpers.js';

const MESSAGES = 1_500;
const FOLDERS = ['INBOX', 'Archive'];

function message(user: string, i: number): string {
  return [
    `From: Sender <s${i % 11}@example.org>`,
    `To: ${user}@example.org`,
    `Subject: restart ${user} ${i}`,
    'Date: Tue, 2 Jan 2024 10:00:00 +0000',
    `Message-ID: <${user}-${i}@example.org>`,
    '',
    `body ${i} `.repeat(100 + (i % 50)),
    '',
  ].join('\r\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a running sync across a Redis restart and a PostgreSQL restart (BullMQ worker process)', () => {
  let d: Dovecot;
  let redis: RedisInstance;
  let pg: PgInstance;
  let h: QueueHarness;
  let owner: TestUser;
  let worker: RunningProcess;
  beforeAll(async () => {
    d = await startDovecot();
    for (const user of ['redis', 'postgres']) {
      d.addUser(user, `${user}-pw`);
      for (let i = 0; i < MESSAGES; i++)
        d.writeMessage(user, FOLDERS[i % 4 === 0 ? 1 : 0], message(user, i), { flags: i % 3 ? [] : ['\\Seen'] });
    }
    redis = await createRedisInstance();
    pg = await startPgInstance();
    h = await createQueueHarness('bullmq', 'postgres', {
      startWorker: false,
      pgAdminUrl: pg.url,
      extra: { REDIS_URL: redis.url, WORKER_LEASE_MS: '1000', RETRY_BASE_MS: '300' },
    });
    owner = await h.addUser();
    worker = await startWorkerProcess({ ...h.env, LOG_LEVEL: 'info' }, ['--concurrency', '1']);
  });
  afterAll(async () => {
    if (worker) {
      worker.proc.kill('SIGKILL');
      await worker.exited;
    }
    await h?.cleanup();
    await pg?.destroy();
    await redis?.stop();
    await d?.stop();
  });

  async function stored(accountId: number): Promise<number> {
    const r = await h.ts.store.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Polls the task row through outages of the store (a failed read just waits for the next poll). */
  async function finished(taskId: string, timeoutMs: number): Promise<Task> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const t = await h.system.queue.get(taskId).catch(() => undefined);
      if (t && ['SUCCESS', 'FAILURE', 'REVOKED'].includes(t.state)) return t;
      if (Date.now() > end) throw new Error(`task ${taskId} did not finish (state ${t?.state}):\n${worker.output().slice(-3000)}`);
      await sleep(50);
    }
  }

  async function startSync(user: string) {
    const accountId = await h.addAccount(owner, { host: d.host, port: d.port, username: user, password: `${user}-pw` });
    const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, {
      userId: owner.id,
      accountId,
      dek: owner.dek,
      maxEmails: 10_000,
    });
    // Restart the service once a part of the mailbox is stored: mid-fetch, with work left.
    const end = Date.now() + 30_000;
    while ((await stored(accountId)) < MESSAGES / 5) {
      if (Date.now() > end) throw new Error(`the sync did not get going:\n${worker.output().slice(-3000)}`);
      await sleep(10);
    }
    return { accountId, taskId: task.id, storedAtFault: await stored(accountId) };
  }

  async function expectExact(accountId: number, user: string) {
    const live = await storedLive(h.ts.store, accountId);
    expect(live).toHaveLength(MESSAGES);
    expect(live).toEqual(await serverLocations(d, user, `${user}-pw`, FOLDERS));
    const ids = await h.ts.store.db.selectFrom('messages').select('stable_id').where('account_id', '=', accountId).execute();
    expect(new Set(ids.map((r) => r.stable_id)).size).toBe(MESSAGES);
  }

  it('Redis killed (its jobs lost) and restarted mid-sync: the task completes with the exact state', { timeout: 60_000 }, async () => {
    const { accountId, taskId, storedAtFault } = await startSync('redis');
    await redis.kill();
    await sleep(500);
    await redis.start();
    const done = await finished(taskId, 45_000);
    expect(done.error).toBeNull();
    expect(done.state).toBe('SUCCESS');
    await expectExact(accountId, 'redis');
    const outcomes = (await attemptsOf(h.ts.store, taskId)).map((a) => a.outcome);
    console.log(`Redis restart at ${storedAtFault}/${MESSAGES} stored: attempts ${outcomes.join(', ')}; 0 lost, 0 duplicated`);
  });

  it('PostgreSQL restarted mid-sync: the task recovers and completes with the exact state', { timeout: 90_000 }, async () => {
    const { accountId, taskId, storedAtFault } = await startSync('postgres');
    pg.stop('fast');
    await sleep(500);
    pg.start();
    const done = await finished(taskId, 75_000);
    expect(done.error).toBeNull();
    expect(done.state).toBe('SUCCESS');
    await expectExact(accountId, 'postgres');
    const outcomes = (await attemptsOf(h.ts.store, taskId)).map((a) => a.outcome);
    console.log(`PostgreSQL restart at ${storedAtFault}/${MESSAGES} stored: attempts ${outcomes.join(', ')}; 0 lost, 0 duplicated`);
  });
});
