// Run-time checks of a sync task: the user exists, the account exists and is theirs, and its
// credentials open with the granted key. Violations are permanent failures with a clear message.
import { decryptText } from '../crypto/aead.js';
import { ACCOUNT_PASSWORD_AAD, ACCOUNT_USERNAME_AAD } from '../crypto/keys.js';
import type { Store } from '../store/db.js';
import type { MailAccount } from '../store/schema.js';
import type { AccountSettings, Credentials } from '../sync/engine-types.js';
import { permanent } from '../sync/errors.js';

export async function requireUser(store: Store, userId: number): Promise<void> {
  const user = await store.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
  if (!user) throw permanent('not-found', `User ${userId} does not exist (any more); the task cannot run.`);
}

export async function requireAccount(store: Store, userId: number, accountId: number): Promise<MailAccount> {
  const account = await store.db
    .selectFrom('mail_accounts')
    .selectAll()
    .where('id', '=', accountId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!account) throw permanent('not-found', `Mail account ${accountId} does not exist or does not belong to user ${userId}.`);
  if (account.needs_password === 1)
    throw permanent('cannot-decrypt', `The username and password of mail account "${account.name}" must be re-entered before it can sync.`);
  return account;
}

export function decryptAccountCredentials(dek: Buffer, account: MailAccount): Credentials {
  try {
    return {
      username: decryptText(dek, account.username_enc, ACCOUNT_USERNAME_AAD, 'the account username'),
      password: decryptText(dek, account.password_enc, ACCOUNT_PASSWORD_AAD, 'the account password'),
    };
  } catch (err) {
    throw permanent(
      'cannot-decrypt',
      `Cannot decrypt the credentials of mail account "${account.name}": re-enter the username and password.`,
      err,
    );
  }
}

function list(json: string): string[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function accountSettings(row: MailAccount, maxEmails: number): AccountSettings {
  return {
    id: Number(row.id),
    userId: Number(row.user_id),
    host: row.host,
    port: row.port,
    security: row.security,
    includeFolders: list(row.include_folders),
    excludeFolders: list(row.exclude_folders),
    sinceDate: row.since_date,
    unseenOnly: row.unseen_only === 1,
    maxEmails,
    tlsFingerprint: row.tls_fingerprint,
  };
}
