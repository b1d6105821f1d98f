// The seed's integration test, against a running installation: a side-effect-free ping must be taken
// by a worker and come back; with --account, a real sync of one account as well.
import { liveWorkers } from '../../queue/heartbeat.js';
import { pingRedis } from '../../queue/redis.js';
import { waitForTask } from '../../queue/task-watch.js';
import type { Task } from '../../store/schema.js';
import { enqueueAccountSync, taskView } from '../../tasks/sync-service.js';
import { TaskName } from '../../tasks/task-names.js';
import { findCliAccount, findCliUser, unlockCliUser } from '../unlock-user.js';
import { openContext } from '../context.js';
import { exitOnStartupError, UsageError } from '../exit.js';
import { openTaskSystem } from '../task-wiring.js';

export interface Options {
  timeout: string;
  user?: string;
  account?: string;
  passwordStdin?: boolean;
}

interface Step {
  step: string;
  ok: boolean;
  ms: number;
  detail: string;
}

export async function integrationTestCommand(opts: Options): Promise<void> {
  try {
    const steps = await run(opts);
    for (const s of steps)
      process.stdout.write(`${s.ok ? 'ok  ' : 'FAIL'}  ${s.step.padEnd(22)} ${String(s.ms).padStart(6)} ms  ${s.detail}\n`);
    const ok = steps.every((s) => s.ok);
    process.stdout.write(ok ? 'integration test passed\n' : 'integration test FAILED\n');
    process.exit(ok ? 0 : 1);
  } catch (err) {
    exitOnStartupError(err);
  }
}

async function run(opts: Options): Promise<Step[]> {
  const timeoutMs = Number(opts.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError(`--timeout must be a number of seconds, not "${opts.timeout}".`);
  if (!!opts.account !== !!opts.user) throw new UsageError('--account and --user go together (the account is synced as that user).');
  const steps: Step[] = [];
  const timed = async <T>(step: string, fn: () => Promise<{ ok: boolean; detail: string; value?: T }>) => {
    const t0 = Date.now();
    const r = await fn().catch((err: unknown) => ({
      ok: false,
      detail: err instanceof Error ? err.message : String(err),
      value: undefined,
    }));
    steps.push({ step, ok: r.ok, ms: Date.now() - t0, detail: r.detail });
    return r;
  };

  const ctx = await openContext({ LOG_LEVEL: 'warn' });
  const { config, store } = ctx;
  const system = openTaskSystem(ctx, { createSecret: config.queue.kind === 'local' });
  try {
    steps.push({ step: 'store', ok: true, ms: 0, detail: store.description });
    if (config.queue.kind === 'bullmq') {
      const r = await timed('redis', async () => (await pingRedis(config.queue.redisUrl), { ok: true, detail: 'PING answered' }));
      if (!r.ok) return steps;
    }
    const workers = await liveWorkers(store, config.queue.kind);
    steps.push({
      step: 'live workers',
      ok: workers.length > 0,
      ms: 0,
      detail:
        workers.length > 0
          ? workers.map((w) => `${w.host}/${w.pid}`).join(', ')
          : config.queue.kind === 'bullmq'
            ? 'none — start one with `mail-helper worker`'
            : 'none — start the web server (`mail-helper serve`), which runs the local queue',
    });

    const ping = await timed<Task>('ping task', async () => {
      const { task } = await system.queue.enqueue({ type: TaskName.Ping, userId: null, payload: { echo: 'integration-test' } });
      const final = await waitForTask(store, task.id, { timeoutMs, pollMs: 100 }).catch(() => undefined);
      if (!final)
        return {
          ok: false,
          detail: `task ${task.id} did not finish within ${timeoutMs / 1000} s (state stays PENDING: is a worker running?)`,
        };
      const result = final.result ? (JSON.parse(final.result) as { pong?: boolean; worker_id?: string; host?: string }) : {};
      const ran = final.state === 'SUCCESS' && result.pong === true && !!result.worker_id;
      const waited = (final.started_at ?? final.created_at) - final.created_at;
      return {
        ok: ran,
        value: final,
        detail: ran ? `ran on ${result.worker_id} (waited ${waited} ms for a worker)` : `${final.state}: ${final.error ?? 'no pong'}`,
      };
    });
    if (!ping.ok || !opts.account) return steps;

    await timed('account sync', async () => {
      // By id or name, as `mail-helper sync` takes it.
      const user = await findCliUser(ctx, opts.user!);
      const account = await findCliAccount(ctx, user, opts.account!);
      const dek = await unlockCliUser(ctx, user, { passwordStdin: opts.passwordStdin });
      const res = await enqueueAccountSync(system.queue, system.deps, { userId: Number(user.id), accountId: Number(account.id), dek });
      dek.fill(0);
      const final = await waitForTask(store, res.task.id, { timeoutMs, pollMs: 250 }).catch(() => undefined);
      if (!final) return { ok: false, detail: `sync task ${res.task.id} did not finish within ${timeoutMs / 1000} s` };
      const view = taskView(final);
      return {
        ok: final.state === 'SUCCESS',
        detail: final.state === 'SUCCESS' ? JSON.stringify(view.result) : `${final.state}: ${final.error}`,
      };
    });
    return steps;
  } finally {
    await system.close();
    await store.close();
  }
}
