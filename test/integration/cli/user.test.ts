import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../fixtures/processes.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';
import { authenticate } from '../../../src/users/user-service.js';

// Each CLI run costs about a second of start-up, so this file uses one store; the same user functions run
// on SQLite and PostgreSQL in test/integration/web/auth.test.ts.
const kinds = (await storeKinds()).slice(0, 1);

describe.each(kinds)('mail-helper user on %s', (kind) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(async () => ts?.cleanup());

  it('adds users from stdin or MAIL_HELPER_PASSWORD (first is admin), lists, resets and deletes them', async () => {
    const a = await runCli(['user', 'add', 'root-user', '--password-stdin'], ts.env, { input: 'first password 1\n' });
    expect(a.stderr).toBe('');
    expect(a.stdout).toMatch(/Created user root-user \(id \d+, admin\)/);
    const b = await runCli(['user', 'add', 'second'], { ...ts.env, MAIL_HELPER_PASSWORD: 'second password' });
    expect(b.stdout).toMatch(/Created user second \(id \d+\)\./);
    const list = await runCli(['user', 'list', '--json'], ts.env);
    expect(JSON.parse(list.stdout)).toMatchObject([
      { username: 'root-user', isAdmin: true },
      { username: 'second', isAdmin: false },
    ]);
    const ok = await authenticate(ts.store.db, ts.config, 'second', 'second password');
    expect(ok.ok).toBe(true);

    const reset = await runCli(['user', 'reset-password', 'second', '--password-stdin'], ts.env, { input: 'after the reset' });
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain('NEW encryption key');
    expect(reset.stdout).toContain('The old key cannot be recovered without the old password');
    expect((await authenticate(ts.store.db, ts.config, 'second', 'after the reset')).ok).toBe(true);

    expect((await runCli(['user', 'delete', 'second'], ts.env)).code).toBe(2);
    expect((await runCli(['user', 'delete', 'second', '--yes'], ts.env)).stdout).toContain('Deleted user second');
    expect(await ts.store.db.selectFrom('users').select('id').where('username', '=', 'second').executeTakeFirst()).toBeUndefined();
  });

  it('explains what is wrong: no password source, too short, unknown user', async () => {
    const none = await runCli(['user', 'add', 'nopass'], ts.env);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('No password given: pipe it with --password-stdin, set MAIL_HELPER_PASSWORD');
    const short = await runCli(['user', 'add', 'shorty', '--password-stdin'], ts.env, { input: 'abc' });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('password: must be at least 10 characters');
    const unknown = await runCli(['user', 'reset-password', 'ghost', '--password-stdin'], ts.env, { input: 'whatever password' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No user named "ghost"');
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
  });
});
