// `mail-helper health`: what it does (health.ts defines it).
import { checkHealth, formatHealth } from '../../observability/health.js';
import { TaskName } from '../../tasks/task-names.js';
import { openContext } from '../context.js';
import { UsageError } from '../exit.js';

export async function healthCommand(opts: { json?: boolean; maxBacklogAge: string }): Promise<void> {
  const print = (report: unknown, text: string) => process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : text);
  try {
    const maxAge = Number(opts.maxBacklogAge);
    if (!Number.isFinite(maxAge) || maxAge <= 0)
      throw new UsageError(`--max-backlog-age must be a number of seconds, not "${opts.maxBacklogAge}".`);
    // The store is checked here, not at open: health must report it, not exit 2 on it.
    const ctx = await openContext({ LOG_LEVEL: 'silent' }, { migrate: false, check: false });
    try {
      const report = await checkHealth(ctx.config, ctx.store, { taskTypes: Object.values(TaskName), maxBacklogAgeMs: maxAge * 1000 });
      print(report, formatHealth(report));
      process.exitCode = report.healthy ? 0 : 1;
    } finally {
      await ctx.store.close().catch(() => {});
    }
  } catch (err) {
    // Even a configuration problem is an answer to "is it healthy?": no, and why.
    const report = { healthy: false, checks: [{ name: 'configuration', ok: false, detail: (err as Error).message }] };
    print(report, `FAIL  ${(err as Error).message}\nNOT healthy\n`);
    process.exitCode = 1;
  }
}
