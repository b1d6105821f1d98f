// sync_all_accounts(user_id): one sync_user_emails child per enabled account. Children run on their
// own (one failing does not stop the others); the parent ends when all have, listing every outcome.
import { z } from 'zod';
import { grantRow, openGrant } from '../grants/grant-store.js';
import { syncDedupeKey } from './dedupe-keys.js';
import type { ChildrenSummary, Task } from '../queue/types.js';
import { permanent } from '../sync/errors.js';
import { requireUser } from './account-access.js';
import { defineTask } from './define-task.js';
import type { TaskDeps } from './task-deps.js';
import { TaskName } from './task-names.js';

export const syncAllAccountsPayload = z.object({ user_id: z.number().int().positive() });
export type SyncAllAccountsPayload = z.input<typeof syncAllAccountsPayload>;

export interface AccountOutcome {
  account_id: number;
  task_id: string;
  state: string;
  email_count?: number;
  error?: string;
  /** Another sync of this account was already queued or running; its task is given. */
  already_running?: boolean;
}

interface ParentProgress {
  phase: string;
  done?: number;
  total?: number;
  already_running?: { account_id: number; task_id: string }[];
}

export function syncAllAccountsTask(deps: TaskDeps) {
  return defineTask({
    name: TaskName.SyncAllAccounts,
    payload: syncAllAccountsPayload,
    async perform(p, ctx) {
      const { store } = deps;
      await requireUser(store, p.user_id);
      if (!ctx.grantId) throw permanent('not-found', 'This task carries no key grant; start the sync again while logged in.');
      const { dek, grant } = await openGrant(store, deps.grantKey, ctx.grantId, p.user_id);
      const accounts = await store.db
        .selectFrom('mail_accounts')
        .select(['id', 'max_emails'])
        .where('user_id', '=', p.user_id)
        .where('enabled', '=', 1)
        .orderBy('id')
        .execute();
      if (accounts.length === 0) {
        dek.fill(0);
        return { result: { status: 'success', accounts: [], email_count: 0, failed: 0 } };
      }
      // Each child gets its own grant (same key, own expiry): the parent's grant ends with the parent.
      const children = accounts.map((a) => ({
        type: TaskName.SyncUserEmails,
        userId: p.user_id,
        accountId: Number(a.id),
        payload: { user_id: p.user_id, account_id: Number(a.id), max_emails: a.max_emails },
        dedupeKey: syncDedupeKey(Number(a.id)),
        grant: grantRow(deps.grantKey, {
          userId: p.user_id,
          accountId: Number(a.id),
          kind: 'task',
          keyId: grant.key_id,
          dek,
          ttlMs: deps.config.worker.grantTtlMs,
        }),
      }));
      dek.fill(0);
      const results = await ctx.enqueueChildren(children);
      const alreadyRunning = results
        .filter((r) => r.deduplicated)
        .map((r) => ({ account_id: Number(r.task.account_id), task_id: r.task.id }));
      const progress: ParentProgress = {
        phase: 'children',
        done: 0,
        total: results.length - alreadyRunning.length,
        already_running: alreadyRunning,
      };
      return { waitForChildren: true, progress: progress as unknown as Record<string, unknown> };
    },
    summarize: summarizeAccounts,
  });
}

export function summarizeAccounts(parent: Task, children: Task[]): ChildrenSummary {
  const progress = (parent.progress ? JSON.parse(parent.progress) : {}) as ParentProgress;
  const outcomes: AccountOutcome[] = children.map((c) => {
    const result = c.result ? (JSON.parse(c.result) as { email_count?: number }) : undefined;
    return {
      account_id: Number(c.account_id),
      task_id: c.id,
      state: c.state,
      ...(result?.email_count !== undefined ? { email_count: result.email_count } : {}),
      ...(c.error ? { error: c.error } : {}),
    };
  });
  for (const r of progress.already_running ?? [])
    outcomes.push({ account_id: r.account_id, task_id: r.task_id, state: 'ALREADY_RUNNING', already_running: true });
  outcomes.sort((a, b) => a.account_id - b.account_id);
  const failed = outcomes.filter((o) => o.state === 'FAILURE' || o.state === 'REVOKED');
  const emailCount = outcomes.reduce((n, o) => n + (o.email_count ?? 0), 0);
  const status = failed.length === 0 ? 'success' : failed.length === outcomes.length ? 'failed' : 'partial';
  const result = { status, accounts: outcomes, email_count: emailCount, failed: failed.length };
  if (status === 'failed')
    return {
      state: 'FAILURE',
      result,
      error: `Every account failed: ${failed.map((f) => `account ${f.account_id}: ${f.error}`).join('; ')}`,
    };
  return { state: 'SUCCESS', result };
}
