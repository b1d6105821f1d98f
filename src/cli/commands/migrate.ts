import type { Command } from 'commander';
import { openContext } from '../context.js';
import { exitOnStartupError } from '../exit.js';
import { migrate } from '../../store/migrate.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('Apply pending database migrations (also done on every start)')
    .action(async () => {
      try {
        const ctx = await openContext({}, { migrate: false });
        const res = await migrate(ctx.store.db, ctx.store.dialect);
        process.stdout.write(
          res.applied.length > 0
            ? `Applied ${res.applied.length} migration(s): ${res.applied.join(', ')}\n`
            : `Nothing to do: all ${res.alreadyApplied} migrations already applied (${ctx.store.description}).\n`,
        );
        await ctx.store.close();
      } catch (err) {
        exitOnStartupError(err);
      }
    });
}
