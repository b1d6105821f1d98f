// `mail-helper sync` without --direct: queues the task, and with --wait follows it (sync.ts defines the command).
import cliProgress from 'cli-progress';
import { liveWorkers } from '../../queue/heartbeat.js';
import { pingRedis } from '../../queue/redis.js';
import { waitForTask } from '../../queue/task-watch.js';
import { QueueUnavailableError, TERMINAL_STATES, type WorkerRuntime } from '../../queue/types.js';
import type { Task } from '../../store/schema.js';
import { enqueueAccountSync, enqueueAllAccountsSync, NotFoundError, taskView } from '../../tasks/sync-service.js';
import { findCliAccount, findCliUser, unlockCliUser } from '../unlock-user.js';
import { openContext } from '../context.js';
import { exitOnStartupError, UsageError } from '../exit.js';
import { openTaskSystem } from '../task-wiring.js';
import { progressText } from '../../tasks/progress-text.js';
import type { SyncOptions } from './sync.js';
import { maxEmailsOption } from '../max-emails-option.js';

export async function syncCommand(opts: SyncOptions): Promise<void> {
  let code = 0;
  try {
    code = await runSync(opts);
  } catch (err) {
    if (err instanceof QueueUnavailableError || err instanceof NotFoundError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(err instanceof NotFoundError ? 2 : 3);
    }
    exitOnStartupError(err);
  }
  process.exit(code);
}

async function runSync(opts: SyncOptions): Promise<number> {
  if (!!opts.account === !!opts.all) throw new UsageError('Give exactly one of --account <id> or --all.');
  const maxEmails = maxEmailsOption(opts.maxEmails);

  const ctx = await openContext();
  const { config, store } = ctx;
  const user = await findCliUser(ctx, opts.user);
  const accountId = opts.account !== undefined ? Number((await findCliAccount(ctx, user, opts.account)).id) : undefined;
  if (config.queue.kind === 'bullmq') await pingRedis(config.queue.redisUrl);
  const dek = await unlockCliUser(ctx, user, { passwordStdin: opts.passwordStdin });
  const system = openTaskSystem(ctx, { createSecret: config.queue.kind === 'local' });
  let worker: WorkerRuntime | undefined;
  try {
    const userId = Number(user.id);
    const res =
      accountId !== undefined
        ? await enqueueAccountSync(system.queue, system.deps, { userId, accountId, dek, maxEmails })
        : await enqueueAllAccountsSync(system.queue, system.deps, { userId, dek });
    dek.fill(0);
    process.stderr.write(
      `${res.deduplicated ? 'Already queued or running' : 'Queued'}: task ${res.task.id} (${res.task.type}, ${system.queue.kind} queue)\n`,
    );
    if (!opts.wait) {
      process.stdout.write(`${JSON.stringify({ status: 'queued', task_id: res.task.id, deduplicated: res.deduplicated })}\n`);
      return 0;
    }
    // Embedded mode without a running `serve`: this process runs the job itself.
    if (config.queue.kind === 'local' && (await liveWorkers(store, 'local')).length === 0) {
      process.stderr.write('No web server is running the local queue: running the task in this process.\n');
      worker = await system.startWorker({ pollMs: 200 });
    } else if (config.queue.kind === 'bullmq' && (await liveWorkers(store, 'bullmq')).length === 0) {
      process.stderr.write('Warning: no worker is alive; start one with `mail-helper worker` or the task will wait.\n');
    }
    // Ctrl-C or SIGTERM while following: stop following, and hand a task this process runs back to the
    // queue (the next worker takes it up where it stopped) instead of dying with it half-run.
    const interrupted = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => interrupted.abort(signal);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let final: Task;
    try {
      final = await follow(store, res.task.id, interrupted.signal);
    } catch (err) {
      if (!interrupted.signal.aborted) throw err;
      const signal = interrupted.signal.reason as NodeJS.Signals;
      const ranHere = worker !== undefined;
      await worker?.stop(0); // a sync it runs stops at its next step and goes back to the queue
      worker = undefined;
      const state = (await system.queue.get(res.task.id))?.state;
      process.stderr.write(
        state && TERMINAL_STATES.includes(state)
          ? `Interrupted (${signal}): task ${res.task.id} had ended: ${state}.\n`
          : `Interrupted (${signal}): task ${res.task.id} is ${state ?? 'gone'}${ranHere ? ', handed back to the queue' : ''}; ` +
              `\`mail-helper serve\`, a worker or \`mail-helper sync --wait\` again runs it to the end.\n`,
      );
      return signal === 'SIGINT' ? 130 : 143;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const view = taskView(final);
    if (opts.json) process.stdout.write(`${JSON.stringify(view)}\n`);
    else if (final.state === 'SUCCESS') process.stdout.write(`Done: ${JSON.stringify(view.result)}\n`);
    else process.stdout.write(`${final.state}: ${final.error ?? 'no error recorded'}\n`);
    return final.state === 'SUCCESS' ? 0 : 1;
  } finally {
    await worker?.stop(5_000);
    await system.close();
    await store.close();
  }
}

/** Draws a progress bar on stderr (messages done of total) with the phase and folder. */
async function follow(store: Parameters<typeof waitForTask>[0], id: string, signal: AbortSignal): Promise<Task> {
  const tty = process.stderr.isTTY === true;
  const bar = new cliProgress.SingleBar(
    { format: '{state} [{bar}] {value}/{total} {detail}', hideCursor: true, noTTYOutput: !tty, notTTYSchedule: 2000 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(1, 0, { state: 'PENDING', detail: '' });
  try {
    return await waitForTask(store, id, {
      pollMs: 250,
      signal,
      onChange: (t) => {
        const v = taskView(t);
        const p = (v.progress ?? {}) as { done?: number; total?: number };
        if (p.total !== undefined) bar.setTotal(Math.max(1, p.total));
        bar.update(p.done ?? 0, {
          state: t.state,
          detail: t.state === 'RETRY' ? `retry at ${v.next_attempt_at}: ${t.error}` : progressText(v.progress),
        });
      },
    });
  } finally {
    bar.stop();
  }
}
