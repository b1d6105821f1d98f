// The other ways in: `mail-helper sync --wait` (CLI, dist/) and the programmatic API, against Dovecot.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidMaxEmailsError, openMailHelper, WrongPasswordError, type TaskView } from '../../../src/index.js';
import { createUser } from '../../../src/users/user-service.js';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { CLI, runCli, startServe, startWorkerProcess } from '../../fixtures/processes.js';
import { createTestRedis } from '../../fixtures/redis.js';
import { waitForTask } from '../../../src/queue/task-watch.js';
import { spawn, spawnSync } from 'node:child_process';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';
import { insertMailAccount } from '../../fixtures/sync-account.js';

describe('sync entry points (local queue, SQLite)', () => {
  let dovecot: Dovecot;
  let ts: TestStore;
  let accountId: number;
  let userId: number;
  let aliceDek: Buffer;
  const password = 'a-long-user-password';
  const imapUser = `mh${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    dovecot = await startDovecot();
    dovecot.addUser(imapUser, 'imap-pw');
    for (let i = 0; i < 4; i++)
      dovecot.writeMessage(imapUser, 'INBOX', `Subject: m${i}\r\nMessage-ID: <${randomBytes(5).toString('hex')}@x>\r\n\r\nbody ${i}\r\n`);
    ts = await createTestStore('sqlite', { RETRY_BASE_MS: '20' });
    const { user, dek } = await createUser(ts.store.db, ts.config.auth.argon2, { username: 'alice', password });
    userId = user.id;
    aliceDek = dek;
    const credentials = { username: imapUser, password: 'imap-pw' };
    accountId = await insertMailAccount(ts.store, { userId: user.id, dek, server: dovecot, credentials, name: 'inbox', maxEmails: 50 });
  });
  afterAll(async () => {
    await ts?.cleanup();
    await dovecot?.stop();
  });

  it('mail-helper sync --wait queues the sync, runs it (no serve running) and prints the result', async () => {
    const r = await runCli(
      ['sync', '--user', 'alice', '--account', String(accountId), '--wait', '--password-stdin', '--max-emails', '2', '--json'],
      ts.env,
      {
        input: `${password}\n`,
      },
    );
    expect(r.stderr).toContain('running the task in this process');
    expect(r.code).toBe(0);
    const view = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as TaskView;
    expect(view).toMatchObject({ state: 'SUCCESS', status: 'completed', result: { status: 'success', email_count: 2 } });
  });

  it('mail-helper sync refuses a wrong password and bad arguments clearly', async () => {
    const wrong = await runCli(['sync', '--user', 'alice', '--all', '--password-stdin'], ts.env, { input: 'nope\n' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('Wrong password for user "alice"');
    const both = await runCli(['sync', '--user', 'alice', '--all', '--account', '1'], ts.env);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('exactly one of --account <id> or --all');
  });

  it('the programmatic API enqueues both tasks and awaits them', async () => {
    const mh = await openMailHelper({ env: ts.env, envFile: false, runWorker: true });
    try {
      const queued = await mh.syncUserEmails({ username: 'alice', password, accountId });
      expect(queued).toMatchObject({ deduplicated: false, taskType: 'local' });
      const seen: string[] = [];
      const done = await mh.waitForTask(queued.taskId, { timeoutMs: 20_000, onProgress: (t) => seen.push(t.state) });
      expect(done).toMatchObject({ state: 'SUCCESS', result: { status: 'success', email_count: 2 } });
      expect(seen.at(-1)).toBe('SUCCESS');
      expect((await mh.getTask(queued.taskId))?.status).toBe('completed');

      const all = await mh.syncAllAccounts({ userId, password });
      const allDone = await mh.waitForTask(all.taskId, { timeoutMs: 20_000 });
      expect(allDone.result).toMatchObject({ status: 'success', accounts: [{ account_id: accountId, state: 'SUCCESS' }] });
      await expect(mh.syncAllAccounts({ userId, password: 'wrong' })).rejects.toBeInstanceOf(WrongPasswordError);
      // A limit no task takes is refused up front, saying what is allowed; nothing is queued for it.
      const before = await ts.store.db
        .selectFrom('tasks')
        .select((e) => e.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      for (const maxEmails of [0, -3, 2.5, 100_001, Number.NaN]) {
        const refused = mh.syncUserEmails({ userId, password, accountId, maxEmails });
        await expect(refused).rejects.toBeInstanceOf(InvalidMaxEmailsError);
        await expect(refused).rejects.toThrow(`maxEmails must be a whole number from 1 to 100000, not ${String(maxEmails)};`);
      }
      const after = await ts.store.db
        .selectFrom('tasks')
        .select((e) => e.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(after.n)).toBe(Number(before.n));
      // The largest allowed limit is taken.
      const most = await mh.syncUserEmails({ userId, password, accountId, maxEmails: 100_000 });
      expect((await mh.waitForTask(most.taskId, { timeoutMs: 20_000 })).state).toBe('SUCCESS');
    } finally {
      await mh.close();
    }
  });

  it("the README's programmatic API example runs as written", async () => {
    const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
    const section = readme.slice(readme.indexOf('### Programmatic API'));
    const code = /```js\n([\s\S]*?)```/.exec(section)![1];
    const dist = new URL('../index.js', `file://${CLI}`).href;
    const script = join(ts.config.dataDir, 'example.mjs');
    writeFileSync(script, code.replace("from 'mail-helper'", `from '${dist}'`));
    expect(accountId).toBe(1);
    const r = spawnSync(process.execPath, [script], {
      env: { PATH: process.env.PATH ?? '', ...ts.env, ALICE_PASSWORD: password },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('queued');
    expect(r.stdout).toMatch(/completed \{[^}]*status: 'success'/);
  });

  it('mail-helper integration-test --account syncs the account given by name or id, and names one that is not there', async () => {
    const serve = await startServe(ts.env);
    try {
      for (const account of ['inbox', String(accountId)]) {
        const r = await runCli(
          ['integration-test', '--user', 'alice', '--account', account, '--password-stdin', '--timeout', '60'],
          ts.env,
          {
            input: `${password}\n`,
          },
        );
        expect(r.stdout).toMatch(/ok\s+account sync\s+\d+ ms\s+\{"status":"success"/);
        expect(r.code).toBe(0);
      }
      const missing = await runCli(
        ['integration-test', '--user', 'alice', '--account', 'home', '--password-stdin', '--timeout', '60'],
        ts.env,
        {
          input: `${password}\n`,
        },
      );
      expect(missing.stdout).toMatch(/FAIL\s+account sync .*User "alice" has no mail account "home" \(give its id or its name\)/);
      expect(missing.code).toBe(1);
    } finally {
      await serve.stop('SIGTERM');
    }
  });

  it('mail-helper sync --wait interrupted by Ctrl-C hands the sync it runs back to the queue; the next one finishes it exactly', async () => {
    const { accountId: bigId, count } = await bigAccount(dovecot, ts, userId, aliceDek, `${imapUser}b`);
    const stored = () => storedCount(ts, bigId);
    const { code, stderr } = await interruptedSyncWait(ts.env, password, stored, count);
    expect(code).toBe(130);
    expect(stderr).toMatch(
      /Interrupted \(SIGINT\): task \S+ is PENDING, handed back to the queue; `mail-helper serve`, a worker or `mail-helper sync --wait` again runs it to the end\./,
    );
    // The same task, taken up again where it stopped: every message once.
    const again = await runCli(['sync', '--user', 'alice', '--account', 'big', '--wait', '--password-stdin', '--json'], ts.env, {
      input: `${password}\n`,
    });
    expect(again.stderr).toMatch(/Already queued or running: task/);
    expect(again.code).toBe(0);
    expect(await stored()).toBe(count);
  });
});

describe.runIf((await storeKinds()).includes('postgres'))('sync --wait interrupted (PostgreSQL, BullMQ)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('stops following and leaves the task to the worker running it, which finishes it exactly', async () => {
    const dovecot = await startDovecot();
    cleanups.push(() => dovecot.stop());
    const ts = await createTestStore('postgres');
    cleanups.push(() => ts.cleanup());
    const redis = await createTestRedis();
    cleanups.push(() => redis.cleanup());
    const password = 'a-long-user-password';
    const { user, dek } = await createUser(ts.store.db, ts.config.auth.argon2, { username: 'alice', password });
    const { accountId, count } = await bigAccount(dovecot, ts, user.id, dek, `mh${randomBytes(3).toString('hex')}`);
    const env = { ...ts.env, QUEUE: 'bullmq', REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix };
    const worker = await startWorkerProcess(env);
    cleanups.push(async () => void (await worker.stop('SIGTERM')));
    const { code, stderr } = await interruptedSyncWait(env, password, () => storedCount(ts, accountId), count);
    expect(code).toBe(130);
    const m =
      /Interrupted \(SIGINT\): task (\S+) is STARTED; `mail-helper serve`, a worker or `mail-helper sync --wait` again runs it to the end\./.exec(
        stderr,
      );
    expect(m, stderr).not.toBeNull();
    const done = await waitForTask(ts.store, m![1], { timeoutMs: 60_000 });
    expect(done.state).toBe('SUCCESS');
    expect(await storedCount(ts, accountId)).toBe(count);
  });
});

