// One measured run in a fresh plain-Node process, on the compiled code in dist/ (so its peak RSS is
// what a deployed worker would use, without a TypeScript loader): Mail Helper's engine on a given
// store, or the raw ImapFlow floor (fetch every body, discard). Prints one JSON line.
// The account it syncs was created beforehand by sync-child.ts (mode "setup").
import { readFileSync } from 'node:fs';
import { ImapFlow } from 'imapflow';
import { openStore } from '../dist/store/db.js';
import { syncAccount } from '../dist/sync/engine.js';

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
  return { ms: performance.now() - t0, messages: n, bytes };
}

async function mailHelper(a) {
  const store = openStore({ store: a.store });
  const s = JSON.parse(readFileSync(a.stateFile, 'utf8'));
  const t0 = performance.now();
  const stats = await syncAccount({
    store,
    account: s.account,
    credentials: { username: a.user, password: a.pw },
    dek: Buffer.from(s.dek, 'hex'),
    options: { timeoutMs: 30_000 },
  });
  const ms = performance.now() - t0;
  await store.close();
  return { ms, engineMs: stats.durationsMs.total, fetched: stats.fetched, bytes: stats.bytesFetched, durations: stats.durationsMs };
}

const args = JSON.parse(process.argv[2]);
const out = args.mode === 'floor' ? await floor(args) : await mailHelper(args);
process.stdout.write(JSON.stringify({ ...out, rssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
