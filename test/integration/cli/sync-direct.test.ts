import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeySlot } from '../../../src/crypto/keys.js';
import { hashPassword } from '../../../src/crypto/password.js';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { runCli } from '../../fixtures/processes.js';
import { insertMailAccount, rawMessage } from '../../fixtures/sync-account.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';
import { THREADS_FROM } from '../../../src/sync/parser-pool.js';

/** Enough new mail for the parse threads, whose code the bundled CLI loads from dist/cli/parse-worker.js. */
const MANY = THREADS_FROM + 20;

let d: Dovecot;
beforeAll(async () => {
  d = await startDovecot();
  for (const u of ['cli1', 'cli2']) d.addUser(u, `${u}-imap-pw`);
  for (let i = 0; i < 3; i++) d.writeMessage('cli1', 'INBOX', rawMessage({ subject: `cli ${i}` }));
  d.writeMessage('cli2', 'INBOX', rawMessage({ subject: 'cli2' }));
  for (const u of ['many-sqlite', 'many-postgres']) {
    d.addUser(u, `${u}-imap-pw`);
    for (let i = 0; i < MANY; i++) d.writeMessage(u, 'INBOX', rawMessage({ subject: `many ${i}` }));
  }
});
afterAll(async () => {
  await d?.stop();
});

describe.each(await storeKinds())('mail-helper sync --direct on %s', (kind) => {
  let ts: TestStore;
  let accountId: number;
  let aliceId: number;
  let aliceDek: Buffer;
  const imapUser = kind === 'sqlite' ? 'cli1' : 'cli2';
  beforeAll(async () => {
    ts = await createTestStore(kind);
    const argon2 = ts.config.auth.argon2;
    const { dek, slot } = await createKeySlot('alice-login-pw', argon2);
    aliceDek = dek;
    const now = Date.now();
    const user = await ts.store.db
      .insertInto('users')
      .values({
        username: 'alice',
        password_hash: await hashPassword('alice-login-pw', argon2),
        is_admin: 1,
        kek_salt: slot.kekSalt,
        wrapped_dek: slot.wrappedDek,
        key_id: slot.keyId,
        failed_logins: 0,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    aliceId = Number(user.id);
    accountId = await addAccount('work', imapUser, 50);
  });
  afterAll(async () => {
    await ts?.cleanup();
  });

  /** A mail account of alice's on Dovecot user `login`'s mailbox (at most `maxEmails` a run, 0: no cap); returns its id. */
  async function addAccount(name: string, login: string, maxEmails = 0): Promise<number> {
    const credentials = { username: login, password: `${login}-imap-pw` };
    return insertMailAccount(ts.store, { userId: aliceId, dek: aliceDek, server: d, credentials, name, maxEmails });
  }

  it('syncs the account with the password from MAIL_HELPER_PASSWORD and prints a summary', async () => {
    const r = await runCli(['sync', '--user', 'alice', '--account', 'work', '--direct'], {
      ...ts.env,
      MAIL_HELPER_PASSWORD: 'alice-login-pw',
    });
    expect(r.stderr).not.toContain('alice-login-pw');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Fetched\\s+${kind === 'sqlite' ? 3 : 1} `));
    expect(r.stdout).toMatch(/Remaining\s+0/);
    const acc = await ts.store.db
      .selectFrom('mail_accounts')
      .select(['last_status', 'last_success_at'])
      .where('id', '=', accountId)
      .executeTakeFirstOrThrow();
    expect(acc.last_status).toBe('success');
  });

  it('reads the password from stdin and prints JSON stats with --json; --user takes a name or an id', async () => {
    // The user by id, as a queued sync takes it too.
    const r = await runCli(['sync', '--user', String(aliceId), '--account', String(accountId), '--direct', '--json'], ts.env, {
      input: 'alice-login-pw\n',
    });
    expect(r.code).toBe(0);
    const stats = JSON.parse(r.stdout) as { fetched: number; onServer: number };
    expect(stats).toMatchObject({ fetched: 0, onServer: kind === 'sqlite' ? 3 : 1 });
  });

  it('says clearly what is wrong: wrong password, unknown account, missing --direct', async () => {
    const wrong = await runCli(['sync', '--user', 'alice', '--account', 'work', '--direct'], ts.env, { input: 'nope\n' });
    expect([wrong.code, wrong.stderr.trim()]).toEqual([2, 'Wrong password for user "alice".']);
    const unknown = await runCli(['sync', '--user', 'alice', '--account', 'home', '--direct'], {
      ...ts.env,
      MAIL_HELPER_PASSWORD: 'alice-login-pw',
    });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/has no mail account "home"/);
    // An unknown user is told alike, queued or direct.
    for (const direct of [['--direct'], []]) {
      const nobody = await runCli(['sync', '--user', 'nobody', '--account', 'work', ...direct], ts.env);
      expect([nobody.code, nobody.stderr.trim()]).toEqual([2, 'No user "nobody". List users with `mail-helper user list`.']);
    }
    // Without --direct the sync is queued (task queue); it too needs the password to create the task's grant.
    const noDirect = await runCli(['sync', '--user', 'alice', '--account', 'work'], ts.env);
    expect(noDirect.code).toBe(2);
    expect(noDirect.stderr).toMatch(/No password given/);
  });

  it('--max-emails caps this run in place of the account setting; a bad value is exit 2 naming it', async () => {
    await addAccount('capped', `many-${kind}`);
    const env = { ...ts.env, MAIL_HELPER_PASSWORD: 'alice-login-pw' };
    const bad = await runCli(['sync', '--user', 'alice', '--account', 'capped', '--direct', '--max-emails', '-3'], env);
    expect([bad.code, bad.stderr.trim()]).toEqual([2, '--max-emails must be a positive whole number, not "-3".']);
    for (const direct of [['--direct'], []]) {
      const tooMany = await runCli(['sync', '--user', 'alice', '--account', 'capped', ...direct, '--max-emails', '100001'], env);
      expect([tooMany.code, tooMany.stderr.trim()]).toEqual([
        2,
        '--max-emails may be at most 100000 per run, not "100001"; run the sync again to fetch more.',
      ]);
    }
    const r = await runCli(['sync', '--user', 'alice', '--account', 'capped', '--direct', '--max-emails', '2', '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ fetched: 2, remaining: MANY - 2 });
  });

  it(`syncs ${MANY} new messages through the parse threads`, async () => {
    await addAccount('many', `many-${kind}`);
    const r = await runCli(['sync', '--user', 'alice', '--account', 'many', '--direct', '--json'], {
      ...ts.env,
      MAIL_HELPER_PASSWORD: 'alice-login-pw',
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ fetched: MANY, onServer: MANY, remaining: 0, parseProblems: 0 });
  });
});
