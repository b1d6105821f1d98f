// Step 3: stored messages against the mirrored state, set-based. Same stable id elsewhere → a move
// (folder/uid updated, never refetched); other flags → updated; no longer on the server → soft-deleted;
// back again → restored. Messages of folders the account no longer follows are left as they are.
import { sql, type RawBuilder, type Transaction } from 'kysely';
import type { Store } from '../store/db.js';
import type { Database } from '../store/schema.js';
import { chunks } from './plan.js';

export interface ReconcileResult {
  moved: number;
  flagChanges: number;
  restored: number;
  deleted: number;
}

/** Beyond this many touched ids one pass over the account is cheaper than many id lists. */
const MAX_TOUCHED = 2000;
const ID_CHUNK = 500;

interface Scope {
  byStableId: RawBuilder<unknown>;
  byRowId: RawBuilder<unknown>;
}

/**
 * `touched`: the stable ids whose server locations changed in this run, or null to look at the
 * whole account (after an interrupted run, whose changes nobody listed).
 */
export async function reconcile(
  store: Store,
  accountId: number,
  unfollowedFolderIds: number[],
  touched: ReadonlySet<string> | null = null,
): Promise<ReconcileResult> {
  const now = Date.now();
  const total: ReconcileResult = { moved: 0, flagChanges: 0, restored: 0, deleted: 0 };
  if (touched !== null && touched.size === 0) return total;
  // Two spellings of one scope, each the one SQLite's planner (no ANALYZE statistics) turns into
  // index lookups: the join queries by stable id; the delete by row id, because next to
  // "deleted_at is null" a bare stable-id list makes it walk every live message instead.
  const scopes: Scope[] =
    touched === null || touched.size > MAX_TOUCHED
      ? [{ byStableId: sql``, byRowId: sql`` }]
      : chunks([...touched], ID_CHUNK).map((ids) => ({
          byStableId: sql`and messages.stable_id in (${sql.join(ids)})`,
          byRowId: sql`and messages.id in (select id from messages where account_id = ${accountId} and stable_id in (${sql.join(ids)}))`,
        }));
  return store.redoable.transaction().execute(async (trx) => {
    for (const scope of scopes) {
      const r = await reconcileScope(trx, accountId, unfollowedFolderIds, scope, now);
      total.moved += r.moved;
      total.flagChanges += r.flagChanges;
      total.restored += r.restored;
      total.deleted += r.deleted;
    }
    return total;
  });
}

async function reconcileScope(
  trx: Transaction<Database>,
  accountId: number,
  unfollowedFolderIds: number[],
  scope: Scope,
  now: number,
): Promise<ReconcileResult> {
  const counts = await sql<{ moved: number | null; flag_changes: number | null; restored: number | null }>`
    select
      sum(case when messages.deleted_at is not null then 1 else 0 end) as restored,
      sum(case when messages.deleted_at is null and (messages.folder_id is null or messages.folder_id <> sm.folder_id or messages.uid <> sm.uid) then 1 else 0 end) as moved,
      sum(case when messages.flags <> sm.flags then 1 else 0 end) as flag_changes
    from messages join server_messages sm on sm.account_id = messages.account_id and sm.stable_id = messages.stable_id
    where messages.account_id = ${accountId} ${scope.byStableId}
      and (messages.deleted_at is not null or messages.folder_id is null or messages.folder_id <> sm.folder_id
           or messages.uid <> sm.uid or messages.flags <> sm.flags)`.execute(trx);
  const c = counts.rows[0] ?? { moved: 0, flag_changes: 0, restored: 0 };
  const changed = Number(c.moved ?? 0) + Number(c.flag_changes ?? 0) + Number(c.restored ?? 0);
  if (changed > 0) {
    await sql`
      update messages set folder_id = sm.folder_id, uid = sm.uid, flags = sm.flags, deleted_at = null, updated_at = ${now}
      from server_messages sm
      where sm.account_id = messages.account_id and sm.stable_id = messages.stable_id and messages.account_id = ${accountId} ${scope.byStableId}
        and (messages.deleted_at is not null or messages.folder_id is null or messages.folder_id <> sm.folder_id
             or messages.uid <> sm.uid or messages.flags <> sm.flags)`.execute(trx);
  }
  const unfollowed =
    unfollowedFolderIds.length > 0 ? sql`and (folder_id is null or folder_id not in (${sql.join(unfollowedFolderIds)}))` : sql``;
  const del = await sql`
    update messages set deleted_at = ${now}, updated_at = ${now}
    where account_id = ${accountId} and deleted_at is null ${unfollowed} ${scope.byRowId}
      and not exists (select 1 from server_messages sm where sm.account_id = messages.account_id and sm.stable_id = messages.stable_id)`.execute(
    trx,
  );
  return {
    moved: Number(c.moved ?? 0),
    flagChanges: Number(c.flag_changes ?? 0),
    restored: Number(c.restored ?? 0),
    deleted: Number(del.numAffectedRows ?? 0),
  };
}
