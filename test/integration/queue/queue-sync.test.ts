// The sync tasks with the real engine against the suite's Dovecot, on both backends and both stores:
// success, authentication failure (no retry), unreachable server (3 growing retries), sync_all with one
// broken account, and a scan of every Redis key/value and database row for secrets afterwards.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptsOf } from '../../../src/queue/task-repo.js';
import { waitForTask } from '../../../src/queue/task-watch.js';
import { syncAccount } from '../../../src/sync/engine.js';
import { enqueueAccountSync, enqueueAllAccountsSync, taskView } from '../../../src/tasks/sync-service.js';
import { freePort, startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { createQueueHarness, type QueueHarness, type TestUser } from '../../fixtures/queue.js';
import { storeKinds } from '../../fixtures/stores.js';

const combos = (await storeKinds()).flatMap((s) => (['local', 'bullmq'] as const).map((q) => [q, s] as const));

function rawMessage(subject: string, i: number): string {
  return [
    `From: Sender <sender@example.org>`,
    `To: imap-user@example.org`,
    `Subject: ${subject}`,
    `Date: Mon, 1 Jan 2024 10:0${i}:00 +0000`,
    `Message-ID: <${randomBytes(6).toString('hex')}@example.org>`,
    '',
    `Body number ${i}.`,
    '',
  ].join('\r\n');
}

describe.each(combos)('sync tasks with the engine on %s / %s', (queueKind, storeKind) => {
  let h: QueueHarness;
  let user: TestUser;
  const logLines: string[] = [];
  const imapUser = `mh${randomBytes(3).toString('hex')}`;
  const imapPassword = `Pw-${randomBytes(8).toString('hex')}`;
  const subject = `Quarterly secret plan ${randomBytes(4).toString('hex')}`;

  // Own Dovecot per combination: Dovecot delays logins from an IP after failed ones (auth penalty).
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot();
    h = await createQueueHarness(queueKind, storeKind, { syncAccount, concurrency: 2, logLines });
    user = await h.addUser();
    dovecot.addUser(imapUser, imapPassword);
    for (let i = 0; i < 3; i++) dovecot.writeMessage(imapUser, 'INBOX', rawMessage(`${subject} #${i}`, i));
  });
  afterAll(async () => {
    await h?.cleanup();
    await dovecot?.stop();
  });

  const good = () => h.addAccount(user, { host: dovecot.host, port: dovecot.port, username: imapUser, password: imapPassword });

  it('syncs an account: SUCCESS with the email count, messages stored encrypted', async () => {
    const id = await good();
    const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId: id, dek: user.dek });
    const done = await waitForTask(h.ts.store, task.id, { timeoutMs: 20_000, pollMs: 25 });
    expect(done.error).toBeNull();
    expect(done.state).toBe('SUCCESS');
    expect(taskView(done).result).toMatchObject({ status: 'success', email_count: 3, account_id: id });
    const stored = await h.ts.store.db.selectFrom('messages').select('id').where('account_id', '=', id).execute();
    expect(stored).toHaveLength(3);
    // A second sync finds nothing new and duplicates nothing.
    const again = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId: id, dek: user.dek });
    const done2 = await waitForTask(h.ts.store, again.task.id, { timeoutMs: 20_000, pollMs: 25 });
    expect(taskView(done2).result).toMatchObject({ email_count: 0 });
    expect(await h.ts.store.db.selectFrom('messages').select('id').where('account_id', '=', id).execute()).toHaveLength(3);
  });

  it('an unreachable server is retried exactly 3 times with growing delays, then FAILURE with a clear error', async () => {
    const closed = await freePort();
    const id = await h.addAccount(user, { host: '127.0.0.1', port: closed, username: imapUser, password: imapPassword });
    const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId: id, dek: user.dek });
    const done = await waitForTask(h.ts.store, task.id, { timeoutMs: 20_000, pollMs: 10 });
    expect(done.state).toBe('FAILURE');
    expect(done.error).toContain(`127.0.0.1:${closed}`);
    const attempts = await attemptsOf(h.ts.store, task.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['retry', 'retry', 'retry', 'failure']);
    const gaps = attempts.slice(1).map((a, i) => a.started_at - attempts[i].finished_at!);
    [40, 80, 160].forEach((d, i) => expect(gaps[i]).toBeGreaterThanOrEqual(d - 5));
  });

  it('sync_all_accounts with one broken account: the others succeed and the result says partial', async () => {
    const other = await h.addUser();
    const ok = await h.addAccount(other, { host: dovecot.host, port: dovecot.port, username: imapUser, password: imapPassword });
    const broken = await h.addAccount(other, { host: '127.0.0.1', port: await freePort(), username: imapUser, password: imapPassword });
    const { task } = await enqueueAllAccountsSync(h.system.queue, h.system.deps, { userId: other.id, dek: other.dek });
    const done = await waitForTask(h.ts.store, task.id, { timeoutMs: 20_000, pollMs: 25 });
    expect(done.state).toBe('SUCCESS');
    const result = taskView(done).result as { status: string; accounts: { account_id: number; state: string }[] };
    expect(result.status).toBe('partial');
    expect(result.accounts.map((a) => [a.account_id, a.state])).toEqual([
      [ok, 'SUCCESS'],
      [broken, 'FAILURE'],
    ]);
  });

  it('leaves no DEK, IMAP password or mail content in Redis, any database row or any log line', async () => {
    const needles = [
      { what: 'DEK (raw)', value: user.dek.toString('latin1') },
      { what: 'DEK (hex)', value: user.dek.toString('hex') },
      { what: 'DEK (base64)', value: user.dek.toString('base64') },
      { what: 'DEK (base64url)', value: user.dek.toString('base64url') },
      { what: 'IMAP password', value: imapPassword },
      { what: 'synced subject', value: subject },
    ];
    const haystacks: { where: string; text: string }[] = [];
    for (const table of [
      'users',
      'sessions',
      'mail_accounts',
      'folders',
      'server_messages',
      'messages',
      'attachments',
      'tasks',
      'task_attempts',
      'grants',
      'workers',
    ] as const) {
      const rows = await h.ts.store.db.selectFrom(table).selectAll().execute();
      for (const row of rows)
        for (const [col, v] of Object.entries(row))
          haystacks.push({ where: `${table}.${col}`, text: Buffer.isBuffer(v) ? v.toString('latin1') : String(v) });
    }
    expect(haystacks.some((x) => x.where.startsWith('tasks.'))).toBe(true);
    expect(logLines.length).toBeGreaterThan(5);
    logLines.forEach((line, i) => haystacks.push({ where: `log line ${i}`, text: line }));
    if (h.redis) {
      const keys = await h.redis.keys();
      expect(keys.length).toBeGreaterThan(0);
      const r = new Redis(h.redis.url);
      try {
        for (const key of keys) {
          const type = await r.type(key);
          const dump =
            type === 'string'
              ? [(await r.getBuffer(key)) ?? '']
              : type === 'hash'
                ? Object.entries(await r.hgetall(key)).flat()
                : type === 'list'
                  ? await r.lrange(key, 0, -1)
                  : type === 'set'
                    ? await r.smembers(key)
                    : type === 'zset'
                      ? ((await r.call('ZRANGE', key, '0', '-1')) as string[])
                      : type === 'stream'
                        ? JSON.stringify(await r.xrange(key, '-', '+'))
                        : [];
          haystacks.push({
            where: `redis ${key}`,
            text: key + (Array.isArray(dump) ? dump.map((d) => (Buffer.isBuffer(d) ? d.toString('latin1') : String(d))).join('\n') : dump),
          });
        }
      } finally {
        r.disconnect();
      }
    }
    const found = needles.flatMap((n) => haystacks.filter((hs) => hs.text.includes(n.value)).map((hs) => `${n.what} in ${hs.where}`));
    expect(found).toEqual([]);
  });
  // Dovecot answers a failed login after 2 s; the outcome does not depend on the store, so SQLite only; last, because Dovecot also delays the next logins from this IP.
  it.runIf(storeKind === 'sqlite')('an authentication failure ends FAILURE at once, without retry', async () => {
    const id = await h.addAccount(user, { host: dovecot.host, port: dovecot.port, username: imapUser, password: 'wrong-password' });
    const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId: id, dek: user.dek });
    const done = await waitForTask(h.ts.store, task.id, { timeoutMs: 20_000, pollMs: 25 });
    expect(done.state).toBe('FAILURE');
    expect(done.error_kind).toBe('permanent');
    expect(done.error).not.toContain('wrong-password');
    expect((await attemptsOf(h.ts.store, task.id)).map((a) => a.outcome)).toEqual(['failure']);
  });
});
