// npm run bench:ab — variants of Mail Helper's sync against each other and the same run's baseline,
// for effects smaller than the noise of separate runs (±15 % here): rounds alternate the variants'
// order, and every round measures the baseline too.
//
//   AB_VARIANTS  variants separated by "|"; each is Node flags (--x), environment settings (K=V) and
//                dist=/path/to/other/dist (another build; its tree needs node_modules and the same
//                schema). Default: the deployed flags alone. Example: "X=1|--always-sparkplug".
//                MH_BENCH_POOL=1 starts the parse threads before a fresh run's sync and waits until they
//                run, as `mail-helper sync --direct` starts them while it unlocks the key.
//   AB_SCENARIO  c (default): a sync after 100 new messages in a fresh process, mbsync as the
//                baseline; b: the same with nothing new; c-warm: (c) in a process that has synced before
//                (a running worker); c-idle: c-warm with the worker idle for AB_IDLE_MS (default 12000) before
//                the mail comes, as between scheduled syncs (pg's pool closes idle connections after 10 s);
//                a: an initial sync into a new store, the raw ImapFlow fetch as the baseline.
//   AB_STORE     sqlite (default) or postgres;  AB_ROUNDS (default 10);  BENCH_MESSAGES (default 10000).
//   AB_TIMELINE  1: after each Mail Helper run, the ms at which it reached each phase and folder.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDovecot } from '../test/fixtures/dovecot.js';
import { createPgDatabase } from '../test/fixtures/stores.js';
import { MailboxWriter } from './mailbox.js';
import { benchDir, median, setupStore, syncRun, warmChild, type Sample } from './harness.js';
import { mbsync, mbsyncConfig } from './mbsync.js';

const SCENARIO = process.env.AB_SCENARIO ?? 'c';
const KIND = process.env.AB_STORE ?? 'sqlite';
const ROUNDS = Number(process.env.AB_ROUNDS ?? 10);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000);
const IDLE_MS = Number(process.env.AB_IDLE_MS ?? 12_000);
if (!['a', 'b', 'c', 'c-warm', 'c-idle'].includes(SCENARIO) || !['sqlite', 'postgres'].includes(KIND) || !(ROUNDS > 0) || !(IDLE_MS >= 0)) {
  process.stderr.write(
    'AB_SCENARIO must be a, b, c, c-warm or c-idle, AB_STORE sqlite or postgres, AB_ROUNDS a positive number, AB_IDLE_MS a number of ms\n',
  );
  process.exit(2);
}

interface Variant {
  label: string;
  flags: string[];
  env: Record<string, string>;
}
const variants: Variant[] = (process.env.AB_VARIANTS ?? '').split('|').map((label) => {
  const words = label.split(' ').filter(Boolean);
  const env: Record<string, string> = {};
  for (const w of words.filter((x) => !x.startsWith('--'))) {
    const eq = w.indexOf('=');
    if (eq < 1) throw new Error(`AB_VARIANTS: "${w}" is neither a --flag nor K=V`);
    const [k, v] = [w.slice(0, eq), w.slice(eq + 1)];
    env[k === 'dist' ? 'MH_BENCH_DIST' : k] = v;
  }
  return { label: label || '(as deployed)', flags: words.filter((x) => x.startsWith('--')), env };
});

const USER = 'bench';
const PW = 'bench-pw';
const d = await startDovecot();
d.addUser(USER, PW);
const target = { host: d.host, port: d.port, user: USER, pw: PW };
const work = mkdtempSync(join(tmpdir(), 'mh-ab-'));
const writer = new MailboxWriter(d, USER);
writer.write(MESSAGES);

/** A measured run (its JSON line), as deployed or as variant `v`. */
const measure = (args: Record<string, unknown>, v?: Variant) => syncRun({ ...target, ...args }, { flags: v?.flags, env: v?.env });
const floor = () => measure({ mode: 'floor' });

