// What the sync benchmarks share: a measured run of bench/sync-run.mjs in a fresh process, the store
// setup before it, and the page-cache settling every measured run starts with.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PG_ADMIN_URL } from '../test/fixtures/stores.js';

export const benchDir = dirname(fileURLToPath(import.meta.url));

/**
 * Node's flags and environment as deployed, read from the mail-helper command's first line
 * (`#!/usr/bin/env -S NAME=value node --flags`; npm start, deploy/systemd and deploy/Dockerfile pass the
 * same, the deploy-files test holds them equal).
 */
const SHEBANG = readFileSync(join(benchDir, '../src/cli/main.ts'), 'utf8')
  .split('\n')[0]
  .replace(/^#!\S*env -S /, '')
  .split(' ');
export const NODE_FLAGS = SHEBANG.slice(SHEBANG.indexOf('node') + 1);
export const NODE_ENV: Record<string, string> = Object.fromEntries(
  SHEBANG.slice(0, SHEBANG.indexOf('node')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

type RunExtra = { flags?: string[]; env?: Record<string, string> };
/** sync-run.mjs under the deployed flags and environment, plus a variant's own. */
const runArgv = (args: Record<string, unknown>, extra: RunExtra) => [
  ...NODE_FLAGS,
  ...(extra.flags ?? []),
  join(benchDir, 'sync-run.mjs'),
  JSON.stringify(args),
];
const runEnv = (extra: RunExtra) => ({ ...process.env, ...NODE_ENV, ...extra.env });

export interface Sample {
  ms: number;
  rssMb: number;
  engineMs?: number;
  /** Core-ms of the run's own process (all its threads), of its main thread during the measured sync, and of the whole machine during the run. */
  cpuMs?: number;
  mainCpuMs?: number;
  machineCpuMs?: number;
  /** Core-ms the hypervisor gave to other guests during the run (/proc/stat's steal): a run with much of it ran on a slower machine. */
  stealMs?: number;
  /** A Mail Helper run's progress: [ms since the sync began, phase and folder] at each change. */
  timeline?: [number, string][];
}

/**
 * Writes the page cache back before a measured run, so that no run pays for an earlier one's dirty
 * pages (mbsync's maildir and our stores each leave ~300 MB behind after (a)). PostgreSQL's own are
 * written first: the dirty shared buffers an (a) run leaves, and the checkpoint that its hundreds of
 * MB of WAL bring closer, landed in later runs of any tool (in one bench:sync, the five rounds' (a)
 * on SQLite rose from 1.7 to 2.4 s while the floor's stayed at ~1.0 s).
 */
export function settle(): void {
  // Without PostgreSQL (or psql) there is nothing of it to write.
  spawnSync('psql', [PG_ADMIN_URL, '-qXc', 'checkpoint'], { stdio: 'ignore', timeout: 60_000 });
  execFileSync('sync');
}

/** One run of sync-run.mjs (its JSON line) in a fresh plain-Node process, with extra Node flags and environment. */
export function syncRun(args: Record<string, unknown>, extra: RunExtra = {}): Sample & Record<string, number | Sample['timeline']> {
  settle();
  const machine0 = machineCpu();
  const r = spawnSync(process.execPath, runArgv(args, extra), { encoding: 'utf8', maxBuffer: 1 << 20, env: runEnv(extra) });
  if (r.status !== 0) throw new Error(`bench run failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Sample & Record<string, number | Sample['timeline']>;
  return { ...out, ...machineCpuSince(machine0) };
}

/**
 * Measured runs in a process that syncs once first (sync-run.mjs, mode mailhelper-warm: a running
 * worker): `ready` gives a no-change sync's sample after that sync, `go()` the sample of the sync it
 * then runs. With the deployed Node flags, and a variant's own as in syncRun.
 */
export function warmChild(args: Record<string, unknown>, extra: RunExtra = {}): { ready: Promise<Sample>; go(): Promise<Sample> } {
  const p = spawn(process.execPath, runArgv(args, extra), { stdio: ['pipe', 'pipe', 'inherit'], env: runEnv(extra) });
  let out = '';
  let onLine: (line: string) => void = () => {};
  p.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
      onLine(out.slice(0, nl));
      out = out.slice(nl + 1);
    }
  });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      onLine = resolve;
      p.once('close', (code) => reject(new Error(`warm bench run exited with ${code}`)));
    });
  const ready = next().then((line) => JSON.parse(line) as Sample);
  return {
    ready,
    go: async () => {
      settle();
      const line = next();
      p.stdin.write('go\n');
      return JSON.parse(await line) as Sample;
    },
  };
}

/**
 * CPU time the whole machine has spent busy (all cores, every process) and the part of it the hypervisor
 * stole, in core-ms since boot, from one read of /proc/stat.
 */
export function machineCpu(): { busyMs: number; stealMs: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const ms = (ticks: number) => (ticks * 1000) / 100; // USER_HZ
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait
  return { busyMs: ms(f[0] + f[1] + f[2] + f[5] + f[6] + f[7]), stealMs: ms(f[7]) };
}

/** A Sample's machine figures for the time since `before` (a machineCpu() reading). */
export function machineCpuSince(before: { busyMs: number; stealMs: number }): Pick<Sample, 'machineCpuMs' | 'stealMs'> {
  const now = machineCpu();
  return { machineCpuMs: now.busyMs - before.busyMs, stealMs: now.stealMs - before.stealMs };
}

/** Migrates a store and creates the bench account in it (sync-child.ts); not measured. */
export function setupStore(args: Record<string, unknown>): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(benchDir, 'sync-child.ts'), JSON.stringify(args)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench setup failed: ${r.stderr}`);
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
