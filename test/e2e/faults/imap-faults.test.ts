// IMAP faults end to end: the real task queue runs sync_user_emails with the real engine, through a
// fault-injecting TCP proxy in front of the suite's Dovecot. Retries are scaled down (RETRY_BASE_MS);
// after every fault that is retried, the store must equal the server exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptsOf } from '../../../src/queue/task-repo.js';
import { waitForTask } from '../../../src/queue/task-watch.js';
import type { StoreKind } from '../../../src/config/config.js';
import type { QueueKind } from '../../../src/queue/types.js';
import { syncAccount } from '../../../src/sync/engine.js';
import { enqueueAccountSync } from '../../../src/tasks/sync-service.js';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { startFaultProxy, type FaultProxy } from '../../fixtures/fault-proxy.js';
import { createQueueHarness, type QueueHarness, type TestUser } from '../../fixtures/queue.js';
import { rawMessage } from '../../fixtures/sync-account.js';
import { storeKinds } from '../../fixtures/stores.js';
import { serverLocations, storedLive, UserPool } from '../../integration/sync/sync-helpers.js';

const BASE = 25;
// The retry-timing test compares the waits: delays large enough that their growth stands out from the
// queue's own latency on a loaded machine (up to ~100 ms seen for BullMQ's delayed jobs).
const TIMED_BASE = 100;
const FOLDERS = ['INBOX', 'Archive'];

let d: Dovecot;
let proxy: FaultProxy;
let users: UserPool;
beforeAll(async () => {
  d = await startDovecot();
  users = new UserPool(d, 20);
  proxy = await startFaultProxy({ host: d.host, port: d.port });
});
afterAll(async () => {
  await proxy?.close();
  await d?.stop();
});

/** A small two-folder mailbox (1–2 KB messages, some flagged/seen) for one IMAP user. */
function fillMailbox(user: string, n: number): void {
  for (let i = 0; i < n; i++)
    d.writeMessage(
      user,
      FOLDERS[i % 3 === 0 ? 1 : 0],
      rawMessage({ subject: `fault ${i}`, body: `${i} body line\r\n`.repeat(60 + i * 4) }),
      {
        flags: i % 4 === 0 ? ['\\Seen'] : i % 5 === 0 ? ['\\Flagged'] : [],
      },
    );
}

function harnessFor(queue: QueueKind, storeKind: StoreKind = 'sqlite', retryBase = BASE) {
  let h: QueueHarness;
  let owner: TestUser;
  const ctx = {
    get h() {
      return h;
    },
    async setup() {
      h = await createQueueHarness(queue, storeKind, {
        syncAccount,
        concurrency: 1,
        extra: { RETRY_BASE_MS: String(retryBase), IMAP_TIMEOUT_MS: '400' },
      });
      owner = await h.addUser();
    },
    async account(imap: { user: string; pw: string }, server: { host: string; port: number } = proxy) {
      return h.addAccount(owner, { host: server.host, port: server.port, username: imap.user, password: imap.pw });
    },
    async start(accountId: number) {
      const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, {
        userId: owner.id,
        accountId,
        dek: owner.dek,
        maxEmails: 10_000,
      });
      return task.id;
    },
    async finish(taskId: string, timeoutMs = 20_000) {
      const done = await waitForTask(h.ts.store, taskId, { timeoutMs, pollMs: 10 });
      return { done, attempts: await attemptsOf(h.ts.store, taskId) };
    },
    async sync(accountId: number) {
      return ctx.finish(await ctx.start(accountId));
    },
    /** Resolves once the task has `n` attempts that ended in a retry. */
    async retried(taskId: string, n: number) {
      const end = Date.now() + 10_000;
      while ((await attemptsOf(h.ts.store, taskId)).filter((a) => a.outcome === 'retry').length < n) {
        if (Date.now() > end) throw new Error(`task ${taskId} did not reach ${n} retries`);
        await new Promise((r) => setTimeout(r, 2));
      }
    },
    /** Stored live (folder, uid, flags) equals the server's, and no stable id occurs twice. */
    async expectExact(accountId: number, imap: { user: string; pw: string }) {
      expect(await storedLive(h.ts.store, accountId)).toEqual(await serverLocations(d, imap.user, imap.pw, FOLDERS));
      const ids = await h.ts.store.db.selectFrom('messages').select('stable_id').where('account_id', '=', accountId).execute();
      expect(new Set(ids.map((r) => r.stable_id)).size).toBe(ids.length);
    },
  };
  return ctx;
}

