import type { Command } from 'commander';

export function registerHealth(program: Command): void {
  program
    .command('health')
    .description('Check store, Redis, live workers, task types, backlog and sync freshness; exit 0 healthy, 1 not')
    .option('--json', 'print the report as JSON')
    .option('--max-backlog-age <seconds>', 'a task waiting longer than this is unhealthy', '300')
    .action(async (opts: { json?: boolean; maxBacklogAge: string }) => (await import('./health-run.js')).healthCommand(opts));
}
