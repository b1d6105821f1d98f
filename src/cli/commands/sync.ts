import type { Command } from 'commander';

export interface SyncOptions {
  user: string;
  account?: string;
  all?: boolean;
  wait?: boolean;
  maxEmails?: string;
  passwordStdin?: boolean;
  json?: boolean;
  direct?: boolean;
}

export function registerSync(program: Command): void {
  program
    .command('sync')
    .description(
      "Queue a sync of one account (--account) or all of a user's accounts (--all); --wait follows it to the end; --direct runs the engine in this process",
    )
    .requiredOption('--user <name-or-id>', 'the user whose accounts to sync')
    .option('--account <id-or-name>', 'mail account, by id or name')
    .option('--all', 'every enabled account of the user')
    .option('--wait', 'follow progress until the task ends (exit 0 on success, 1 on failure)')
    .option('--max-emails <n>', 'fetch at most this many new messages (default: the account setting)')
    .option('--password-stdin', "read the user's password from standard input (else MAIL_HELPER_PASSWORD or a prompt)")
    .option('--json', 'print the final task (or, with --direct, the stats) as JSON')
    .option('--direct', 'run the sync engine in this process instead of queueing a task (needs --account: id or name)')
    // Each path loads only what it runs: --direct neither the queue nor Redis's client.
    .action(async (opts: SyncOptions) =>
      opts.direct ? (await import('./sync-direct.js')).directSyncCommand(opts) : (await import('./sync-run.js')).syncCommand(opts),
    );
}
