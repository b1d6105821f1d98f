// npm run bench:sync — initial sync (a), no-change resync (b) and resync after 100 new messages (c)
// of a deterministic mailbox in a throwaway Dovecot: Mail Helper on SQLite and PostgreSQL, mbsync
// (the baseline, measured in the same run) and a raw ImapFlow fetch of every body (the floor).
// Median of BENCH_RUNS (default 3) runs each; BENCH_MESSAGES (default 10000) scales the mailbox.
// Each Mail Helper / floor run is a fresh plain-Node process on dist/ (npm run build first), so its
// peak RSS is its own and carries no TypeScript loader.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDovecot } from '../test/fixtures/dovecot.js';
import { createPgDatabase } from '../test/fixtures/stores.js';
import { MailboxWriter } from './mailbox.js';
import { benchDir as here, median, setupStore, syncRun, warmChild, type Sample } from './harness.js';
import { mbsync, mbsyncConfig as mbsyncConfigFor } from './mbsync.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WITH_PG = process.env.BENCH_PG !== '0';
const USER = 'bench';
const PW = 'bench-pw';
const SMALL_USER = 'bench-small';

type Tool = 'floor' | 'mbsync' | 'mh-sqlite' | 'mh-postgres';
// b-small: the no-change resync of a mailbox a quarter the size, to show (b) does not grow with it.
// b-warm, c-warm: (b) and (c) inside a process that has synced before, as in a running worker (mbsync:
// a fresh run, as always).
type Scenario = 'a' | 'b' | 'c' | 'b-warm' | 'c-warm' | 'b-small';
const samples = new Map<string, Sample[]>();
const add = (tool: Tool, sc: Scenario, s: Sample) => {
  const k = `${tool}/${sc}`;
  samples.set(k, [...(samples.get(k) ?? []), s]);
  process.stderr.write(
    `  ${k}: ${s.ms.toFixed(0)} ms${s.engineMs !== undefined ? ` (engine ${s.engineMs} ms)` : ''}, RSS ${s.rssMb.toFixed(0)} MB${s.cpuMs !== undefined ? `, cpu ${s.cpuMs.toFixed(0)} ms (main thread ${s.mainCpuMs?.toFixed(0) ?? '-'}, machine ${s.machineCpuMs?.toFixed(0)}${s.stealMs ? `, stolen ${s.stealMs.toFixed(0)}` : ''})` : ''}\n`,
  );
};

const d = await startDovecot();
d.addUser(USER, PW);
// Dovecot re-reads its passwd file only when its mtime (1 s resolution) changes: add both users now.
d.addUser(SMALL_USER, PW);
const work = mkdtempSync(join(tmpdir(), 'mh-bench-'));
const writer = new MailboxWriter(d, USER);
const t0 = Date.now();
const bytes = writer.write(MESSAGES);
const small = Math.round(MESSAGES / 4);
new MailboxWriter(d, SMALL_USER, 7).write(small);
process.stderr.write(`mailbox: ${MESSAGES} messages, ${(bytes / 1e6).toFixed(1)} MB written in ${Date.now() - t0} ms\n`);

const target = { host: d.host, port: d.port, user: USER, pw: PW };
const child = (args: Record<string, unknown>) => syncRun({ ...target, ...args });

const setup = (args: Record<string, unknown>) => setupStore({ ...target, ...args });

const mbsyncConfig = (dir: string, user = USER) => mbsyncConfigFor(dir, { ...target, user });

