// Creates the benchmark's user and account in a store (migrated) and writes the account settings
// and key to a state file for the measured runs (bench/sync-run.mjs). Not measured itself.
import { writeFileSync } from 'node:fs';
import { openStore } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { createTestAccount } from '../test/fixtures/sync-account.js';

interface Args {
  store: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };
  stateFile: string;
  host: string;
  port: number;
  user: string;
  pw: string;
}

const a = JSON.parse(process.argv[2]) as Args;
const store = openStore({ store: a.store } as never);
await migrate(store.db, store.dialect);
const acc = await createTestAccount(store, { host: a.host, port: a.port }, { username: a.user, password: a.pw }, { maxEmails: 0 });
writeFileSync(a.stateFile, JSON.stringify({ account: acc.account, dek: acc.dek.toString('hex') }));
await store.close();
