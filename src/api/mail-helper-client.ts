// The programmatic API (the seed's "Option 2": a script queued sync_user_emails.delay(...) and read
// AsyncResult): typed functions to enqueue both tasks and to read or await a task, through the
// configured backend. The user's password unlocks their key for the task's grant and is not kept.
import { loadConfig, type Config, type LoadOptions } from '../config/config.js';
import { DecryptError } from '../crypto/aead.js';
import { unlockKeySlot } from '../crypto/keys.js';
import { createLogger } from '../observability/logger.js';
import { waitForTask as waitForTaskRow } from '../queue/task-watch.js';
import type { WorkerRuntime } from '../queue/types.js';
import { checkStore, openStore, type Store } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { syncAccount } from '../sync/engine.js';
import { enqueueAccountSync, enqueueAllAccountsSync, taskView, type TaskView } from '../tasks/sync-service.js';
import { createTaskSystem, type TaskSystem } from '../tasks/task-system.js';

export interface OpenOptions extends LoadOptions {
  /** Also run queued tasks in this process (useful with QUEUE=local when no `mail-helper serve` runs). */
  runWorker?: boolean;
}

export interface QueuedTask {
  taskId: string;
  /** true: a sync of this account was already queued or running; taskId is that task. */
  deduplicated: boolean;
  taskType: 'queue' | 'local';
}

export type UserRef = { userId: number } | { username: string };

export class WrongPasswordError extends Error {
  constructor(who: string) {
    super(`Wrong password for user ${who}.`);
    this.name = 'WrongPasswordError';
  }
}

export class UnknownUserError extends Error {
  constructor(who: string) {
    super(`No user ${who}.`);
    this.name = 'UnknownUserError';
  }
}

export class MailHelperClient {
  private constructor(
    readonly config: Config,
    readonly store: Store,
    private readonly system: TaskSystem,
    private readonly worker: WorkerRuntime | undefined,
  ) {}

  /** Connects to the configured store (migrating it) and queue. Close it when done. */
  static async open(opts: OpenOptions = {}): Promise<MailHelperClient> {
    const config = loadConfig(opts);
    const logger = createLogger(config);
    const store = openStore(config);
    try {
      await checkStore(store);
      await migrate(store.db, store.dialect);
      const system = createTaskSystem({ config, store, logger, syncAccount, createSecret: config.queue.kind === 'local' });
      const worker = opts.runWorker ? await system.startWorker() : undefined;
      return new MailHelperClient(config, store, system, worker);
    } catch (err) {
      await store.close().catch(() => {});
      throw err;
    }
  }

  /** sync_user_emails(user, account, maxEmails = the account's setting, 50 by default). */
  async syncUserEmails(args: UserRef & { password: string; accountId: number; maxEmails?: number }): Promise<QueuedTask> {
    const { userId, dek } = await this.unlock(args, args.password);
    try {
      return this.queued(
        await enqueueAccountSync(this.system.queue, this.system.deps, {
          userId,
          accountId: args.accountId,
          dek,
          maxEmails: args.maxEmails,
        }),
      );
    } finally {
      dek.fill(0);
    }
  }

  /** sync_all_accounts(user): one child task per enabled account. */
  async syncAllAccounts(args: UserRef & { password: string }): Promise<QueuedTask> {
    const { userId, dek } = await this.unlock(args, args.password);
    try {
      return this.queued(await enqueueAllAccountsSync(this.system.queue, this.system.deps, { userId, dek }));
    } finally {
      dek.fill(0);
    }
  }

  /** The task as the HTTP API shows it ({task_id, state, status, progress, result, error, …}), or undefined. */
  async getTask(taskId: string): Promise<TaskView | undefined> {
    const task = await this.system.queue.get(taskId);
    return task ? taskView(task) : undefined;
  }

  /** Resolves when the task has ended (SUCCESS, FAILURE or REVOKED); onProgress sees every change. */
  async waitForTask(taskId: string, opts: { timeoutMs?: number; onProgress?: (t: TaskView) => void } = {}): Promise<TaskView> {
    const task = await waitForTaskRow(this.store, taskId, { timeoutMs: opts.timeoutMs, onChange: (t) => opts.onProgress?.(taskView(t)) });
    return taskView(task);
  }

  async close(): Promise<void> {
    await this.worker?.stop(5_000);
    await this.system.close();
    await this.store.close();
  }

  private queued(r: { task: { id: string }; deduplicated: boolean }): QueuedTask {
    return { taskId: r.task.id, deduplicated: r.deduplicated, taskType: this.system.queue.kind === 'bullmq' ? 'queue' : 'local' };
  }

  private async unlock(ref: UserRef, password: string): Promise<{ userId: number; dek: Buffer }> {
    const who = 'userId' in ref ? `#${ref.userId}` : `"${ref.username}"`;
    let q = this.store.db.selectFrom('users').select(['id', 'kek_salt', 'wrapped_dek']);
    q = 'userId' in ref ? q.where('id', '=', ref.userId) : q.where('username', '=', ref.username);
    const user = await q.executeTakeFirst();
    if (!user) throw new UnknownUserError(who);
    try {
      return { userId: Number(user.id), dek: await unlockKeySlot(password, user.kek_salt, user.wrapped_dek, this.config.auth.argon2) };
    } catch (err) {
      if (err instanceof DecryptError) throw new WrongPasswordError(who);
      throw err;
    }
  }
}

/** Shorthand for MailHelperClient.open(). */
export function openMailHelper(opts: OpenOptions = {}): Promise<MailHelperClient> {
  return MailHelperClient.open(opts);
}
