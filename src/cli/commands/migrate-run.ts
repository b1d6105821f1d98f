// `mail-helper migrate`: what it does (migrate.ts defines it).
import { openContext } from '../context.js';
import { exitOnStartupError } from '../exit.js';
import { migrate } from '../../store/migrate.js';

export async function migrateCommand(): Promise<void> {
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
}
