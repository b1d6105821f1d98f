// One measured run in a fresh plain-Node process, on the compiled code in dist/ (so its peak RSS is
// what a deployed worker would use, without a TypeScript loader): Mail Helper's engine on a given
// store (mode mailhelper), the same in a process that has synced once before (mailhelper-warm: a
// running worker), or the raw ImapFlow floor (fetch every body, discard). Prints one JSON line.
// The account it syncs was created beforehand by sync-child.ts (mode "setup").
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImapFlow } from 'imapflow';
import { URL, pathToFileURL } from 'node:url';

// MH_BENCH_DIST: another build's dist/ (bench/sync-ab.ts compares two builds in one run).
const dist = process.env.MH_BENCH_DIST ? pathToFileURL(process.env.MH_BENCH_DIST + '/').href : new URL('../dist/', import.meta.url).href;
const { openStore } = await import(new URL('store/db.js', dist).href);
const { syncAccount } = await import(new URL('sync/engine.js', dist).href);
const { sharedParserPool } = await import(new URL('sync/parser-pool.js', dist).href);

async function floor(a) {
  const c = new ImapFlow({
    host: a.host,
    port: a.port,
    secure: false,
    auth: { user: a.user, pass: a.pw },
    logger: false,
    disableCompression: true,
  });
  const t0 = performance.now();
  const cpu0 = mainThreadCpuMs();
  await c.connect();
  let bytes = 0;
  let n = 0;
  for (const box of await c.list()) {
    if (box.flags.has('\\Noselect')) continue;
    const lock = await c.getMailboxLock(box.path, { readOnly: true });
    try {
      if (!c.mailbox || c.mailbox.exists === 0) continue;
      for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true, source: true })) {
        bytes += m.source?.length ?? 0;
        n++;
      }
    } finally {
      lock.release();
    }
  }
  await c.logout();
  return { ms: performance.now() - t0, mainCpuMs: mainThreadCpuMs() - cpu0, messages: n, bytes };
}

function openAccount(a) {
  const store = openStore({ store: a.store });
  const s = JSON.parse(readFileSync(a.stateFile, 'utf8'));
  // Where a run's time went, from the engine's own progress events (no proxy in between: a Node TCP
  // proxy adds stalls of its own to a body read): ms since the sync began at each phase or folder.
  const timeline = { t0: 0, entries: [] };
  const input = {
    store,
    account: s.account,
    credentials: { username: a.user, password: a.pw },
    dek: Buffer.from(s.dek, 'hex'),
    options: { timeoutMs: 30_000 },
    onProgress: (p) => {
      const label = p.folder ? `${p.phase} ${p.folder}` : p.phase;
      if (timeline.entries.at(-1)?.[1] !== label) timeline.entries.push([Math.round(performance.now() - timeline.t0), label]);
    },
  };
  return { store, sync: () => syncAccount(input), timeline };
}

async function measured({ sync, timeline }) {
  timeline.entries = [];
  const t0 = (timeline.t0 = performance.now());
  const cpu0 = mainThreadCpuMs();
  const stats = await sync();
  const ms = performance.now() - t0;
  return {
    ms,
    mainCpuMs: mainThreadCpuMs() - cpu0,
    engineMs: stats.durationsMs.total,
    fetched: stats.fetched,
    bytes: stats.bytesFetched,
    durations: stats.durationsMs,
    timeline: timeline.entries,
  };
}

async function mailHelper(a) {
  const account = openAccount(a);
  // As `mail-helper sync --direct` does while it unlocks the key: the parse thread is started, and running, before the sync.
  if (process.env.MH_BENCH_POOL === '1') {
    const pool = sharedParserPool();
    while (pool && !pool.running) await sleep(2);
  }
  const out = await measured(account);
  await account.store.close();
  return out;
}

// A running worker: one sync first (unmeasured, as a worker's earlier syncs; the bench has added mail for
// it to fetch), then a measured sync with
// nothing changed, printed as a JSON line; the bench then adds mail and writes a line to stdin, and the
// sync that follows is measured too.
async function mailHelperWarm(a) {
  const account = openAccount(a);
  await account.sync();
  process.stdout.write(JSON.stringify({ ...(await measured(account)), rssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  const out = await measured(account);
  await account.store.close();
  return out;
}

/**
 * CPU time this (the main) thread has used, from Linux's per-thread stat (10 ms ticks); measured runs
 * report its growth over the sync alone: what the event loop spent, next to the whole process's figure
 * (start-up, parse and checkpoint threads, V8's GC helpers). NaN where there is no such file.
 */
function mainThreadCpuMs() {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in USER_HZ ticks
  } catch {
    return NaN;
  }
}

const args = JSON.parse(process.argv[2]);
const out =
  args.mode === 'floor' ? await floor(args) : args.mode === 'mailhelper-warm' ? await mailHelperWarm(args) : await mailHelper(args);
// CPU time of the whole process (all threads, start-up and module loading included): not for a warm
// child, whose process ran its earlier syncs too.
const ru = process.resourceUsage();
const cpuMs = args.mode === 'mailhelper-warm' ? undefined : (ru.userCPUTime + ru.systemCPUTime) / 1000;
process.stdout.write(JSON.stringify({ ...out, rssMb: ru.maxRSS / 1024, cpuMs }) + '\n');
process.exit(0);