const gapsOf = (attempts: { started_at: number; finished_at: number | null }[]) =>
  attempts.slice(1).map((a, i) => a.started_at - attempts[i].finished_at!);

describe.each(['local', 'bullmq'] as const)('IMAP connection refused through the %s queue', (queue) => {
  const q = harnessFor(queue, 'sqlite', TIMED_BASE);
  beforeAll(() => q.setup());
  afterAll(async () => {
    proxy.reset();
    await q.h?.cleanup();
  });

  it('is retried 3 times after RETRY_BASE_MS × 1, 2, 4, then FAILURE naming the server and the refusal', async () => {
    const imap = users.take();
    const id = await q.account(imap);
    proxy.refuse();
    const { done, attempts } = await q.sync(id);
    proxy.reset();
    expect(done.state).toBe('FAILURE');
    expect(done.error_kind).toBe('transient');
    expect(done.error).toContain(`${proxy.host}:${proxy.port}`);
    expect(done.error).toMatch(/failed or was cut/);
    expect(attempts.map((a) => a.outcome)).toEqual(['retry', 'retry', 'retry', 'failure']);
    const gaps = gapsOf(attempts);
    // Each wait is at least its scheduled delay, and the delays grow (BullMQ/local polling adds a little).
    [1, 2, 4].forEach((m, i) => expect(gaps[i]).toBeGreaterThanOrEqual(TIMED_BASE * m - 3));
    expect(gaps[2]).toBeGreaterThan(gaps[0]);
  });
});

