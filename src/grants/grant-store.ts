// Sync grants: the user's DEK wrapped under the server secret, with an expiry, so a background job can
// decrypt credentials without the user's password. A job payload carries only the grant's id.
import { randomBytes } from 'node:crypto';
import { unwrapDek, wrapDek } from '../crypto/keys.js';
import { DecryptError } from '../crypto/aead.js';
import type { Store } from '../store/db.js';
import type { Grant } from '../store/schema.js';

export type GrantKind = 'task' | 'schedule';

/** Why a grant cannot be used; the message is safe to show and says what to do. */
export class GrantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GrantError';
  }
}

const PURPOSE = 'grant';

export function newGrantId(): string {
  return `g_${randomBytes(16).toString('hex')}`;
}

export interface GrantInput {
  userId: number;
  accountId: number | null;
  kind: GrantKind;
  keyId: string;
  dek: Buffer;
  ttlMs: number;
  id?: string;
}

/** The row to insert (callers may insert it inside their own transaction). */
export function grantRow(key: Buffer, input: GrantInput, now = Date.now()): Grant {
  return {
    id: input.id ?? newGrantId(),
    user_id: input.userId,
    account_id: input.accountId,
    kind: input.kind,
    key_id: input.keyId,
    wrapped_dek: wrapDek(key, input.dek, `${PURPOSE}:${input.userId}`),
    expires_at: now + input.ttlMs,
    revoked_at: null,
    created_at: now,
  };
}

export async function createGrant(store: Store, key: Buffer, input: GrantInput): Promise<Grant> {
  const row = grantRow(key, input);
  await store.db.insertInto('grants').values(row).execute();
  return row;
}

/**
 * Opens a grant for `userId`: it must exist, belong to the user, be unrevoked and unexpired, and fit
 * the user's current key. Returns the DEK for this run only.
 */
export async function openGrant(
  store: Store,
  key: Buffer,
  grantId: string,
  userId: number,
  now = Date.now(),
): Promise<{ dek: Buffer; grant: Grant }> {
  const grant = await store.db.selectFrom('grants').selectAll().where('id', '=', grantId).executeTakeFirst();
  if (!grant || grant.user_id !== userId)
    throw new GrantError('The key grant for this task no longer exists; start the sync again while logged in.');
  if (grant.revoked_at !== null) throw new GrantError('The key grant for this task was revoked; start the sync again while logged in.');
  if (grant.expires_at <= now)
    throw new GrantError(
      `The key grant for this task expired at ${new Date(grant.expires_at).toISOString()}; start the sync again while logged in.`,
    );
  const user = await store.db.selectFrom('users').select(['key_id']).where('id', '=', userId).executeTakeFirst();
  if (!user) throw new GrantError('The user of this task no longer exists.');
  if (user.key_id !== grant.key_id)
    throw new GrantError("The user's key was replaced after this task was queued; start the sync again while logged in.");
  try {
    return { dek: unwrapDek(key, grant.wrapped_dek, `${PURPOSE}:${userId}`), grant };
  } catch (err) {
    if (err instanceof DecryptError)
      throw new GrantError(
        'The key grant cannot be opened with this server secret: every worker needs the same SERVER_SECRET as the web server.',
      );
    throw err;
  }
}

/** A copy of a grant (same DEK, new id and expiry) for a child task; the parent's grant may end first. */
export async function deriveGrant(
  store: Store,
  key: Buffer,
  parent: { grantId: string; userId: number },
  accountId: number,
  ttlMs: number,
): Promise<Grant> {
  const { dek, grant } = await openGrant(store, key, parent.grantId, parent.userId);
  return createGrant(store, key, { userId: parent.userId, accountId, kind: 'task', keyId: grant.key_id, dek, ttlMs });
}

/** Task grants end with their task; schedule grants end when the user turns the schedule off. */
export async function deleteTaskGrant(store: Store, grantId: string | null): Promise<void> {
  if (!grantId) return;
  await store.db.deleteFrom('grants').where('id', '=', grantId).where('kind', '=', 'task').execute();
}

export async function revokeGrant(store: Store, grantId: string, userId: number): Promise<void> {
  await store.db.updateTable('grants').set({ revoked_at: Date.now() }).where('id', '=', grantId).where('user_id', '=', userId).execute();
}