/** Drops the store of the run before. */
let dropPrevious: () => Promise<void> = async () => {};
let n = 0;
/** A new, migrated store with the bench account; the previous one is dropped. */
async function freshStore(): Promise<Record<string, unknown>> {
  await dropPrevious();
  let store;
  if (KIND === 'sqlite') {
    const path = join(work, `mh-${n}.db`);
    dropPrevious = async () => {
      for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-blobs`]) rmSync(f, { force: true, recursive: true });
    };
    store = { kind: 'sqlite', path };
  } else {
    const db = await createPgDatabase();
    dropPrevious = () => db.drop();
    store = { kind: 'postgres', url: db.url };
  }
  const s = { store, stateFile: join(work, `state-${n++}.json`) };
  setupStore({ ...target, ...s });
  return s;
}

const times = new Map<string, number[]>();
/** Core-milliseconds per run: the run's own process, its main thread, and the whole machine (Dovecot included). */
const cpu = new Map<string, { own: number[]; main: number[]; machine: number[] }>();
const add = (label: string, r: Sample) => {
  times.set(label, [...(times.get(label) ?? []), r.ms]);
  const c = cpu.get(label) ?? { own: [], main: [], machine: [] };
  c.own.push(r.cpuMs ?? NaN);
  c.main.push(r.mainCpuMs ?? NaN);
  c.machine.push(r.machineCpuMs ?? NaN);
  cpu.set(label, c);
  process.stderr.write(
    `  ${label}: ${r.ms.toFixed(0)} ms (cpu: process ${r.cpuMs?.toFixed(0)}, main thread ${r.mainCpuMs?.toFixed(0)}, machine ${r.machineCpuMs?.toFixed(0)}${r.stealMs ? `, stolen ${r.stealMs.toFixed(0)}` : ''}; peak RSS ${r.rssMb?.toFixed(0)} MB)\n`,
  );
  if (process.env.AB_TIMELINE === '1' && r.timeline)
    process.stderr.write(`    ${r.timeline.map(([ms, what]) => `${ms} ${what}`).join(' | ')}\n`);
};
const baseline = SCENARIO === 'a' ? 'floor' : 'mbsync';
try {
  floor(); // Dovecot indexes the mailbox once, for nobody's account
  let store: Record<string, unknown> = {};
  let conf = '';
  if (SCENARIO !== 'a') {
    store = await freshStore();
    measure({ mode: 'mailhelper', ...store });
    conf = mbsyncConfig(join(work, 'mbsync'), target);
    mbsync(conf);
  }
  // 100 new messages, indexed by a reading pass before any measured tool syncs them (see sync-bench.ts).
  const newMail = () => {
    writer.write(100);
    floor();
  };
  for (let i = 0; i < ROUNDS; i++) {
    process.stderr.write(`round ${i + 1}/${ROUNDS}\n`);
    if (SCENARIO === 'a') add('floor', floor());
    else if (SCENARIO === 'b') add('mbsync', mbsync(conf));
    else {
      newMail();
      add('mbsync', mbsync(conf));
      measure({ mode: 'mailhelper', ...store }); // the store catches up, unmeasured
    }
    for (const v of i % 2 ? [...variants].reverse() : variants) {
      if (SCENARIO === 'a') store = await freshStore();
      else if (SCENARIO !== 'b') newMail();
      if (SCENARIO === 'c-warm' || SCENARIO === 'c-idle') {
        // Its first sync fetches that mail, then a no-change sync; the measured one follows new mail.
        const run = warmChild({ ...target, mode: 'mailhelper-warm', ...store }, { flags: v.flags, env: v.env });
        await run.ready;
        if (SCENARIO === 'c-idle') await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
        newMail();
        add(v.label, await run.go());
      } else add(v.label, measure({ mode: 'mailhelper', ...store }, v));
    }
    if (SCENARIO.startsWith('c')) mbsync(conf); // mbsync catches up, unmeasured
  }
  const base = median(times.get(baseline)!);
  const cpuOf = (label: string) => {
    const c = cpu.get(label)!;
    return `${median(c.own).toFixed(0).padStart(7)}, ${median(c.main).toFixed(0).padStart(7)}, ${median(c.machine).toFixed(0).padStart(7)}`.padEnd(
      51,
    );
  };
  const lines = [
    `scenario ${SCENARIO}, ${KIND}, ${MESSAGES} messages, ${ROUNDS} rounds; baseline ${baseline}`,
    '',
    'variant                        | median ms | mean ms | × baseline | cpu: process, main thread, machine (median core-ms) | runs',
  ];
  // Paired within rounds (the same minute of a machine whose speed drifts): each variant against the first.
  const first = times.get(variants[0].label)!;
  const paired = (label: string) => {
    const xs = times.get(label)!;
    if (label === variants[0].label || label === baseline || xs.length !== first.length) return '';
    const diffs = xs.map((x, i) => x - first[i]);
    return `  (vs first variant: faster in ${diffs.filter((x) => x < 0).length}/${xs.length} rounds, median difference ${median(diffs).toFixed(1)} ms)`;
  };
  for (const [label, xs] of times) {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    lines.push(
      `${label.padEnd(30)} | ${median(xs).toFixed(0).padStart(9)} | ${mean.toFixed(0).padStart(7)} | ${(median(xs) / base).toFixed(2).padStart(10)} | ${cpuOf(label)} | ${xs.map((x) => x.toFixed(0)).join(' ')}${paired(label)}`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  const file = join(benchDir, 'results', `ab-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        scenario: SCENARIO,
        store: KIND,
        messages: MESSAGES,
        rounds: ROUNDS,
        baseline,
        runs: Object.fromEntries(times),
        cpu: Object.fromEntries(cpu),
      },
      null,
      2,
    ),
  );
  process.stdout.write(`\nwritten ${file}\n`);
} finally {
  await dropPrevious().catch(() => {});
  await d.stop();
  rmSync(work, { recursive: true, force: true });
}
