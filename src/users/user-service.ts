// Users and their keys: registration, login with lockout, password change (rewrap), admin reset (new key).
import { createKeySlot, newKeyId, rewrapKeySlot, unlockKeySlot } from '../crypto/keys.js';
import { deriveKek, hashPassword, newSalt, verifyPassword, type Argon2Params } from '../crypto/password.js';
import type { Config } from '../config/config.js';
import {
  accountIdsOf,
  countUsers,
  deleteUserRow,
  findUserById,
  findUserByName,
  getSetting,
  insertUser,
  setSetting,
  type Db,
} from './user-repo.js';
import { dropAccountPacks } from '../store/blob-packs.js';

export interface AuthUser {
  id: number;
  username: string;
  isAdmin: boolean;
}

export type FieldErrors = Record<string, string>;

export class UserInputError extends Error {
  constructor(readonly fields: FieldErrors) {
    super(
      Object.entries(fields)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; '),
    );
    this.name = 'UserInputError';
  }
}

const USERNAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$/;
export const MIN_PASSWORD = 10;

export function usernameProblem(username: string): string | undefined {
  if (!USERNAME_RE.test(username)) return 'must be 2–64 characters: letters, digits and . _ @ - (starting with a letter or digit)';
  return undefined;
}

export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD) return `must be at least ${MIN_PASSWORD} characters`;
  if (password.length > 1024) return 'must be at most 1024 characters';
  return undefined;
}

const REGISTRATION_KEY = 'registration_open';

/** Registration is open while there is no user yet (the first becomes admin), or when config or an admin opened it. */
export async function isRegistrationOpen(db: Db, config: Pick<Config, 'auth'>): Promise<boolean> {
  if (config.auth.registrationOpen) return true;
  if ((await countUsers(db)) === 0) return true;
  return (await getSetting(db, REGISTRATION_KEY)) === '1';
}

export async function setRegistrationOpen(db: Db, open: boolean): Promise<void> {
  await setSetting(db, REGISTRATION_KEY, open ? '1' : '0');
}

export async function registrationSetting(db: Db): Promise<boolean> {
  return (await getSetting(db, REGISTRATION_KEY)) === '1';
}

/** Creates a user with a fresh DEK. The first user of an instance is always an admin. */
export async function createUser(
  db: Db,
  argon2: Argon2Params,
  input: { username: string; password: string; admin?: boolean },
): Promise<{ user: AuthUser; dek: Buffer }> {
  const fields: FieldErrors = {};
  const up = usernameProblem(input.username);
  if (up) fields.username = up;
  const pp = passwordProblem(input.password);
  if (pp) fields.password = pp;
  if (Object.keys(fields).length) throw new UserInputError(fields);
  if (await findUserByName(db, input.username)) throw new UserInputError({ username: 'is already taken' });
  const [passwordHash, { dek, slot }] = await Promise.all([hashPassword(input.password, argon2), createKeySlot(input.password, argon2)]);
  const now = Date.now();
  const isAdmin = input.admin === true || (await countUsers(db)) === 0;
  let id: number;
  try {
    id = await insertUser(db, {
      username: input.username,
      password_hash: passwordHash,
      is_admin: isAdmin ? 1 : 0,
      kek_salt: slot.kekSalt,
      wrapped_dek: slot.wrappedDek,
      key_id: slot.keyId,
      failed_logins: 0,
      locked_until: null,
      created_at: now,
      updated_at: now,
    });
  } catch (err) {
    // Two registrations racing for one name: the unique index decides.
    if (await findUserByName(db, input.username)) throw new UserInputError({ username: 'is already taken' });
    throw err;
  }
  if (isAdmin && input.admin !== true) {
    // Two first registrations at once both saw an empty table: only the earliest row stays admin.
    const first = await db.selectFrom('users').select('id').orderBy('id').limit(1).executeTakeFirstOrThrow();
    if (Number(first.id) !== id) {
      await db.updateTable('users').set({ is_admin: 0 }).where('id', '=', id).execute();
      return { user: { id, username: input.username, isAdmin: false }, dek };
    }
  }
  return { user: { id, username: input.username, isAdmin }, dek };
}

export type LoginResult =
  { ok: true; user: AuthUser; dek: Buffer } | { ok: false; reason: 'invalid' } | { ok: false; reason: 'locked'; until: number };

let dummy: { hash: string; salt: Buffer; params: string } | undefined;
/** Work done for an unknown username so that its answer takes as long as a real failed login. */
async function burnTime(password: string, p: Argon2Params): Promise<void> {
  const key = `${p.memoryCost}/${p.timeCost}`;
  if (!dummy || dummy.params !== key) dummy = { hash: await hashPassword('not-a-real-password', p), salt: newSalt(), params: key };
  await verifyPassword(dummy.hash, password);
  await deriveKek(password, dummy.salt, p);
}

