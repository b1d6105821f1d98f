import type { Command } from 'commander';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('Apply pending database migrations (also done on every start)')
    .action(async () => (await import('./migrate-run.js')).migrateCommand());
}
