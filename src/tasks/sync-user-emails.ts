// sync_user_emails(user_id, account_id, max_emails = 50): one account, through the injected engine.
import { z } from 'zod';
import { openGrant } from '../grants/grant-store.js';
import type { SyncStats } from '../sync/engine-types.js';
import { permanent } from '../sync/errors.js';
import { decryptCredentials } from '../accounts/account-repo.js';
import { accountSettings } from '../sync/account-settings.js';
import { requireAccount, requireUser } from './account-access.js';
import { classifyError } from './classify-error.js';
import { defineTask } from './define-task.js';
import type { SyncAccountFn, TaskDeps } from './task-deps.js';
import { TaskName } from './task-names.js';
import { MAX_EMAILS_PER_RUN } from './max-emails-per-run.js';

export const DEFAULT_MAX_EMAILS = 50;

export const syncUserEmailsPayload = z.object({
  user_id: z.number().int().positive(),
  account_id: z.number().int().positive(),
  max_emails: z.number().int().positive().max(MAX_EMAILS_PER_RUN).default(DEFAULT_MAX_EMAILS),
});

export type SyncUserEmailsPayload = z.input<typeof syncUserEmailsPayload>;

/** The task's result: the seed's {"status":"success","email_count":N} plus the engine's figures. */
export function syncResult(accountId: number, stats: SyncStats) {
  return {
    status: 'success',
    account_id: accountId,
    email_count: stats.fetched,
    bytes: stats.bytesFetched,
    new: stats.new,
    on_server: stats.onServer,
    moved: stats.moved,
    flag_changes: stats.flagChanges,
    deleted: stats.deleted,
    remaining: stats.remaining,
    folders: stats.foldersScanned,
    warnings: stats.warnings,
    duration_ms: stats.durationsMs.total,
  };
}

export function syncUserEmailsTask(deps: TaskDeps & { syncAccount: SyncAccountFn }) {
  return defineTask({
    name: TaskName.SyncUserEmails,
    payload: syncUserEmailsPayload,
    async perform(p, ctx) {
      const { store, config } = deps;
      await requireUser(store, p.user_id);
      const account = await requireAccount(store, p.user_id, p.account_id);
      if (!ctx.grantId) throw permanent('not-found', 'This task carries no key grant; start the sync again while logged in.');
      const { dek } = await openGrant(store, deps.grantKey, ctx.grantId, p.user_id);
      ctx.progress({ phase: 'connect', account_id: p.account_id });
      const startedAt = Date.now();
      try {
        const stats = await deps.syncAccount({
          store,
          account: { ...accountSettings(account), maxEmails: p.max_emails },
          credentials: decryptCredentials(dek, account),
          dek,
          options: { maxAttachmentBytes: config.sync.maxAttachmentBytes, timeoutMs: config.imap.timeoutMs },
          onProgress: (progress) => ctx.progress({ ...progress, account_id: p.account_id }),
          signal: ctx.signal,
          logger: ctx.logger,
        });
        await recordAccountStatus(deps, p.account_id, startedAt, null);
        return { result: syncResult(p.account_id, stats) };
      } catch (err) {
        await recordAccountStatus(deps, p.account_id, startedAt, classifyError(err).message).catch(() => {});
        throw err;
      } finally {
        dek.fill(0);
      }
    },
  });
}

async function recordAccountStatus(deps: TaskDeps, accountId: number, at: number, error: string | null): Promise<void> {
  await deps.store.db
    .updateTable('mail_accounts')
    .set({
      last_sync_at: at,
      last_status: error ? 'failed' : 'success',
      last_error: error,
      ...(error ? {} : { last_success_at: Date.now() }),
    })
    .where('id', '=', accountId)
    .execute();
}
