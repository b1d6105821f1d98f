// Worker processes as a person runs them (dist/): start-up checks, graceful SIGTERM, and a process
// SIGKILLed mid-task whose job is picked up again and completes once.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptsOf } from '../../../src/queue/task-repo.js';
import { waitForTask } from '../../../src/queue/task-watch.js';
import { enqueueAccountSync, enqueuePing } from '../../../src/tasks/sync-service.js';
import { freePort, startDovecot } from '../../fixtures/dovecot.js';
import { CLI, runCli, startServe } from '../../fixtures/processes.js';
import { createQueueHarness, type QueueHarness } from '../../fixtures/queue.js';
import { createTestStore } from '../../fixtures/stores.js';

interface Proc {
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `mail-helper worker` (or another command that runs jobs), without waiting for it to come up. */
function startWorker(env: Record<string, string>, args: string[] = [], command = 'worker'): Proc {
  const proc = spawn(process.execPath, [CLI, command, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, output: () => out, exited };
}

const KILL_MESSAGES = 2000;

async function until(cond: () => Promise<boolean> | boolean, ms = 15_000, what = 'condition', pollMs = 25): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

describe('mail-helper worker start-up', () => {
  it('says that the web process runs the jobs when QUEUE=local (exit 2)', async () => {
    const ts = await createTestStore('sqlite');
    try {
      const r = await runCli(['worker'], { ...ts.env, QUEUE: 'local' });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('the web process (`mail-helper serve`) runs the jobs');
    } finally {
      await ts.cleanup();
    }
  });

  it('serve in embedded mode generates DATA_DIR/server-secret once (mode 0600) and keeps it', async () => {
    const ts = await createTestStore('sqlite');
    try {
      const env = { ...ts.env, QUEUE: 'local', SERVER_SECRET: '' };
      const first = await startServe(env);
      const path = join(ts.config.dataDir, 'server-secret');
      const secret = readFileSync(path, 'utf8');
      expect(secret.trim()).toMatch(/^[0-9a-f]{64}$/);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(await first.stop()).toBe(0);
      const second = await startServe(env);
      expect(readFileSync(path, 'utf8')).toBe(secret);
      expect(await second.stop()).toBe(0);
    } finally {
      await ts.cleanup();
    }
  });

  it('refuses to start without a server secret (exit 2, says how to fix it)', async () => {
    const ts = await createTestStore('sqlite');
    try {
      const r = await runCli(['worker'], { ...ts.env, QUEUE: 'bullmq', SERVER_SECRET: '', REDIS_PREFIX: 'mh-test-nosecret' });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('No server secret');
      expect(r.stderr).toContain('SERVER_SECRET');
      expect(r.stderr).not.toContain('    at ');
    } finally {
      await ts.cleanup();
    }
  });
});

describe.each(['bullmq', 'local'] as const)('%s worker processes', (queueKind) => {
  let h: QueueHarness;
  beforeAll(async () => {
    // The test process only enqueues; the jobs run in child processes.
    h = await createQueueHarness(queueKind, 'sqlite', { startWorker: false, extra: { WORKER_LEASE_MS: '1500' } });
  });
  afterAll(async () => h?.cleanup());

  const start = (): Proc | Promise<Proc> =>
    queueKind === 'bullmq'
      ? startWorker(h.env, ['--concurrency', '1'])
      : startServe({ ...h.env, LOG_LEVEL: 'info' }).then((s) => ({ proc: s.proc, output: s.output, exited: s.exited }));

  it('a worker killed with SIGKILL mid-task: the job is picked up again and completes once', async () => {
    const a = await start();
    const { task } = await enqueuePing(h.system.queue, { delayMs: 1200, echo: 'survivor' });
    await until(async () => (await h.system.queue.get(task.id))?.state === 'STARTED', 15_000, 'task start');
    a.proc.kill('SIGKILL');
    await a.exited;
    const b = await start();
    try {
      const done = await waitForTask(h.ts.store, task.id, { timeoutMs: 20_000, pollMs: 50 });
      expect(done.state).toBe('SUCCESS');
      const attempts = await attemptsOf(h.ts.store, task.id);
      expect(attempts.map((x) => x.outcome)).toEqual(['interrupted', 'success']);
      expect(attempts[0].worker_id).not.toBe(attempts[1].worker_id);
    } finally {
      b.proc.kill('SIGTERM');
      await b.exited;
    }
  });

  it('a worker killed with SIGKILL mid-sync: the sync is picked up again and stores every message once', async () => {
    const dovecot = await startDovecot();
    try {
      dovecot.addUser('killme', 'pw');
      const filler = 'lorem ipsum dolor sit amet '.repeat(800);
      // Enough mail that the fetch phase outlasts a few progress writes (every 250 ms), so the kill lands in it.
      for (let i = 0; i < KILL_MESSAGES; i++)
        dovecot.writeMessage('killme', 'INBOX', `Subject: kill test ${i}\r\nMessage-ID: <kill-${i}@x>\r\n\r\n${i} ${filler}\r\n`);
      const user = await h.addUser();
      const accountId = await h.addAccount(user, { host: dovecot.host, port: dovecot.port, username: 'killme', password: 'pw' });
      await h.ts.store.db.updateTable('mail_accounts').set({ max_emails: 5000 }).where('id', '=', accountId).execute();
      const a = await start();
      const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId, dek: user.dek });
      await until(
        async () => {
          const t = await h.system.queue.get(task.id);
          const p = t?.progress ? (JSON.parse(t.progress) as { phase?: string; done?: number }) : {};
          return p.phase === 'fetch' && (p.done ?? 0) > 0;
        },
        20_000,
        'fetch progress',
      );
      a.proc.kill('SIGKILL');
      await a.exited;
      const stored = async () =>
        Number(
          (
            await h.ts.store.db
              .selectFrom('messages')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where('account_id', '=', accountId)
              .executeTakeFirstOrThrow()
          ).n,
        );
      const before = await stored();
      expect(before).toBeLessThan(KILL_MESSAGES);
      const b = await start();
      try {
        const done = await waitForTask(h.ts.store, task.id, { timeoutMs: 30_000, pollMs: 50 });
        expect(done.state).toBe('SUCCESS');
        expect(await stored()).toBe(KILL_MESSAGES);
        const ids = await h.ts.store.db.selectFrom('messages').select('stable_id').where('account_id', '=', accountId).execute();
        expect(new Set(ids.map((r) => r.stable_id)).size).toBe(KILL_MESSAGES);
        expect((await attemptsOf(h.ts.store, task.id)).map((x) => x.outcome)).toEqual(['interrupted', 'success']);
      } finally {
        b.proc.kill('SIGTERM');
        await b.exited;
      }
    } finally {
      await dovecot.stop();
    }
  });

  it('SIGTERM as the first job starts, the job queued before the process: the job finishes, exit 0', async () => {
    // A worker takes a waiting job while the process is still starting up (serve: before its web server
    // listens): a SIGTERM then must find the shutdown handler in place already (it once came last, and
    // the signal ended the process, the job with it).
    const { task } = await enqueuePing(h.system.queue, { delayMs: 800 });
    const w =
      queueKind === 'bullmq'
        ? startWorker(h.env, ['--concurrency', '1'])
        : startWorker({ ...h.env, LOG_LEVEL: 'info' }, ['--port', String(await freePort())], 'serve');
    await until(async () => (await h.system.queue.get(task.id))?.state === 'STARTED', 15_000, 'task start', 2);
    w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect((await h.system.queue.get(task.id))?.state).toBe('SUCCESS');
  });

  it('SIGTERM lets the running job finish, then the process exits 0 and leaves the workers table', async () => {
    const w = await start();
    const { task } = await enqueuePing(h.system.queue, { delayMs: 800 });
    await until(async () => (await h.system.queue.get(task.id))?.state === 'STARTED', 15_000, 'task start');
    w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect((await h.system.queue.get(task.id))?.state).toBe('SUCCESS');
    const workers = await h.ts.store.db.selectFrom('workers').selectAll().where('pid', '=', w.proc.pid!).execute();
    expect(workers).toHaveLength(0);
  });
});
