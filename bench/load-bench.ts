// npm run bench:load — the seed's load test on real syncs: 10 accounts × 1,000 messages synced by 10
// parallel sync_user_emails tasks, with local-queue worker concurrency 1, 2 and 4 and with 2 BullMQ
// worker processes; against the same 10,000 messages synced as one account in the same run (baseline).
// Reports total time, task duration p50/p95, enqueue-to-start latency p50/p95 and success rate.
// BENCH_ACCOUNTS (10) and BENCH_MESSAGES_PER (1000) scale it; BENCH_BULLMQ=0 skips the Redis scenario,
// BENCH_PG=0 runs it on SQLite instead of PostgreSQL.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../src/config/config.js';
import { createKeySlot } from '../src/crypto/keys.js';
import { createLogger } from '../src/observability/logger.js';
import { waitForTask } from '../src/queue/task-watch.js';
import { openStore, type Store } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { syncAccount } from '../src/sync/engine.js';
import { enqueueAccountSync } from '../src/tasks/sync-service.js';
import { createTaskSystem } from '../src/tasks/task-system.js';
import { startDovecot, type Dovecot } from '../test/fixtures/dovecot.js';
import { createTestRedis } from '../test/fixtures/redis.js';
import { createPgDatabase } from '../test/fixtures/stores.js';
import { insertMailAccount } from '../test/fixtures/sync-account.js';
import { MailboxWriter } from './mailbox.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 10);
const PER = Number(process.env.BENCH_MESSAGES_PER ?? 1000);
const WITH_BULLMQ = process.env.BENCH_BULLMQ !== '0';
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

interface Result {
  name: string;
  totalMs: number;
  durations: number[];
  latencies: number[];
  ok: number;
  count: number;
  messages: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : 0;
};

async function setup(env: Record<string, string>, servers: { user: string; pw: string }[], d: Dovecot) {
  const config: Config = loadConfig({ env, envFile: false });
  const store: Store = openStore(config);
  await migrate(store.db, store.dialect);
  const argon = { memoryCost: 1024, timeCost: 1 };
  const { dek, slot } = await createKeySlot('bench-password', argon);
  const now = Date.now();
  const u = await store.db
    .insertInto('users')
    .values({
      username: 'bench',
      password_hash: '-',
      is_admin: 1,
      kek_salt: slot.kekSalt,
      wrapped_dek: slot.wrappedDek,
      key_id: slot.keyId,
      failed_logins: 0,
      locked_until: null,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const ids: number[] = [];
  for (const s of servers) {
    const credentials = { username: s.user, password: s.pw };
    ids.push(await insertMailAccount(store, { userId: Number(u.id), dek, server: d, credentials, name: s.user, maxEmails: 100_000 }));
  }
  return { config, store, userId: Number(u.id), dek, accountIds: ids };
}

async function scenario(
  name: string,
  d: Dovecot,
  servers: { user: string; pw: string }[],
  opts: { queue: 'local' | 'bullmq'; concurrency: number; processes?: number },
): Promise<Result> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mh-bench-'));
  const redis = opts.queue === 'bullmq' ? await createTestRedis() : undefined;
  // The distributed mode runs on PostgreSQL: several processes writing one SQLite file would measure lock waits.
  const pgdb = opts.queue === 'bullmq' && process.env.BENCH_PG !== '0' ? await createPgDatabase() : undefined;
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    QUEUE: opts.queue,
    WORKER_CONCURRENCY: String(opts.concurrency),
    SERVER_SECRET: randomBytes(32).toString('hex'),
    ...(redis ? { REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix } : {}),
    ...(pgdb ? { DATABASE_URL: pgdb.url } : {}),
  };
  const { config, store, userId, dek, accountIds } = await setup(env, servers, d);
  const system = createTaskSystem({ config, store, logger: createLogger(config), syncAccount });
  const children: ChildProcess[] = [];
  if (opts.processes) {
    for (let i = 0; i < opts.processes; i++)
      children.push(
        spawn(process.execPath, [CLI, 'worker', '--concurrency', String(opts.concurrency)], {
          env: { PATH: process.env.PATH ?? '', ...env },
          stdio: 'ignore',
        }),
      );
    const end = Date.now() + 20_000;
    while ((await store.db.selectFrom('workers').select('id').execute()).length < opts.processes) {
      if (Date.now() > end) throw new Error('bench workers did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  } else await system.startWorker({ pollMs: 100 });
  const started = Date.now();
  const tasks = await Promise.all(accountIds.map((accountId) => enqueueAccountSync(system.queue, system.deps, { userId, accountId, dek })));
  const done = await Promise.all(tasks.map((t) => waitForTask(store, t.task.id, { pollMs: 100, timeoutMs: 30 * 60_000 })));
  const totalMs = Math.max(...done.map((t) => t.finished_at ?? 0)) - started;
  const result: Result = {
    name,
    totalMs,
    durations: done.map((t) => (t.finished_at ?? 0) - (t.started_at ?? 0)),
    latencies: done.map((t) => (t.started_at ?? 0) - t.created_at),
    ok: done.filter((t) => t.state === 'SUCCESS').length,
    count: done.length,
    messages: done.reduce((n, t) => n + ((t.result ? (JSON.parse(t.result) as { email_count?: number }).email_count : 0) ?? 0), 0),
  };
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))));
  await system.close();
  await store.close();
  await redis?.cleanup();
  await pgdb?.drop();
  rmSync(dataDir, { recursive: true, force: true });
  const p = (xs: number[], q: number) => `${(pct(xs, q) / 1000).toFixed(2)} s`;
  process.stderr.write(
    `  ${name}: total ${(totalMs / 1000).toFixed(2)} s, task p50 ${p(result.durations, 50)} p95 ${p(result.durations, 95)}, start latency p50 ${p(result.latencies, 50)} p95 ${p(result.latencies, 95)}, success ${result.ok}/${result.count}, ${result.messages} messages\n`,
  );
  return result;
}

