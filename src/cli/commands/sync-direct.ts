// `mail-helper sync --user U --account A --direct` (registered in sync.ts): runs the sync engine in this process, unlocking
// the user's key with their password, with a progress bar (stderr) and a stats summary (stdout).
import { SingleBar } from 'cli-progress';
import { decryptText, DecryptError } from '../../crypto/aead.js';
import { ACCOUNT_PASSWORD_AAD, ACCOUNT_USERNAME_AAD } from '../../crypto/keys.js';
import { sharedParserPool } from '../../sync/parser-pool.js';
import { accountSettings } from '../../sync/account-settings.js';
import type { SyncProgress, SyncStats } from '../../sync/engine-types.js';
import { SyncError } from '../../sync/errors.js';
import { findCliAccount, findCliUser, unlockCliUser } from '../unlock-user.js';
import { exitOnStartupError, UsageError } from '../exit.js';
import { openContext, type Context } from '../context.js';
import type { SyncOptions } from './sync.js';
import { maxEmailsOption } from '../max-emails-option.js';

export interface DirectSyncOptions {
  user: string;
  account: string;
  /** In place of the account's max_emails for this run. */
  maxEmails?: number;
  json?: boolean;
  passwordStdin?: boolean;
}

function progressBar(): { onProgress(p: SyncProgress): void; stop(): void } {
  const bar = new SingleBar({ format: ' {phase} {folder} [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: true }, undefined);
  let started = false;
  return {
    onProgress(p) {
      const payload = { phase: p.phase.padEnd(9), folder: p.folder ? `${p.folder} (${p.folderIndex}/${p.folderCount})` : '' };
      if (!started) {
        bar.start(p.total ?? 0, p.done ?? 0, payload);
        started = true;
      }
      if (p.total !== undefined) bar.setTotal(p.total);
      bar.update(p.done ?? bar.getProgress() * (p.total ?? 0), payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function summary(s: SyncStats): string {
  const lines = [
    `Folders scanned   ${s.foldersScanned}`,
    `On the server     ${s.onServer}`,
    `New               ${s.new}`,
    `Fetched           ${s.fetched} (${(s.bytesFetched / 1e6).toFixed(1)} MB)`,
    `Moved             ${s.moved}`,
    `Flag changes      ${s.flagChanges}`,
    `Deleted           ${s.deleted}`,
    `Restored          ${s.restored}`,
    `Remaining         ${s.remaining}${s.remaining > 0 ? ' (run again to fetch more; max_emails per run)' : ''}`,
    `Parse problems    ${s.parseProblems}`,
    `Time              ${(s.durationsMs.total / 1000).toFixed(1)} s (state ${s.durationsMs.state} ms, fetch ${s.durationsMs.fetch} ms, reconcile ${s.durationsMs.reconcile} ms)`,
  ];
  for (const w of s.warnings) lines.push(`Warning: ${w}`);
  return lines.join('\n') + '\n';
}

export async function runDirect(ctx: Context, opts: DirectSyncOptions): Promise<number> {
  const user = await findCliUser(ctx, opts.user);
  const account = await findCliAccount(ctx, user, opts.account);
  if (account.needs_password === 1)
    throw new UsageError(
      `The credentials of account "${account.name}" must be entered again (the user's key was reset); edit the account in the web UI.`,
    );
  // While the key is unlocked (argon2 in libuv's thread pool, or a person typing the password) the
  // engine's code loads (ImapFlow's above all: ~0.2 s of this thread) and the parse threads start.
  const engine = import('../../sync/engine.js');
  engine.catch(() => {}); // awaited below, unless the unlock fails first
  sharedParserPool();
  const dek = await unlockCliUser(ctx, user, { passwordStdin: opts.passwordStdin });
  let credentials: { username: string; password: string };
  try {
    credentials = {
      username: decryptText(dek, account.username_enc, ACCOUNT_USERNAME_AAD, 'the account username'),
      password: decryptText(dek, account.password_enc, ACCOUNT_PASSWORD_AAD, 'the account password'),
    };
  } catch (err) {
    if (err instanceof DecryptError)
      throw new UsageError(
        `The credentials of account "${account.name}" cannot be decrypted with this key; enter them again in the web UI.`,
      );
    throw err;
  }
  const { syncAccount } = await engine;
  const bar = opts.json ? null : progressBar();
  const started = Date.now();
  try {
    const stats = await syncAccount({
      store: ctx.store,
      account: { ...accountSettings(account), maxEmails: opts.maxEmails ?? account.max_emails },
      credentials,
      dek,
      options: { timeoutMs: ctx.config.imap.timeoutMs, maxAttachmentBytes: ctx.config.sync.maxAttachmentBytes },
      onProgress: bar?.onProgress,
      logger: ctx.logger,
    });
    bar?.stop();
    await ctx.store.db
      .updateTable('mail_accounts')
      .set({ last_sync_at: started, last_success_at: Date.now(), last_status: 'success', last_error: null, updated_at: Date.now() })
      .where('id', '=', account.id)
      .execute();
    process.stdout.write(opts.json ? JSON.stringify(stats) + '\n' : summary(stats));
    return 0;
  } catch (err) {
    bar?.stop();
    const e = err instanceof SyncError ? err : new SyncError('transient', 'internal', err instanceof Error ? err.message : String(err));
    await ctx.store.db
      .updateTable('mail_accounts')
      .set({ last_sync_at: started, last_status: 'failed', last_error: e.message, updated_at: Date.now() })
      .where('id', '=', account.id)
      .execute()
      .catch(() => {});
    process.stderr.write(`Sync of account "${account.name}" failed (${e.kind}, ${e.code}): ${e.message}\n`);
    return 1;
  }
}

/** `mail-helper sync --direct`: the engine in this process, for one account. */
export async function directSyncCommand(opts: SyncOptions): Promise<void> {
  let code = 0;
  try {
    if (!opts.account || opts.all) throw new UsageError('--direct syncs one account: give --account <id or name> (not --all).');
    const maxEmails = maxEmailsOption(opts.maxEmails);
    const ctx = await openContext();
    try {
      code = await runDirect(ctx, {
        user: opts.user,
        account: opts.account,
        maxEmails,
        json: opts.json,
        passwordStdin: opts.passwordStdin,
      });
    } finally {
      await ctx.store.close();
    }
  } catch (err) {
    exitOnStartupError(err);
  }
  process.exit(code);
}
