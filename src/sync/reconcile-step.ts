// Step 3: stored messages against the mirrored state, set-based. Same stable id elsewhere → a move
// (folder/uid updated, never refetched); other flags → updated; no longer on the server → soft-deleted;
// back again → restored. Messages of folders the account no longer follows are left as they are.
import { sql } from 'kysely';
import type { Store } from '../store/db.js';

export interface ReconcileResult {
  moved: number;
  flagChanges: number;
  restored: number;
  deleted: number;
}

export async function reconcile(store: Store, accountId: number, unfollowedFolderIds: number[]): Promise<ReconcileResult> {
  const now = Date.now();
  return store.db.transaction().execute(async (trx) => {
    const counts = await sql<{ moved: number | null; flag_changes: number | null; restored: number | null }>`
      select
        sum(case when m.deleted_at is not null then 1 else 0 end) as restored,
        sum(case when m.deleted_at is null and (m.folder_id is null or m.folder_id <> sm.folder_id or m.uid <> sm.uid) then 1 else 0 end) as moved,
        sum(case when m.flags <> sm.flags then 1 else 0 end) as flag_changes
      from messages m join server_messages sm on sm.account_id = m.account_id and sm.stable_id = m.stable_id
      where m.account_id = ${accountId}
        and (m.deleted_at is not null or m.folder_id is null or m.folder_id <> sm.folder_id or m.uid <> sm.uid or m.flags <> sm.flags)`.execute(
      trx,
    );
    const c = counts.rows[0] ?? { moved: 0, flag_changes: 0, restored: 0 };
    const changed = Number(c.moved ?? 0) + Number(c.flag_changes ?? 0) + Number(c.restored ?? 0);
    if (changed > 0) {
      await sql`
        update messages set folder_id = sm.folder_id, uid = sm.uid, flags = sm.flags, deleted_at = null, updated_at = ${now}
        from server_messages sm
        where sm.account_id = messages.account_id and sm.stable_id = messages.stable_id and messages.account_id = ${accountId}
          and (messages.deleted_at is not null or messages.folder_id is null or messages.folder_id <> sm.folder_id
               or messages.uid <> sm.uid or messages.flags <> sm.flags)`.execute(trx);
    }
    const unfollowed =
      unfollowedFolderIds.length > 0 ? sql`and (folder_id is null or folder_id not in (${sql.join(unfollowedFolderIds)}))` : sql``;
    const del = await sql`
      update messages set deleted_at = ${now}, updated_at = ${now}
      where account_id = ${accountId} and deleted_at is null ${unfollowed}
        and not exists (select 1 from server_messages sm where sm.account_id = messages.account_id and sm.stable_id = messages.stable_id)`.execute(
      trx,
    );
    return {
      moved: Number(c.moved ?? 0),
      flagChanges: Number(c.flag_changes ?? 0),
      restored: Number(c.restored ?? 0),
      deleted: Number(del.numAffectedRows ?? 0),
    };
  });
}