const pgDbs: { drop(): Promise<void> }[] = [];
const dropStore = new Map<string, () => Promise<void>>();
/** A new store for run i of `kind`; the one of the run before is dropped (only the last is synced again). */
async function freshStore(kind: 'sqlite' | 'postgres', i: number) {
  await dropStore.get(kind)?.();
  const stateFile = join(work, `${kind}-${i}.json`);
  if (kind === 'sqlite') {
    const path = join(work, `mh-${i}.db`);
    dropStore.set(kind, async () => {
      for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-blobs`]) rmSync(f, { force: true, recursive: true });
    });
    return { store: { kind, path }, stateFile };
  }
  const db = await createPgDatabase();
  pgDbs.push(db);
  dropStore.set(kind, () => db.drop());
  return { store: { kind, url: db.url }, stateFile };
}

/**
 * Adds 100 messages and has Dovecot index them before any measured tool syncs. The files are written
 * straight into the Maildir, so whichever client came first would pay the indexing that a real server
 * does on delivery (~50 ms here): mbsync, measured first, paid it and every later tool did not. A
 * reading pass (the floor's) indexes them for all alike.
 */
function addNewMail(): void {
  writer.write(100);
  child({ mode: 'floor' });
}
try {
  // Warm-up: Dovecot builds its indexes and the page cache fills once, for nobody's account.
  child({ mode: 'floor' });
  const kinds: ('sqlite' | 'postgres')[] = WITH_PG ? ['sqlite', 'postgres'] : ['sqlite'];
  let last: Record<string, { store: unknown; stateFile: string }> = {};
  let mbConf = '';
  process.stderr.write('(a) initial sync\n');
  for (let i = 0; i < RUNS; i++) {
    add('floor', 'a', child({ mode: 'floor' }));
    // Earlier runs' maildirs stay until the end: ext4 skips inodes freed in the last minute (five while
    // their table is unwritten) and reads each one to see that, so deleting 10,000 files right before
    // mbsync created as many made it spend 3-14 s of CPU in the kernel's inode allocator (8-26 s runs).
    const dir = join(work, `mbsync-${i}`);
    mbConf = mbsyncConfig(dir);
    add('mbsync', 'a', mbsync(mbConf));
    for (const kind of kinds) {
      const s = await freshStore(kind, i);
      setup(s);
      last[kind] = s;
      add(`mh-${kind}`, 'a', child({ mode: 'mailhelper', ...s }));
    }
  }
  process.stderr.write('(b) no-change resync\n');
  for (let i = 0; i < RUNS; i++) {
    add('mbsync', 'b', mbsync(mbConf));
    for (const kind of kinds) add(`mh-${kind}`, 'b', child({ mode: 'mailhelper', ...last[kind] }));
  }
  process.stderr.write('(c) after 100 new messages\n');
  for (let i = 0; i < RUNS; i++) {
    addNewMail();
    add('mbsync', 'c', mbsync(mbConf));
    for (const kind of kinds) add(`mh-${kind}`, 'c', child({ mode: 'mailhelper', ...last[kind] }));
  }
  process.stderr.write('(b-warm, c-warm) no change, then 100 new messages, in a process that synced (and fetched) before\n');
  for (let i = 0; i < RUNS; i++) {
    // A running worker's earlier syncs fetched mail too: each child's first (unmeasured) sync stores
    // 100 new messages, so its fetch path has run before, as in a worker that has been up a while.
    addNewMail();
    mbsync(mbConf);
    add('mbsync', 'b-warm', mbsync(mbConf));
    const warm = [];
    // One at a time: each child's first syncs run alone, like every measured run.
    for (const kind of kinds) {
      const run = warmChild({ ...target, mode: 'mailhelper-warm', ...last[kind] });
      add(`mh-${kind}`, 'b-warm', await run.ready);
      warm.push({ kind, run });
    }
    addNewMail();
    add('mbsync', 'c-warm', mbsync(mbConf));
    for (const w of warm) add(`mh-${w.kind}`, 'c-warm', await w.run.go());
  }
  last = {};

  process.stderr.write(`(b-small) no-change resync of a ${small}-message mailbox\n`);
  const smallConf = mbsyncConfig(join(work, 'mbsync-small'), SMALL_USER);
  mbsync(smallConf);
  const smallStores: Record<string, { store: unknown; stateFile: string }> = {};
  for (const kind of kinds) {
    smallStores[kind] = await freshStore(kind, 100);
    setup({ ...smallStores[kind], user: SMALL_USER });
    child({ mode: 'mailhelper', ...smallStores[kind], user: SMALL_USER });
  }
  for (let i = 0; i < RUNS; i++) {
    add('mbsync', 'b-small', mbsync(smallConf));
    for (const kind of kinds) add(`mh-${kind}`, 'b-small', child({ mode: 'mailhelper', ...smallStores[kind], user: SMALL_USER }));
  }

  const row = (tool: Tool, sc: Scenario) => {
    const s = samples.get(`${tool}/${sc}`);
    if (!s) return undefined;
    // Figures not every tool reports (the engine's time, CPU) are undefined for those that do not.
    const medianOf = (k: 'engineMs' | 'cpuMs' | 'mainCpuMs' | 'machineCpuMs') =>
      s[0][k] !== undefined ? median(s.map((x) => x[k]!)) : undefined;
    return {
      medianMs: median(s.map((x) => x.ms)),
      engineMs: medianOf('engineMs'),
      peakRssMb: Math.max(...s.map((x) => x.rssMb)),
      cpuMs: medianOf('cpuMs'),
      mainCpuMs: medianOf('mainCpuMs'),
      machineCpuMs: medianOf('machineCpuMs'),
      runs: s.map((x) => Math.round(x.ms)),
    };
  };
  const tools: Tool[] = ['floor', 'mbsync', 'mh-sqlite', ...(WITH_PG ? (['mh-postgres'] as Tool[]) : [])];
  const results: Record<string, unknown> = {};
  const lines = [`mailbox: ${MESSAGES} messages, ${(bytes / 1e6).toFixed(1)} MB, 5 folders; median of ${RUNS} runs`, ''];
  // CPU: core-ms of the tool's whole process (all its threads; Node's start-up and module loading too;
  // not given for warm children, whose earlier syncs would count), of its main thread over the measured
  // sync alone (the event loop: ImapFlow, claims, SQL on the main connection), and of the whole machine
  // (the IMAP server too) over the run. On this 2-core machine (a) is bound by the machine's sum, not
  // by the main thread (busy for a third of it), which explains its wall-clock ratios.
  lines.push('scenario | tool        | median ms | engine ms | × mbsync | × floor | peak RSS MB | cpu ms | main cpu ms | machine cpu ms');
  lines.push('---------|-------------|-----------|-----------|----------|---------|-------------|--------|-------------|---------------');
  for (const sc of ['a', 'b', 'c', 'b-warm', 'c-warm', 'b-small'] as Scenario[]) {
    const base = row('mbsync', sc)?.medianMs;
    for (const tool of tools) {
      const r = row(tool, sc);
      if (!r) continue;
      results[`${sc}/${tool}`] = r;
      const vsMb = base ? (r.medianMs / base).toFixed(2) : '-';
      const vsFloor = sc === 'a' && row('floor', 'a') ? (r.medianMs / row('floor', 'a')!.medianMs).toFixed(2) : '-';
      lines.push(
        `${sc.padEnd(8)} | ${tool.padEnd(11)} | ${r.medianMs.toFixed(0).padStart(9)} | ${(r.engineMs !== undefined ? String(Math.round(r.engineMs)) : '-').padStart(9)} | ${vsMb.padStart(8)} | ${vsFloor.padStart(7)} | ${r.peakRssMb.toFixed(0).padStart(11)} | ${(r.cpuMs !== undefined ? r.cpuMs.toFixed(0) : '-').padStart(6)} | ${(r.mainCpuMs !== undefined ? r.mainCpuMs.toFixed(0) : '-').padStart(11)} | ${(r.machineCpuMs !== undefined ? r.machineCpuMs.toFixed(0) : '-').padStart(14)}`,
      );
    }
  }
  // The hypervisor's steal slows every tool alike only if it is spread evenly; say where it was.
  const stolen = [...samples]
    .filter(([, ss]) => ss.some((x) => x.stealMs))
    .map(([k, ss]) => `${k} ${ss.map((x) => x.stealMs ?? 0).join('/')}`);
  if (stolen.length > 0) lines.push('', `core-ms stolen by the hypervisor during measured runs: ${stolen.join(', ')}`);
  const table = lines.join('\n');
  process.stdout.write(table + '\n');
  mkdirSync(join(here, 'results'), { recursive: true });
  const file = join(here, 'results', `sync-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        messages: MESSAGES,
        bytes,
        runs: RUNS,
        mbsync: execFileSync('mbsync', ['--version'], { encoding: 'utf8' }).trim(),
        results,
        table,
      },
      null,
      2,
    ),
  );
  process.stdout.write(`\nwritten ${file}\n`);
} finally {
  for (const db of pgDbs) await db.drop().catch(() => {});
  await d.stop();
  rmSync(work, { recursive: true, force: true });
}
