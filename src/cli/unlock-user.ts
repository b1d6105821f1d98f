// CLI commands that act for a user (sync, integration-test) find that user (and account) and unlock the user's key from the password.
import { DecryptError } from '../crypto/aead.js';
import { unlockKeySlot } from '../crypto/keys.js';
import type { MailAccount, User } from '../store/schema.js';
import { findUserById, findUserByName } from '../users/user-repo.js';
import type { Context } from './context.js';
import { UsageError } from './exit.js';
import { readPassword } from './password-input.js';

/** Finds a user by name or numeric id; a clear usage error when there is none. */
export async function findCliUser(ctx: Context, nameOrId: string): Promise<User> {
  const user = /^\d+$/.test(nameOrId) ? await findUserById(ctx.store.db, Number(nameOrId)) : await findUserByName(ctx.store.db, nameOrId);
  if (!user) throw new UsageError(`No user "${nameOrId}". List users with \`mail-helper user list\`.`);
  return user;
}

/** One of the user's mail accounts by id or by name; a clear usage error when there is none, or several of that name. */
export async function findCliAccount(ctx: Context, user: User, ref: string): Promise<MailAccount> {
  const byId = /^\d+$/.test(ref) ? Number(ref) : -1;
  const rows = await ctx.store.db
    .selectFrom('mail_accounts')
    .selectAll()
    .where('user_id', '=', user.id)
    .where((eb) => eb.or([eb('id', '=', byId), eb('name', '=', ref)]))
    .execute();
  if (rows.length === 0) throw new UsageError(`User "${user.username}" has no mail account "${ref}" (give its id or its name).`);
  if (rows.length > 1) throw new UsageError(`User "${user.username}" has several accounts named "${ref}"; give the account id instead.`);
  return rows[0];
}

/** The user's DEK, from --password-stdin, MAIL_HELPER_PASSWORD or a prompt. Wipe it after use. */
export async function unlockCliUser(ctx: Context, user: User, opts: { passwordStdin?: boolean }): Promise<Buffer> {
  const password = await readPassword(opts, `Password of ${user.username}`);
  try {
    return await unlockKeySlot(password, user.kek_salt, user.wrapped_dek, ctx.config.auth.argon2);
  } catch (err) {
    if (err instanceof DecryptError) throw new UsageError(`Wrong password for user "${user.username}".`);
    throw err;
  }
}