const d = await startDovecot();
try {
  process.stderr.write(`Writing ${ACCOUNTS} mailboxes × ${PER} messages and one of ${ACCOUNTS * PER}…\n`);
  const servers = Array.from({ length: ACCOUNTS }, (_, i) => ({ user: `load${i}`, pw: `pw-${i}` }));
  servers.forEach((s, i) => {
    d.addUser(s.user, s.pw);
    new MailboxWriter(d, s.user, 100 + i).write(PER);
  });
  d.addUser('loadall', 'pw-all');
  new MailboxWriter(d, 'loadall', 7).write(ACCOUNTS * PER);

  const results: Result[] = [];
  results.push(
    await scenario(`baseline: 1 account × ${ACCOUNTS * PER}`, d, [{ user: 'loadall', pw: 'pw-all' }], { queue: 'local', concurrency: 1 }),
  );
  for (const c of [1, 2, 4])
    results.push(await scenario(`${ACCOUNTS} accounts, local queue, concurrency ${c}`, d, servers, { queue: 'local', concurrency: c }));
  if (WITH_BULLMQ)
    results.push(
      await scenario(`${ACCOUNTS} accounts, BullMQ + PostgreSQL, 2 worker processes × concurrency 2`, d, servers, {
        queue: 'bullmq',
        concurrency: 2,
        processes: 2,
      }),
    );

  const base = results[0].totalMs;
  const rows = results.map((r) => [
    r.name,
    `${(r.totalMs / 1000).toFixed(2)} s`,
    `${(r.totalMs / base).toFixed(2)}×`,
    `${(pct(r.durations, 50) / 1000).toFixed(2)} / ${(pct(r.durations, 95) / 1000).toFixed(2)} s`,
    `${(pct(r.latencies, 50) / 1000).toFixed(2)} / ${(pct(r.latencies, 95) / 1000).toFixed(2)} s`,
    `${((100 * r.ok) / r.count).toFixed(0)} %`,
  ]);
  process.stdout.write(
    [
      '| scenario | total | vs baseline | task p50 / p95 | enqueue→start p50 / p95 | success |',
      '|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n') + '\n',
  );
  const best = Math.min(...results.slice(1).map((r) => r.totalMs));
  process.stdout.write(
    `Target: 10 parallel syncs within 1.5× the one-account time — best ${(best / base).toFixed(2)}× ${best <= 1.5 * base ? '(met)' : '(NOT met)'}\n`,
  );
  if (results.some((r) => r.ok !== r.count)) process.exitCode = 1;
} finally {
  await d.stop();
}