/** A mail account of alice's named "big" on a new IMAP user with a few thousand messages: a sync long enough to interrupt. */
async function bigAccount(dovecot: Dovecot, ts: TestStore, userId: number, dek: Buffer, imapUser: string) {
  const count = 4000;
  dovecot.addUser(imapUser, 'imap-pw');
  for (let i = 0; i < count; i++)
    dovecot.writeMessage(imapUser, 'INBOX', `Subject: big ${i}\r\nMessage-ID: <big-${i}@x>\r\n\r\n${'text '.repeat(200)}${i}\r\n`);
  const credentials = { username: imapUser, password: 'imap-pw' };
  const accountId = await insertMailAccount(ts.store, { userId, dek, server: dovecot, credentials, name: 'big', maxEmails: 1000 });
  return { accountId, count };
}

async function storedCount(ts: TestStore, accountId: number): Promise<number> {
  const row = await ts.store.db
    .selectFrom('messages')
    .select((e) => e.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** `mail-helper sync --wait` of alice's "big" account, sent SIGINT once some but not all of its messages are stored. */
async function interruptedSyncWait(env: Record<string, string>, password: string, stored: () => Promise<number>, count: number) {
  const args = [CLI, 'sync', '--user', 'alice', '--account', 'big', '--wait', '--password-stdin', '--max-emails', String(count)];
  const proc = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  proc.stdin.end(`${password}\n`);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 1000 && (await stored()) === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const before = await stored();
  expect(before).toBeGreaterThan(0);
  expect(before).toBeLessThan(count);
  proc.kill('SIGINT');
  return { code: await exited, stderr };
}
