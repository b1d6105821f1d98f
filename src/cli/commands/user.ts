import type { Command } from 'commander';

export function registerUser(program: Command): void {
  const user = program.command('user').description('Manage users (add, list, reset-password, delete)');
  const run = () => import('./user-run.js');

  user
    .command('add <username>')
    .description('Create a user (the first user is always an admin). Password: prompt, MAIL_HELPER_PASSWORD or --password-stdin')
    .option('--admin', 'make the user an administrator')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, opts: { admin?: boolean; passwordStdin?: boolean }) => (await run()).userAdd(username, opts));

  user
    .command('list')
    .description('List users')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => (await run()).userList(opts));

  user
    .command('reset-password <username>')
    .description('Set a new password WITHOUT the old one: creates a new encryption key (the old one is lost)')
    .option('--password-stdin', 'read the new password from standard input')
    .action(async (username: string, opts: { passwordStdin?: boolean }) => (await run()).userResetPassword(username, opts));

  user
    .command('delete <username>')
    .description('Delete a user with all their mail accounts and stored mail')
    .option('--yes', 'do not ask for confirmation (required when not in a terminal)')
    .action(async (username: string, opts: { yes?: boolean }) => (await run()).userDelete(username, opts));
}
