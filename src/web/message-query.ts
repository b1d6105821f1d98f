// The message list's query parameters (?account=&folder=&page=&page_size=), shared by the dashboard and
// GET /api/messages: validated strictly, and the account/folder must be the user's own (else 400 naming it).
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { ListFilter } from '../messages/message-repo.js';
import type { Database } from '../store/schema.js';
import { parseInput, type FieldErrors } from './forms.js';

export const PAGE_SIZE_DEFAULT = 50;
export const PAGE_SIZE_MAX = 200;

/** '' (an empty select) means "no filter"; repeated parameters arrive as arrays and are refused. */
const optionalInt = (max: number) =>
  z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string({ message: 'must be given once, as a whole number' })
      .regex(/^[1-9][0-9]{0,8}$/, `must be a whole number from 1 to ${max}`)
      .transform(Number)
      .refine((n) => n <= max, `must be a whole number from 1 to ${max}`)
      .optional(),
  );

const listQuery = z.object({
  account: optionalInt(999_999_999),
  folder: optionalInt(999_999_999),
  page: optionalInt(1_000_000),
  page_size: optionalInt(PAGE_SIZE_MAX),
});

export interface AccountChoice {
  id: number;
  name: string;
}

export interface FolderChoice {
  id: number;
  accountId: number;
  accountName: string;
  path: string;
}

export interface ListQuery {
  filter: Required<Pick<ListFilter, 'page' | 'pageSize'>> & Pick<ListFilter, 'accountId' | 'folderId'>;
  accounts: AccountChoice[];
  folders: FolderChoice[];
}

/** The user's accounts and their (live) folders, for the filter controls and for checking the parameters. */
async function choices(db: Kysely<Database>, userId: number): Promise<{ accounts: AccountChoice[]; folders: FolderChoice[] }> {
  const accounts = await db
    .selectFrom('mail_accounts')
    .select(['id', 'name'])
    .where('user_id', '=', userId)
    .orderBy('name')
    .orderBy('id')
    .execute();
  const folders = await db
    .selectFrom('folders as f')
    .innerJoin('mail_accounts as a', 'a.id', 'f.account_id')
    .select(['f.id', 'f.account_id', 'a.name', 'f.path'])
    .where('a.user_id', '=', userId)
    .where('f.status', '=', 'active')
    .orderBy('a.name')
    .orderBy('f.path')
    .execute();
  return {
    accounts: accounts.map((a) => ({ id: Number(a.id), name: a.name })),
    folders: folders.map((f) => ({ id: Number(f.id), accountId: Number(f.account_id), accountName: f.name, path: f.path })),
  };
}

export async function resolveListQuery(
  db: Kysely<Database>,
  userId: number,
  query: unknown,
): Promise<{ ok: true; value: ListQuery } | { ok: false; errors: FieldErrors; accounts: AccountChoice[]; folders: FolderChoice[] }> {
  const { accounts, folders } = await choices(db, userId);
  const parsed = parseInput(listQuery, query);
  if (!parsed.ok) return { ok: false, errors: parsed.errors, accounts, folders };
  const q = parsed.data;
  const errors: FieldErrors = {};
  if (q.account !== undefined && !accounts.some((a) => a.id === q.account)) errors.account = 'is not one of your mail accounts';
  const folder = q.folder === undefined ? undefined : folders.find((f) => f.id === q.folder);
  if (q.folder !== undefined && !folder) errors.folder = 'is not one of your folders';
  else if (folder && q.account !== undefined && folder.accountId !== q.account) errors.folder = 'does not belong to the chosen account';
  if (Object.keys(errors).length) return { ok: false, errors, accounts, folders };
  return {
    ok: true,
    value: {
      filter: { accountId: q.account, folderId: q.folder, page: q.page ?? 1, pageSize: q.page_size ?? PAGE_SIZE_DEFAULT },
      accounts,
      folders,
    },
  };
}
