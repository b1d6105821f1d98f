// `mail-helper integration-test` (integration-test-run.ts runs it).
import type { Command } from 'commander';
import type { Options } from './integration-test-run.js';

export function registerIntegrationTest(program: Command): void {
  program
    .command('integration-test')
    .description('Prove a running installation works: a worker takes a ping task and answers; with --account also a real sync')
    .option('--timeout <seconds>', 'how long to wait for each task', '60')
    .option('--user <name-or-id>', 'with --account: the user owning the account')
    .option('--account <id-or-name>', 'also run a real sync of this mail account (by id or name)')
    .option('--password-stdin', "read the user's password from standard input (else MAIL_HELPER_PASSWORD or a prompt)")
    .action(async (opts: Options) => (await import('./integration-test-run.js')).integrationTestCommand(opts));
}
