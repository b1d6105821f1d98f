// A mail_accounts row → the engine's AccountSettings (the CLI and the task handlers). A list that does not parse is an
// error, not "no filter": a sync must not widen to folders the person excluded.
import type { MailAccount } from '../store/schema.js';
import type { AccountSettings } from './engine-types.js';
import { SyncError } from './errors.js';

function parseList(text: string, what: string): string[] {
  try {
    const v = JSON.parse(text) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    // fall through to the error below
  }
  throw new SyncError('permanent', 'invalid-settings', `The account's ${what} list is not valid; edit the account and save it again.`);
}

export function accountSettings(a: MailAccount): AccountSettings {
  return {
    id: Number(a.id),
    userId: Number(a.user_id),
    host: a.host,
    port: a.port,
    security: a.security,
    includeFolders: parseList(a.include_folders, 'include-folders'),
    excludeFolders: parseList(a.exclude_folders, 'exclude-folders'),
    sinceDate: a.since_date,
    unseenOnly: a.unseen_only === 1,
    maxEmails: a.max_emails,
    tlsFingerprint: a.tls_fingerprint,
  };
}
