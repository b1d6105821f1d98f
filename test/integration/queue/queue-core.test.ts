// The queue port on both backends and both stores: states, retries with growing delays, permanent
// failures, deduplication, run-time checks, grants, sync_all, cancel and retry. The engine is injected
// here so each failure kind can be produced on demand; the Dovecot-backed tests live in queue-sync.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantRow } from '../../../src/grants/grant-store.js';
import { attemptsOf } from '../../../src/queue/task-repo.js';
import { waitForTask } from '../../../src/queue/task-watch.js';
import type { SyncInput, SyncStats } from '../../../src/sync/engine-types.js';
import { permanent, transient } from '../../../src/sync/errors.js';
import { enqueueAccountSync, enqueueAllAccountsSync, enqueuePing, retryTask, taskView } from '../../../src/tasks/sync-service.js';
import { createQueueHarness, syncStats, type QueueHarness, type TestUser } from '../../fixtures/queue.js';
import { storeKinds } from '../../fixtures/stores.js';

type Behaviour = (input: SyncInput) => Promise<SyncStats>;

const stats = syncStats;

const combos = (await storeKinds()).flatMap((s) => (['local', 'bullmq'] as const).map((q) => [q, s] as const));

describe.each(combos)('queue core on %s with %s', (queueKind, storeKind) => {
  let h: QueueHarness;
  let user: TestUser;
  const behaviours = new Map<number, Behaviour>();
  const seen: SyncInput[] = [];

  beforeAll(async () => {
    h = await createQueueHarness(queueKind, storeKind, {
      concurrency: 4,
      syncAccount: async (input) => {
        seen.push(input);
        const b = behaviours.get(input.account.id);
        if (!b) throw new Error(`no behaviour for account ${input.account.id}`);
        return b(input);
      },
    });
    user = await h.addUser();
  });
  afterAll(async () => h?.cleanup());

  const account = (b: Behaviour, name?: string) =>
    h.addAccount(user, { host: '127.0.0.1', port: 1, username: 'imap-user', password: 'imap-secret', name }).then((id) => {
      behaviours.set(id, b);
      return id;
    });

  it('runs a ping task to SUCCESS and records one attempt', async () => {
    const { task, deduplicated } = await enqueuePing(h.system.queue, { echo: 'hi' });
    expect(deduplicated).toBe(false);
    const done = await waitForTask(h.ts.store, task.id, { timeoutMs: 10_000, pollMs: 20 });
    expect(done.state).toBe('SUCCESS');
    expect(taskView(done)).toMatchObject({
      status: 'completed',
      task_type: queueKind === 'bullmq' ? 'queue' : 'local',
      result: { pong: true, echo: 'hi' },
    });
    const attempts = await attemptsOf(h.ts.store, task.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['success']);
  });

  it('passes the decrypted credentials and DEK to the engine and stores its result and progress', async () => {
    const id = await account(async (input) => {
      input.onProgress?.({ phase: 'fetch', folder: 'INBOX', folderIndex: 1, folderCount: 1, done: 3, total: 3 });
      return stats(3);
    });
    const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId: id, dek: user.dek });
    const done = await waitForTask(h.ts.store, task.id, { timeoutMs: 10_000, pollMs: 20 });
    expect(done.state).toBe('SUCCESS');
    expect(taskView(done).result).toMatchObject({ status: 'success', email_count: 3, account_id: id });
    expect(taskView(done).progress).toMatchObject({ phase: 'fetch', done: 3, total: 3 });
    const input = seen.find((s) => s.account.id === id)!;
    expect(input.credentials).toEqual({ username: 'imap-user', password: 'imap-secret' });
    expect(input.dek.length).toBe(32);
    // The task's grant ends with the task.
    expect(await h.ts.store.db.selectFrom('grants').selectAll().where('id', '=', task.grant_id!).execute()).toHaveLength(0);
    const acc = await h.ts.store.db.selectFrom('mail_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(acc.last_status).toBe('success');
  });

  it('retries a transient error exactly 3 times after growing delays, then fails with the error', async () => {
    const id = await account(async () => {
      throw transient('network', 'Cannot connect to 127.0.0.1:1: connection refused.');
    });
    const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId: id, dek: user.dek });
    let sawRetry = false;
    const done = await waitForTask(h.ts.store, task.id, {
      timeoutMs: 15_000,
      pollMs: 10,
      onChange: (t) => {
        if (t.state === 'RETRY') {
          sawRetry = true;
          expect(t.next_attempt_at).toBeGreaterThan(0);
          expect(t.error).toContain('connection refused');
        }
      },
    });
    expect(sawRetry).toBe(true);
    expect(done.state).toBe('FAILURE');
    expect(done.error).toBe('Cannot connect to 127.0.0.1:1: connection refused.');
    expect(done.attempt).toBe(4);
    const attempts = await attemptsOf(h.ts.store, task.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['retry', 'retry', 'retry', 'failure']);
    const gaps = attempts.slice(1).map((a, i) => a.started_at - attempts[i].finished_at!);
    // base 40 ms: 40, 80, 160 (allow scheduling slack above, never below)
    expect(gaps[0]).toBeGreaterThanOrEqual(40 - 5);
    expect(gaps[1]).toBeGreaterThanOrEqual(80 - 5);
    expect(gaps[2]).toBeGreaterThanOrEqual(160 - 5);
  });

  it('fails a permanent error at once, without retry', async () => {
    const id = await account(async () => {
      throw permanent('auth-failed', 'The IMAP server rejected the username or password.');
    });
    const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId: id, dek: user.dek });
    const done = await waitForTask(h.ts.store, task.id, { timeoutMs: 10_000, pollMs: 20 });
    expect(done.state).toBe('FAILURE');
    expect(done.error_kind).toBe('permanent');
    expect((await attemptsOf(h.ts.store, task.id)).map((a) => a.outcome)).toEqual(['failure']);
  });

  it('returns the live task to concurrent enqueues of the same account (one sync per account)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const id = await account(async () => {
      await gate;
      return stats(1);
    });
    const results = await Promise.all(
      Array.from({ length: 6 }, () => enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId: id, dek: user.dek })),
    );
    const ids = new Set(results.map((r) => r.task.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => !r.deduplicated)).toHaveLength(1);
    // Only the winner's grant was stored.
    expect(await h.ts.store.db.selectFrom('grants').select('id').where('account_id', '=', id).execute()).toHaveLength(1);
    release();
    const done = await waitForTask(h.ts.store, [...ids][0], { timeoutMs: 10_000, pollMs: 20 });
    expect(done.state).toBe('SUCCESS');
    expect(done.dedupe_key).toBeNull();
    // After it ended, a new request starts a new task.
    const again = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId: id, dek: user.dek });
    expect(again.deduplicated).toBe(false);
    expect(again.task.id).not.toBe(done.id);
    await waitForTask(h.ts.store, again.task.id, { timeoutMs: 10_000, pollMs: 20 });
  });

  it("fails permanently at run time when the account is not the user's or the grant expired", async () => {
    const other = await h.addUser();
    const foreign = await h.addAccount(other, { host: '127.0.0.1', port: 1, username: 'x', password: 'y' });
    // Enqueued straight through the queue (enqueue-time checks bypassed) to prove the run-time check.
    const { task } = await h.system.queue.enqueue({
      type: 'sync_user_emails',
      userId: user.id,
      payload: { user_id: user.id, account_id: foreign },
    });
    const done = await waitForTask(h.ts.store, task.id, { timeoutMs: 10_000, pollMs: 20 });
    expect(done.state).toBe('FAILURE');
    expect(done.error).toMatch(/does not exist or does not belong to user/);

    const id = await account(async () => stats(0));
    const keyId = (await h.ts.store.db.selectFrom('users').select('key_id').where('id', '=', user.id).executeTakeFirstOrThrow()).key_id;
    const grant = grantRow(h.system.deps.grantKey, { userId: user.id, accountId: id, kind: 'task', keyId, dek: user.dek, ttlMs: -1 });
    const queued = await h.system.queue.enqueue({
      type: 'sync_user_emails',
      userId: user.id,
      accountId: id,
      payload: { user_id: user.id, account_id: id },
      grant,
    });
    const expired = await waitForTask(h.ts.store, queued.task.id, { timeoutMs: 10_000, pollMs: 20 });
    expect(expired.state).toBe('FAILURE');
    expect(expired.error).toMatch(/key grant for this task expired/);
    expect(await attemptsOf(h.ts.store, expired.id)).toHaveLength(1);
  });

  it('sync_all_accounts runs one child per enabled account and reports a partial result when one fails', async () => {
    const u = await h.addUser();
    const good = await h.addAccount(u, { host: '127.0.0.1', port: 1, username: 'a', password: 'b' });
    const bad = await h.addAccount(u, { host: '127.0.0.1', port: 1, username: 'a', password: 'b' });
    await h.addAccount(u, { host: '127.0.0.1', port: 1, username: 'a', password: 'b', enabled: false });
    behaviours.set(good, async () => stats(2));
    behaviours.set(bad, async () => {
      throw permanent('auth-failed', 'The IMAP server rejected the username or password.');
    });
    const { task } = await enqueueAllAccountsSync(h.system.queue, h.system.deps, { userId: u.id, dek: u.dek });
    const done = await waitForTask(h.ts.store, task.id, { timeoutMs: 10_000, pollMs: 20 });
    expect(done.state).toBe('SUCCESS');
    const result = taskView(done).result as {
      status: string;
      accounts: { account_id: number; state: string; email_count?: number; error?: string }[];
    };
    expect(result.status).toBe('partial');
    expect(result.accounts).toEqual([
      expect.objectContaining({ account_id: good, state: 'SUCCESS', email_count: 2 }),
      expect.objectContaining({ account_id: bad, state: 'FAILURE', error: 'The IMAP server rejected the username or password.' }),
    ]);
    const children = await h.system.queue.children(task.id);
    expect(children).toHaveLength(2);
    expect(await h.ts.store.db.selectFrom('grants').select('id').where('user_id', '=', u.id).execute()).toHaveLength(0);
  });

  it('cancels a queued and a running task (REVOKED) and retries a failed one as a new task', async () => {
    const started = await enqueuePing(h.system.queue, { userId: user.id, delayMs: 5_000 });
    await waitUntil(async () => (await h.system.queue.get(started.task.id))?.state === 'STARTED');
    const cancelled = await h.system.queue.cancel(started.task.id, user.id);
    expect(cancelled?.cancel_requested).toBe(1);
    const done = await waitForTask(h.ts.store, started.task.id, { timeoutMs: 5_000, pollMs: 20 });
    expect(done.state).toBe('REVOKED');
    expect(await h.system.queue.cancel(started.task.id, user.id + 1000)).toBeUndefined();

    let fail = true;
    const id = await account(async () => {
      if (fail) throw permanent('auth-failed', 'The IMAP server rejected the username or password.');
      return stats(1);
    });
    const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId: id, dek: user.dek });
    expect((await waitForTask(h.ts.store, task.id, { timeoutMs: 10_000, pollMs: 20 })).state).toBe('FAILURE');
    fail = false;
    const retried = await retryTask(h.system.queue, h.system.deps, { userId: user.id, taskId: task.id, dek: user.dek });
    expect(retried?.result.task.id).not.toBe(task.id);
    expect((await waitForTask(h.ts.store, retried!.result.task.id, { timeoutMs: 10_000, pollMs: 20 })).state).toBe('SUCCESS');
  });
});

async function waitUntil(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