/** Checks the password, counts failures and locks after `maxFailures`; on success unwraps the DEK. */
export async function authenticate(
  db: Db,
  config: Pick<Config, 'auth'>,
  username: string,
  password: string,
  now = Date.now(),
): Promise<LoginResult> {
  const p = config.auth.argon2;
  const user = await findUserByName(db, username);
  if (!user) {
    await burnTime(password, p);
    return { ok: false, reason: 'invalid' };
  }
  if (user.locked_until !== null && Number(user.locked_until) > now)
    return { ok: false, reason: 'locked', until: Number(user.locked_until) };
  const good = await verifyPassword(user.password_hash, password);
  let dek: Buffer | undefined;
  if (good) {
    dek = await unlockKeySlot(password, user.kek_salt, user.wrapped_dek, p);
  } else {
    await deriveKek(password, user.kek_salt, p);
  }
  if (!dek) {
    const failures = (user.locked_until !== null ? 0 : user.failed_logins) + 1;
    const lock = failures >= config.auth.maxFailures;
    await db
      .updateTable('users')
      .set({ failed_logins: lock ? 0 : failures, locked_until: lock ? now + config.auth.lockMs : null, updated_at: now })
      .where('id', '=', user.id)
      .execute();
    return lock ? { ok: false, reason: 'locked', until: now + config.auth.lockMs } : { ok: false, reason: 'invalid' };
  }
  if (user.failed_logins !== 0 || user.locked_until !== null) {
    await db.updateTable('users').set({ failed_logins: 0, locked_until: null, updated_at: now }).where('id', '=', user.id).execute();
  }
  return { ok: true, user: { id: Number(user.id), username: user.username, isAdmin: user.is_admin === 1 }, dek };
}

/** New password, same DEK: only the key slot is rewrapped. Other sessions of the user end. */
export async function changePassword(
  db: Db,
  argon2: Argon2Params,
  userId: number,
  oldPassword: string,
  newPassword: string,
  keepSessionId?: string,
): Promise<void> {
  const user = await findUserById(db, userId);
  if (!user) throw new UserInputError({ user: 'does not exist' });
  if (!(await verifyPassword(user.password_hash, oldPassword))) throw new UserInputError({ current_password: 'is not correct' });
  const pp = passwordProblem(newPassword);
  if (pp) throw new UserInputError({ new_password: pp });
  const dek = await unlockKeySlot(oldPassword, user.kek_salt, user.wrapped_dek, argon2);
  const [hash, slot] = await Promise.all([hashPassword(newPassword, argon2), rewrapKeySlot(dek, newPassword, argon2)]);
  dek.fill(0);
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('users')
      .set({ password_hash: hash, kek_salt: slot.kekSalt, wrapped_dek: slot.wrappedDek, updated_at: Date.now() })
      .where('id', '=', userId)
      .execute();
    let q = tx.deleteFrom('sessions').where('user_id', '=', userId);
    if (keepSessionId) q = q.where('id', '!=', keepSessionId);
    await q.execute();
  });
}

export interface ResetOutcome {
  accountsNeedingPassword: number;
  messagesDropped: number;
  /** Plain words for the admin: what was lost and why. */
  notice: string;
}

/**
 * Admin reset without the old password. The old DEK was wrapped only by the old password, so it is gone:
 * a new DEK is created, every mail account must get its credentials again (needs_password=1), mail stored
 * under the old key cannot be read any more and is removed (the next sync fetches it again), and the
 * user's sessions and sync grants end.
 */
export async function adminResetPassword(db: Db, argon2: Argon2Params, userId: number, newPassword: string): Promise<ResetOutcome> {
  const pp = passwordProblem(newPassword);
  if (pp) throw new UserInputError({ password: pp });
  const user = await findUserById(db, userId);
  if (!user) throw new UserInputError({ user: 'does not exist' });
  const [hash, { dek, slot }] = await Promise.all([hashPassword(newPassword, argon2), createKeySlot(newPassword, argon2)]);
  dek.fill(0);
  const now = Date.now();
  const outcome = await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('users')
      .set({
        password_hash: hash,
        kek_salt: slot.kekSalt,
        wrapped_dek: slot.wrappedDek,
        key_id: slot.keyId || newKeyId(),
        failed_logins: 0,
        locked_until: null,
        updated_at: now,
      })
      .where('id', '=', userId)
      .execute();
    const accounts = await tx
      .updateTable('mail_accounts')
      .set({
        needs_password: 1,
        last_status: 'needs_password',
        last_error: 'Credentials must be re-entered after a password reset',
        updated_at: now,
      })
      .where('user_id', '=', userId)
      .executeTakeFirst();
    const msgs = await tx.deleteFrom('messages').where('user_id', '=', userId).executeTakeFirst();
    const accountIds = tx.selectFrom('mail_accounts').select('id').where('user_id', '=', userId);
    await tx.deleteFrom('server_messages').where('account_id', 'in', accountIds).execute();
    await tx.deleteFrom('folders').where('account_id', 'in', accountIds).execute();
    await tx.deleteFrom('blob_chunks').where('account_id', 'in', accountIds).execute();
    await tx.deleteFrom('sessions').where('user_id', '=', userId).execute();
    await tx.updateTable('grants').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
    const n = Number(accounts.numUpdatedRows);
    const m = Number(msgs.numDeletedRows);
    return {
      accountsNeedingPassword: n,
      messagesDropped: m,
      notice:
        `The password of ${user.username} was reset and a NEW encryption key was created. ` +
        'The old key cannot be recovered without the old password: ' +
        `the credentials of ${n} mail account(s) must be re-entered, and ${m} stored message(s) that could only be read with the old key were removed (the next sync fetches them again).`,
    };
  });
  // Their sealed raw sources outside the database too: readable only with the old key.
  dropAccountPacks(db, await accountIdsOf(db, userId));
  return outcome;
}

export async function deleteUser(db: Db, userId: number): Promise<boolean> {
  return deleteUserRow(db, userId);
}