describe.each(await storeKinds())('IMAP faults through the local queue on %s', (storeKind) => {
  const q = harnessFor('local', storeKind);
  beforeAll(() => q.setup());
  afterAll(async () => {
    proxy.reset();
    await q.h?.cleanup();
  });

  it('a refusal lifted before the retries run out: SUCCESS with the exact server state', async () => {
    const imap = users.take();
    fillMailbox(imap.user, 6);
    const id = await q.account(imap);
    proxy.refuse();
    const taskId = await q.start(id);
    // Lift the fault once two attempts have failed.
    await q.retried(taskId, 2);
    proxy.reset();
    const { done, attempts } = await q.finish(taskId);
    expect(done.state).toBe('SUCCESS');
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    expect(attempts.at(-1)!.outcome).toBe('success');
    expect(attempts.slice(0, -1).every((a) => a.outcome === 'retry')).toBe(true);
    await q.expectExact(id, imap);
  });

  it('a stalled connection (no bytes) times out as a transient error and the retry succeeds', async () => {
    const imap = users.take();
    fillMailbox(imap.user, 4);
    const id = await q.account(imap);
    proxy.stall();
    const taskId = await q.start(id);
    await q.retried(taskId, 1);
    proxy.reset();
    const { done, attempts } = await q.finish(taskId);
    expect(done.state).toBe('SUCCESS');
    expect(attempts[0].outcome).toBe('retry');
    expect(attempts[0].error).toMatch(/did not answer in time/);
    await q.expectExact(id, imap);
  });

  it('a connection cut after N bytes, at 24 offsets spread over a whole sync: every retry converges exactly', async () => {
    const imap = users.take();
    fillMailbox(imap.user, 24);
    // One clean initial sync through the proxy gives the byte budget to spread the cuts over.
    const clean = await q.account(imap);
    proxy.resetCounters();
    expect((await q.sync(clean)).done.state).toBe('SUCCESS');
    const total = proxy.bytesToClient;
    await q.expectExact(clean, imap);
    expect(total).toBeGreaterThan(20_000);

    const offsets = Array.from({ length: 24 }, (_, i) => Math.floor(((i + 0.5) * total) / 24));
    let cutsFired = 0;
    for (const offset of offsets) {
      const id = await q.account(imap);
      let fired = false;
      void proxy.cutAfter(offset).then(() => (fired = true));
      const { done, attempts } = await q.sync(id);
      proxy.reset();
      expect(fired, `cut at ${offset} of ${total} bytes fired`).toBe(true);
      cutsFired++;
      expect(done.state, `cut at ${offset}: ${done.error}`).toBe('SUCCESS');
      expect(attempts.map((a) => a.outcome)).toEqual(['retry', 'success']);
      await q.expectExact(id, imap);
    }
    console.log(
      `connection cuts on ${storeKind}: ${cutsFired} offsets over a ${total}-byte sync (${offsets[0]}…${offsets.at(-1)}), all converged`,
    );
  });

  it('a server BYE in the middle of a sync is transient: retried, and the store converges', async () => {
    const imap = users.take();
    fillMailbox(imap.user, 12);
    const probe = await q.account(imap);
    proxy.resetCounters();
    await q.sync(probe);
    const total = proxy.bytesToClient;
    const id = await q.account(imap);
    const bye = proxy.byeAfter(Math.floor(total / 2));
    const { done, attempts } = await q.sync(id);
    await bye;
    expect(done.state).toBe('SUCCESS');
    expect(attempts.map((a) => a.outcome)).toEqual(['retry', 'success']);
    expect(attempts[0].error).toMatch(/closed the connection \(BYE: Server shutting down \(injected\)\)/);
    await q.expectExact(id, imap);
  });

  // We answer the body fetch (UID FETCH, a command a sync cannot do without) with BAD: BAD means the
  // server will never accept the command, so it must fail at once with a clear error and no retry. A NO
  // to the same command may be momentary (locks, quotas): it is retried and the store converges.
  it('a BAD answer to UID FETCH fails permanently after one attempt, naming the rejected command', async () => {
    const imap = users.take();
    fillMailbox(imap.user, 3);
    const id = await q.account(imap);
    const injected = proxy.replyTo(/^\S+ UID FETCH /i, 'BAD', 'Error in IMAP command UID FETCH: Invalid arguments (injected)');
    const { done, attempts } = await q.sync(id);
    await injected;
    proxy.reset();
    expect(done.state).toBe('FAILURE');
    expect(done.error_kind).toBe('permanent');
    expect(done.error).toMatch(/rejected a command as invalid/);
    expect(done.error).toContain('Invalid arguments');
    expect(attempts.map((a) => a.outcome)).toEqual(['failure']);
  });

  it('a NO answer to UID FETCH is retried and the store converges', async () => {
    const imap = users.take();
    fillMailbox(imap.user, 3);
    const id = await q.account(imap);
    const injected = proxy.replyTo(/^\S+ UID FETCH /i, 'NO', '[INUSE] Mailbox is locked, try later (injected)');
    const { done, attempts } = await q.sync(id);
    await injected;
    proxy.reset();
    expect(done.state).toBe('SUCCESS');
    expect(attempts.map((a) => a.outcome)).toEqual(['retry', 'success']);
    await q.expectExact(id, imap);
  });

  it('a slow link (latency on every chunk) still completes with the exact state', async () => {
    const imap = users.take();
    fillMailbox(imap.user, 8);
    const id = await q.account(imap);
    proxy.latency(3);
    const { done, attempts } = await q.sync(id);
    proxy.reset();
    expect(done.state).toBe('SUCCESS');
    expect(attempts.map((a) => a.outcome)).toEqual(['success']);
    await q.expectExact(id, imap);
  });

  // The handshake fails before the store is touched: one store kind covers it.
  it.runIf(storeKind === 'sqlite')(
    'TLS with an untrusted certificate: permanent FAILURE after exactly one attempt, naming the certificate problem',
    async () => {
      const tlsD = await startDovecot({ tls: true });
      try {
        tlsD.addUser('tlsuser', 'tls-pw');
        tlsD.writeMessage('tlsuser', 'INBOX', rawMessage({ subject: 'over tls' }));
        const id = await q.account({ user: 'tlsuser', pw: 'tls-pw' }, { host: '127.0.0.1', port: tlsD.tlsPort! });
        await q.h.ts.store.db.updateTable('mail_accounts').set({ security: 'tls', tls_fingerprint: null }).where('id', '=', id).execute();
        const { done, attempts } = await q.sync(id);
        expect(done.state).toBe('FAILURE');
        expect(done.error_kind).toBe('permanent');
        expect(done.error).toMatch(
          /TLS certificate of 127\.0\.0\.1:\d+ was rejected \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\)/,
        );
        expect(done.error).toMatch(/trust the certificate's fingerprint/);
        expect(attempts.map((a) => a.outcome)).toEqual(['failure']);
      } finally {
        await tlsD.stop();
      }
    },
  );
});
