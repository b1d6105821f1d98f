// Run-time checks of a sync task: the user exists, the account exists and is theirs. Violations are
// permanent failures with a clear message. Credentials and settings come from the accounts module.
import { findAccountForUser } from '../accounts/account-repo.js';
import type { Store } from '../store/db.js';
import type { MailAccount } from '../store/schema.js';
import { permanent } from '../sync/errors.js';

export async function requireUser(store: Store, userId: number): Promise<void> {
  const user = await store.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
  if (!user) throw permanent('not-found', `User ${userId} does not exist (any more); the task cannot run.`);
}

export async function requireAccount(store: Store, userId: number, accountId: number): Promise<MailAccount> {
  const account = await findAccountForUser(store.db, userId, accountId);
  if (!account) throw permanent('not-found', `Mail account ${accountId} does not exist or does not belong to user ${userId}.`);
  return account;
}
