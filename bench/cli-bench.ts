// npm run bench:cli — scenario (c) as a person runs it: `mail-helper sync --direct` after 100 new
// messages, the whole process (start-up, the key's unlock, the sync, exit), against mbsync's whole run
// on the same new mail. bench:sync's (c) times the sync alone, inside a process that has loaded the code.
//
//   CLI_BUILDS    other builds' dist/ folders to run beside this checkout's, separated by "|" (each tree
//                 needs node_modules; e.g. a worktree of an earlier commit, built)
//   CLI_ROUNDS    rounds (default 8); every round writes 100 new messages that each tool then syncs
//   CLI_STORE     sqlite (default) or postgres (a new database on MH_TEST_PG_URL's server per build)
//   BENCH_MESSAGES  mailbox size (default 10000)
// Each build syncs into its own store (its own DATA_DIR, database, user and account), so every tool
// finds the same 100 new messages in a round; the order of the tools alternates between rounds.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { unlockKeySlot } from '../src/crypto/keys.js';
import { openStore } from '../src/store/db.js';
import { startDovecot } from '../test/fixtures/dovecot.js';
import { createPgDatabase } from '../test/fixtures/stores.js';
import { insertMailAccount } from '../test/fixtures/sync-account.js';
import { benchDir, median, NODE_ENV, NODE_FLAGS, settle } from './harness.js';
import { MailboxWriter } from './mailbox.js';
import { mbsync, mbsyncConfig } from './mbsync.js';

const ROUNDS = Number(process.env.CLI_ROUNDS ?? 8);
const KIND = process.env.CLI_STORE ?? 'sqlite';
if (!['sqlite', 'postgres'].includes(KIND) || !(ROUNDS > 0)) {
  process.stderr.write('CLI_STORE must be sqlite or postgres, CLI_ROUNDS a positive number\n');
  process.exit(2);
}
/** The PostgreSQL databases made for the builds, dropped at the end. */
const databases: { drop(): Promise<void> }[] = [];
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000);
const builds = [
  resolve(benchDir, '../dist'),
  ...(process.env.CLI_BUILDS ?? '')
    .split('|')
    .filter(Boolean)
    .map((p) => resolve(p)),
];
const USER = 'bench';
const PW = 'bench-pw';
const LOGIN_PW = 'bench-login-pw';
// The argon2id cost of the default configuration (config.ts), given explicitly so that this script's
// own unlock (to add the account) uses the same.
const ARGON2 = { memoryCost: 65_536, timeCost: 2 };

const d = await startDovecot();
d.addUser(USER, PW);
const work = mkdtempSync(join(tmpdir(), 'mh-cli-'));
const writer = new MailboxWriter(d, USER);
writer.write(MESSAGES);

interface Tool {
  label: string;
  run(): { ms: number; ok: boolean; out: string };
}

/** One of the builds: its own data directory, user and account, synced once (unmeasured). */
async function cliTool(dist: string, i: number): Promise<Tool> {
  const dataDir = join(work, `data-${i}`);
  mkdirSync(dataDir);
  const pgDb = KIND === 'postgres' ? await createPgDatabase() : null;
  if (pgDb) databases.push(pgDb);
  const env = {
    ...process.env,
    ...NODE_ENV,
    DATA_DIR: dataDir,
    DATABASE_URL: pgDb?.url ?? '',
    QUEUE: 'local',
    LOG_LEVEL: 'warn',
    ARGON2_MEMORY_KIB: String(ARGON2.memoryCost),
    ARGON2_ITERATIONS: String(ARGON2.timeCost),
    MAIL_HELPER_PASSWORD: LOGIN_PW,
  };
  const cli = (args: string[]) => {
    const t0 = performance.now();
    const r = spawnSync('node', [...NODE_FLAGS, join(dist, 'cli/main.js'), ...args], { env, encoding: 'utf8' });
    return { ms: performance.now() - t0, ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
  };
  const added = cli(['user', 'add', 'alice']);
  if (!added.ok) throw new Error(`user add failed: ${added.out}`);
  const store = openStore({
    store: pgDb ? { kind: 'postgres', url: pgDb.url } : { kind: 'sqlite', path: join(dataDir, 'mail-helper.db') },
  } as never);
  const u = await store.db.selectFrom('users').selectAll().where('username', '=', 'alice').executeTakeFirstOrThrow();
  const dek = await unlockKeySlot(LOGIN_PW, u.kek_salt, u.wrapped_dek, ARGON2);
  await insertMailAccount(store, { userId: u.id, dek, server: d, credentials: { username: USER, password: PW }, name: 'bench' });
  await store.close();
  const sync = () => cli(['sync', '--user', 'alice', '--account', 'bench', '--direct', '--json']);
  const first = sync();
  if (!first.ok) throw new Error(`initial sync failed: ${first.out}`);
  return { label: i === 0 ? 'mail-helper (this checkout)' : `mail-helper (${dist})`, run: sync };
}

try {
  const tools: Tool[] = [];
  for (const [i, dist] of builds.entries()) tools.push(await cliTool(dist, i));
  const conf = mbsyncConfig(join(work, 'mbsync'), { host: d.host, port: d.port, user: USER, pw: PW });
  mbsync(conf);
  tools.unshift({
    label: 'mbsync',
    run: () => {
      const s = mbsync(conf);
      return { ms: s.ms, ok: true, out: '' };
    },
  });
  const times = new Map<string, number[]>(tools.map((t) => [t.label, []]));
  for (let i = 0; i < ROUNDS; i++) {
    writer.write(100);
    process.stderr.write(`round ${i + 1}/${ROUNDS}:`);
    for (const t of i % 2 ? [...tools].reverse() : tools) {
      settle();
      const r = t.run();
      if (!r.ok) throw new Error(`${t.label} failed: ${r.out}`);
      if (t.label !== 'mbsync' && !/"fetched":\s*100\b/.test(r.out))
        throw new Error(`${t.label} did not fetch the 100 new messages: ${r.out}`);
      times.get(t.label)!.push(r.ms);
      process.stderr.write(` ${t.label} ${r.ms.toFixed(0)} ms;`);
    }
    process.stderr.write('\n');
  }
  const base = median(times.get('mbsync')!);
  process.stdout.write(
    `\n(c) as run from the command line, ${KIND}, ${MESSAGES} messages, 100 new a round, ${ROUNDS} rounds (median ms)\n`,
  );
  const first = times.get(tools[1].label)!;
  for (const [label, xs] of times) {
    // Other builds against this checkout's, round by round: the machine drifts between minutes.
    const diffs = xs.map((x, i) => x - first[i]);
    const paired =
      label === 'mbsync' || xs === first
        ? ''
        : `  (this checkout faster in ${diffs.filter((x) => x > 0).length}/${xs.length} rounds, by ${median(diffs).toFixed(0)} ms in the median round)`;
    process.stdout.write(
      `${label.padEnd(40)} ${median(xs).toFixed(0).padStart(6)} ms  ${(median(xs) / base).toFixed(2)}× mbsync${paired}\n`,
    );
  }
} finally {
  for (const db of databases) await db.drop();
  await d.stop();
  rmSync(work, { recursive: true, force: true });
}
