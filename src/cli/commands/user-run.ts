// `mail-helper user ...`: what each subcommand does (user.ts defines them).
import { findUserByName, listUsers } from '../../users/user-repo.js';
import { adminResetPassword, createUser, deleteUser, UserInputError } from '../../users/user-service.js';
import { openContext, type Context } from '../context.js';
import { exitOnStartupError, UsageError } from '../exit.js';
import { readNewPassword } from '../password-input.js';

async function withContext(fn: (ctx: Context) => Promise<void>): Promise<void> {
  let ctx: Context | undefined;
  try {
    ctx = await openContext();
    await fn(ctx);
    await ctx.store.close();
  } catch (err) {
    await ctx?.store.close().catch(() => {});
    if (err instanceof UserInputError) exitOnStartupError(new UsageError(`Invalid input: ${err.message}`));
    exitOnStartupError(err);
  }
}

async function userIdOf(ctx: Context, username: string): Promise<number> {
  const u = await findUserByName(ctx.store.db, username);
  if (!u) throw new UsageError(`No user named "${username}". See \`mail-helper user list\`.`);
  return Number(u.id);
}

export async function userAdd(username: string, opts: { admin?: boolean; passwordStdin?: boolean }): Promise<void> {
  await withContext(async (ctx) => {
    const password = await readNewPassword(opts);
    const { user: u, dek } = await createUser(ctx.store.db, ctx.config.auth.argon2, { username, password, admin: opts.admin });
    dek.fill(0);
    process.stdout.write(`Created user ${u.username} (id ${u.id}${u.isAdmin ? ', admin' : ''}).\n`);
  });
}

export async function userList(opts: { json?: boolean }): Promise<void> {
  await withContext(async (ctx) => {
    const users = await listUsers(ctx.store.db);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(users)}\n`);
      return;
    }
    if (users.length === 0) {
      process.stdout.write('No users yet. Create one with `mail-helper user add NAME` or register in the web UI.\n');
      return;
    }
    for (const u of users) {
      const locked = u.lockedUntil && u.lockedUntil > Date.now() ? ' locked' : '';
      process.stdout.write(
        `${String(u.id).padStart(4)}  ${u.username.padEnd(24)} ${u.isAdmin ? 'admin' : 'user '}  ${u.accounts} account(s)${locked}\n`,
      );
    }
  });
}

export async function userResetPassword(username: string, opts: { passwordStdin?: boolean }): Promise<void> {
  await withContext(async (ctx) => {
    const id = await userIdOf(ctx, username);
    const password = await readNewPassword(opts, 'New password');
    const outcome = await adminResetPassword(ctx.store.db, ctx.config.auth.argon2, id, password);
    process.stdout.write(`${outcome.notice}\n`);
  });
}

export async function userDelete(username: string, opts: { yes?: boolean }): Promise<void> {
  await withContext(async (ctx) => {
    const id = await userIdOf(ctx, username);
    if (!opts.yes) throw new UsageError(`This deletes ${username} and all their data. Run again with --yes to confirm.`);
    await deleteUser(ctx.store.db, id);
    process.stdout.write(`Deleted user ${username} and all their data.\n`);
  });
}
