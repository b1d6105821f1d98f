// Users table access. Business rules (first user is admin, lockout, keys) live in user-service.ts.
import type { Kysely } from 'kysely';
import { dropAccountPacks } from '../store/blob-packs.js';
import type { Database, NewUser, User } from '../store/schema.js';

export type Db = Kysely<Database>;

export function findUserByName(db: Db, username: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
}

export function findUserById(db: Db, id: number): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function countUsers(db: Db): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertUser(db: Db, user: NewUser): Promise<number> {
  const row = await db.insertInto('users').values(user).returning('id').executeTakeFirstOrThrow();
  return Number(row.id);
}

export interface UserSummary {
  id: number;
  username: string;
  isAdmin: boolean;
  createdAt: number;
  lockedUntil: number | null;
  accounts: number;
}

export async function listUsers(db: Db): Promise<UserSummary[]> {
  const rows = await db
    .selectFrom('users')
    .leftJoin('mail_accounts', 'mail_accounts.user_id', 'users.id')
    .select((eb) => [
      'users.id',
      'users.username',
      'users.is_admin',
      'users.created_at',
      'users.locked_until',
      eb.fn.count<number>('mail_accounts.id').as('accounts'),
    ])
    .groupBy(['users.id', 'users.username', 'users.is_admin', 'users.created_at', 'users.locked_until'])
    .orderBy('users.id')
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    username: r.username,
    isAdmin: r.is_admin === 1,
    createdAt: Number(r.created_at),
    lockedUntil: r.locked_until === null ? null : Number(r.locked_until),
    accounts: Number(r.accounts),
  }));
}

/** The ids of a user's mail accounts. */
export async function accountIdsOf(db: Db, userId: number): Promise<number[]> {
  const rows = await db.selectFrom('mail_accounts').select('id').where('user_id', '=', userId).execute();
  return rows.map((r) => Number(r.id));
}

/** Deletes the user and, through the schema's cascades, everything of theirs; then their accounts' packs. */
export async function deleteUserRow(db: Db, id: number): Promise<boolean> {
  const accounts = await accountIdsOf(db, id);
  const res = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
  const deleted = Number(res.numDeletedRows) > 0;
  if (deleted) dropAccountPacks(db, accounts);
  return deleted;
}

/** Instance settings (app_settings table). */
export async function getSetting(db: Db, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('app_settings').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

export async function setSetting(db: Db, key: string, value: string): Promise<void> {
  const now = Date.now();
  await db
    .insertInto('app_settings')
    .values({ key, value, updated_at: now })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
    .execute();
}
