import { describe, expect, it } from 'vitest';
import { accountSettings } from '../../../src/sync/account-settings.js';
import { SyncError } from '../../../src/sync/errors.js';
import type { MailAccount } from '../../../src/store/schema.js';

const row = (o: Partial<MailAccount> = {}): MailAccount => ({
  id: 7,
  user_id: 3,
  name: 'work',
  host: 'imap.example.org',
  port: 993,
  security: 'tls',
  username_enc: Buffer.alloc(0),
  password_enc: Buffer.alloc(0),
  include_folders: '["INBOX","Lists/*"]',
  exclude_folders: '[]',
  since_date: '2026-01-01',
  unseen_only: 1,
  max_emails: 200,
  enabled: 1,
  tls_fingerprint: null,
  needs_password: 0,
  sync_interval_minutes: null,
  last_sync_at: null,
  last_success_at: null,
  last_status: null,
  last_error: null,
  created_at: 0,
  updated_at: 0,
  ...o,
});

describe('accountSettings', () => {
  it('turns a stored account into the engine settings', () => {
    expect(accountSettings(row())).toEqual({
      id: 7,
      userId: 3,
      host: 'imap.example.org',
      port: 993,
      security: 'tls',
      includeFolders: ['INBOX', 'Lists/*'],
      excludeFolders: [],
      sinceDate: '2026-01-01',
      unseenOnly: true,
      maxEmails: 200,
      tlsFingerprint: null,
    });
  });

  // Read as "no filter", a damaged list would sync the folders the person chose to leave out.
  it.each([
    ['include_folders', 'include-folders', '["INBOX"'],
    ['exclude_folders', 'exclude-folders', '{"a":1}'],
    ['exclude_folders', 'exclude-folders', '["Spam",3]'],
  ] as const)('a %s value that is not a list of names is a permanent invalid-settings error', (column, what, value) => {
    let err: unknown;
    try {
      accountSettings(row({ [column]: value }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SyncError);
    expect(err).toMatchObject({
      kind: 'permanent',
      code: 'invalid-settings',
      message: `The account's ${what} list is not valid; edit the account and save it again.`,
    });
  });
});
