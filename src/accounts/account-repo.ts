// Mail accounts, always scoped to their user. Username and password are stored only encrypted with the
// user's DEK; host and port stay clear because connection errors and the UI need them without the key.
import type { Kysely } from 'kysely';
import { decryptText, encrypt } from '../crypto/aead.js';
import { ACCOUNT_PASSWORD_AAD, ACCOUNT_USERNAME_AAD } from '../crypto/keys.js';
import type { Database, MailAccount } from '../store/schema.js';
import type { Credentials } from '../sync/engine-types.js';
import { permanent } from '../sync/errors.js';
import { dropAccountPacks } from '../store/blob-packs.js';

type Db = Kysely<Database>;

export const MAX_EMAILS_DEFAULT = 50;
export const MAX_EMAILS_LIMIT = 1000;

export interface AccountFields {
  name: string;
  host: string;
  port: number;
  security: 'tls' | 'starttls' | 'none';
  sinceDate: string | null;
  unseenOnly: boolean;
  maxEmails: number;
  enabled: boolean;
}

/** The account when it exists and belongs to the user; undefined otherwise (callers answer 404). */
export function findAccountForUser(db: Db, userId: number, accountId: number): Promise<MailAccount | undefined> {
  return db.selectFrom('mail_accounts').selectAll().where('id', '=', accountId).where('user_id', '=', userId).executeTakeFirst();
}

export function listAccounts(db: Db, userId: number): Promise<MailAccount[]> {
  return db.selectFrom('mail_accounts').selectAll().where('user_id', '=', userId).orderBy('name').orderBy('id').execute();
}

/**
 * Decrypts the IMAP username and password. Throws a permanent SyncError ('cannot-decrypt') with a message
 * fit for the user when the account needs its password re-entered or the ciphertext does not fit the key.
 */
export function decryptCredentials(
  dek: Buffer,
  row: Pick<MailAccount, 'name' | 'username_enc' | 'password_enc' | 'needs_password'>,
): Credentials {
  if (row.needs_password === 1) {
    throw permanent(
      'cannot-decrypt',
      `The username and password of mail account "${row.name}" must be re-entered: the account key was reset by an administrator.`,
    );
  }
  try {
    return {
      username: decryptText(dek, row.username_enc, ACCOUNT_USERNAME_AAD, 'the account username'),
      password: decryptText(dek, row.password_enc, ACCOUNT_PASSWORD_AAD, 'the account password'),
    };
  } catch (err) {
    throw permanent(
      'cannot-decrypt',
      `Cannot decrypt the credentials of mail account "${row.name}": the key is wrong or the stored data was changed. Re-enter the username and password.`,
      err,
    );
  }
}

function parseList(json: string): string[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function includeFolders(row: Pick<MailAccount, 'include_folders'>): string[] {
  return parseList(row.include_folders);
}

export function excludeFolders(row: Pick<MailAccount, 'exclude_folders'>): string[] {
  return parseList(row.exclude_folders);
}

function columns(f: AccountFields) {
  return {
    name: f.name,
    host: f.host,
    port: f.port,
    security: f.security,
    since_date: f.sinceDate,
    unseen_only: f.unseenOnly ? 1 : 0,
    max_emails: f.maxEmails,
    enabled: f.enabled ? 1 : 0,
  };
}

export async function createAccount(db: Db, dek: Buffer, userId: number, f: AccountFields, creds: Credentials): Promise<number> {
  const now = Date.now();
  const row = await db
    .insertInto('mail_accounts')
    .values({
      user_id: userId,
      ...columns(f),
      username_enc: encrypt(dek, creds.username, ACCOUNT_USERNAME_AAD),
      password_enc: encrypt(dek, creds.password, ACCOUNT_PASSWORD_AAD),
      include_folders: '[]',
      exclude_folders: '[]',
      needs_password: 0,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/**
 * Updates the settings; a given username/password is re-encrypted, an absent one is kept. Giving both
 * clears needs_password. A changed host drops a trusted certificate fingerprint (it was for the old host).
 */
export async function updateAccount(
  db: Db,
  dek: Buffer,
  userId: number,
  accountId: number,
  f: AccountFields,
  creds: Partial<Credentials>,
): Promise<boolean> {
  const current = await findAccountForUser(db, userId, accountId);
  if (!current) return false;
  const set: Record<string, unknown> = { ...columns(f), updated_at: Date.now() };
  if (creds.username) set.username_enc = encrypt(dek, creds.username, ACCOUNT_USERNAME_AAD);
  if (creds.password) set.password_enc = encrypt(dek, creds.password, ACCOUNT_PASSWORD_AAD);
  if (creds.username && creds.password && current.needs_password === 1) {
    set.needs_password = 0;
    set.last_status = null;
    set.last_error = null;
  }
  if (current.host !== f.host || current.port !== f.port) set.tls_fingerprint = null;
  await db.updateTable('mail_accounts').set(set).where('id', '=', accountId).where('user_id', '=', userId).execute();
  return true;
}

export async function deleteAccount(db: Db, userId: number, accountId: number): Promise<boolean> {
  const res = await db.deleteFrom('mail_accounts').where('id', '=', accountId).where('user_id', '=', userId).executeTakeFirst();
  const deleted = Number(res.numDeletedRows) > 0;
  if (deleted) dropAccountPacks(db, [accountId]);
  return deleted;
}

export async function setTrustedFingerprint(db: Db, userId: number, accountId: number, fingerprint: string | null): Promise<boolean> {
  const res = await db
    .updateTable('mail_accounts')
    .set({ tls_fingerprint: fingerprint, updated_at: Date.now() })
    .where('id', '=', accountId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

export async function setFolderFilters(db: Db, userId: number, accountId: number, include: string[], exclude: string[]): Promise<boolean> {
  const res = await db
    .updateTable('mail_accounts')
    .set({ include_folders: JSON.stringify(include), exclude_folders: JSON.stringify(exclude), updated_at: Date.now() })
    .where('id', '=', accountId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
