// One measured run in a fresh process (so peak RSS is this run's alone): Mail Helper's engine on a
// given store, or the raw ImapFlow floor (fetch every body, discard). Prints one JSON line.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { ImapFlow } from 'imapflow';
import { openStore } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { syncAccount } from '../src/sync/engine.js';
import type { AccountSettings } from '../src/sync/engine-types.js';
import { createTestAccount } from '../test/fixtures/sync-account.js';

interface Args {
  mode: 'mailhelper' | 'floor';
  store?: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };
  stateFile?: string;
  host: string;
  port: number;
  user: string;
  pw: string;
}

async function floor(a: Args): Promise<Record<string, unknown>> {
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

async function mailHelper(a: Args): Promise<Record<string, unknown>> {
  const store = openStore({ store: a.store! } as never);
  await migrate(store.db, store.dialect);
  let account: AccountSettings;
  let dek: Buffer;
  if (!existsSync(a.stateFile!)) {
    const acc = await createTestAccount(store, { host: a.host, port: a.port }, { username: a.user, password: a.pw }, { maxEmails: 0 });
    account = acc.account;
    dek = acc.dek;
    writeFileSync(a.stateFile!, JSON.stringify({ account, dek: dek.toString('hex') }));
  } else {
    const s = JSON.parse(readFileSync(a.stateFile!, 'utf8')) as { account: AccountSettings; dek: string };
    account = s.account;
    dek = Buffer.from(s.dek, 'hex');
  }
  const t0 = performance.now();
  const stats = await syncAccount({
    store,
    account,
    credentials: { username: a.user, password: a.pw },
    dek,
    options: { timeoutMs: 30_000 },
  });
  const ms = performance.now() - t0;
  await store.close();
  return { ms, engineMs: stats.durationsMs.total, fetched: stats.fetched, bytes: stats.bytesFetched, durations: stats.durationsMs };
}

const args = JSON.parse(process.argv[2]) as Args;
const out = args.mode === 'floor' ? await floor(args) : await mailHelper(args);
process.stdout.write(JSON.stringify({ ...out, rssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
