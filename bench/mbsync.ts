// mbsync as the benchmarks' baseline: a config for a throwaway Maildir, and a measured run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineCpu, machineCpuSince, settle, type Sample } from './harness.js';

export interface ImapTarget {
  host: string;
  port: number;
  user: string;
  pw: string;
}

/** Writes an mbsyncrc that pulls every folder of `t` into `dir`/mail (no TLS, so no COMPRESS either). */
export function mbsyncConfig(dir: string, t: ImapTarget): string {
  const conf = join(dir, 'mbsyncrc');
  mkdirSync(join(dir, 'mail'), { recursive: true });
  writeFileSync(
    conf,
    `IMAPAccount bench
Host ${t.host}
Port ${t.port}
User ${t.user}
Pass ${t.pw}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path ${join(dir, 'mail')}/
Inbox ${join(dir, 'mail', 'INBOX')}
SubFolders Verbatim

Channel bench
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
SyncState *
`,
  );
  return conf;
}

/** When the last mbsync run ended (performance.now()). */
let mbsyncEnded = Number.NEGATIVE_INFINITY;

export function mbsync(conf: string): Sample {
  // mbsync sleeps ~1 s when it runs again within a second of storing mail into the Maildir (its guard
  // against mtime granularity): b-warm measured 1,040 ms instead of ~40. Back-to-back runs are the
  // bench's doing, not a user's, so the wait happens outside the measurement.
  const gap = performance.now() - mbsyncEnded;
  if (gap < 1100) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1100 - gap);
  settle();
  const machine0 = machineCpu();
  const start = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', 'mbsync', '-c', conf, '-a', '-q'], { encoding: 'utf8' });
  const ms = performance.now() - start;
  mbsyncEnded = performance.now();
  if (r.status !== 0) throw new Error(`mbsync failed: ${r.stderr}`);
  const [kb, user, sys] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  // mbsync runs in one thread: its process's CPU time is its main thread's.
  const cpuMs = (user + sys) * 1000;
  return { ms, rssMb: kb / 1024, cpuMs, mainCpuMs: cpuMs, ...machineCpuSince(machine0) };
}
