// The engine's SQL: folders, the server-state mirror and stored messages. Set-based statements
// and multi-row inserts inside transactions keep writes off the per-message round trip.
import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import { joinPieces } from '../crypto/aead.js';
import type { Store } from '../store/db.js';
import { CHUNK_COPY, chunkPack, newPackId } from '../store/blob-chunks.js';
import { copyColumns, type CopyColumn, type CopyValue } from '../store/pg-copy.js';
import type { Database, MessagesTable } from '../store/schema.js';
import { familyBase, familyRange } from './identity.js';
import { chunks, type ListedFolder, type StoredFolder } from './plan.js';
import type { ThreadStoreTarget } from './thread-store.js';

const INSERT_CHUNK = 400;
/** Sealed bytes per INSERT statement of messages (see insertMessages). */
const STATEMENT_BYTES = 1024 * 1024;
/** The messages columns a fetched message sets, as COPY writes them (its sealed source is in blob_chunks, named by raw_ref). */
const MESSAGE_COPY = copyColumns({
  user_id: 'int8',
  account_id: 'int8',
  stable_id: 'text',
  folder_id: 'int8',
  uid: 'int8',
  flags: 'text',
  sent_at: 'int8',
  size: 'int8',
  meta_enc: 'bytea',
  raw_ref: 'text',
  parse_error: 'text',
  has_skipped_attachments: 'int4',
  created_at: 'int8',
  updated_at: 'int8',
});
const LOCATION_COPY = copyColumns({
  folder_id: 'int8',
  uid: 'int8',
  account_id: 'int8',
  stable_id: 'text',
  flags: 'text',
  internal_date: 'int8',
  size: 'int8',
});
/** PostgreSQL's unique_violation: another row has the same key. */
const UNIQUE_VIOLATION = '23505';

export interface ServerMessageRow {
  folder_id: number;
  uid: number;
  account_id: number;
  stable_id: string;
  flags: string;
  internal_date: number | null;
  size: number | null;
}

export interface PendingMessage {
  folder_id: number;
  uid: number;
  stable_id: string;
  flags: string;
  internal_date: number | null;
}

export interface FetchFilters {
  folderIds: number[];
  sinceMs: number | null;
  unseenOnly: boolean;
}

export class SyncStore {
  /** True once this run changed the mirrored state (the account was marked dirty before that write). */
  changed = false;
  /**
   * Stable ids whose server locations this run inserted, changed or removed: step 3 looks only at
   * these, so its cost follows the changes, not the mailbox. (Leftovers of an interrupted run are
   * not listed here; the engine reconciles the whole account then.)
   */
  readonly touched = new Set<string>();
  /** Server locations this run removed (vanished, folder reset or gone): new UIDs may then be moves. */
  removed = 0;
  /** Ids whose only touch this run is the insertion of a new location, as written (see settle). */
  private readonly insertedOnly = new Set<string>();
  /**
   * Touched ids whose message this run stored from their new location, untouched since: step 3 would
   * find nothing to do for them (a first sync's every message, most of a later sync's new mail).
   */
  private readonly settled = new Set<string>();
  /**
   * The account's whole mirror, while this run wrote all of it: set up (mirrorStartsEmpty) when the run
   * found no location of the account stored, kept by every insert, dropped at the first removal or
   * conflict. Then a new batch's claims are answered here, not by the store (a first sync of 10,000
   * messages on PostgreSQL waited 5-40 ms for its queries per batch of 100). Folder id → mirrored UIDs, and
   * base → the ids of its family (one sync of an account at a time: nobody else writes its mirror).
   */
  private ledger: { uids: Map<number, Set<number>>; families: Map<string, string[]> } | null = null;

  constructor(
    private readonly store: Store,
    private readonly accountId: number,
  ) {}

  /** Marks the account dirty before the first state write of a run, so an interruption anywhere leaves it marked. */
  private async beforeChange(): Promise<void> {
    if (this.changed) return;
    await this.setDirty(1, null);
    this.changed = true;
  }

  /** Every write of the sync goes through `redoable` (see Store.redoable); several statements through `write`. */
  get redoable(): Kysely<Database> {
    return this.store.redoable;
  }

  write<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.store.redoable.transaction().execute(fn);
  }

  private async setDirty(dirty: number, settingsHash: string | null): Promise<void> {
    const now = Date.now();
    await this.redoable
      .insertInto('sync_account_state')
      .values({ account_id: this.accountId, dirty, settings_hash: settingsHash, updated_at: now })
      .onConflict((oc) =>
        oc
          .column('account_id')
          .doUpdateSet(dirty === 1 ? { dirty, updated_at: now } : { dirty, settings_hash: settingsHash, updated_at: now }),
      )
      .execute();
  }

  /**
   * Whether earlier runs left work behind. No row yet: no run has written this account's state (the row
   * is written before the first such write), so only an account stored by a version before the row
   * existed has any; one that stores nothing is new and left nothing.
   */
  async leftover(settingsHash: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('sync_account_state')
      .select(['dirty', 'settings_hash'])
      .where('account_id', '=', this.accountId)
      .executeTakeFirst();
    if (!row) return (await this.hasServerMessages()) || (await this.hasMessages());
    return row.dirty === 1 || row.settings_hash !== settingsHash;
  }

  /** Everything is reconciled and nothing remains to fetch under these filters. */
  async markClean(settingsHash: string): Promise<void> {
    await this.setDirty(0, settingsHash);
  }

  /**
   * The sync's reads go through `redoable`'s connections too (synchronous_commit is nothing to a read):
   * a run then opens one pool's connections, each PostgreSQL backend warming its catalog caches once.
   */
  get db(): Kysely<Database> {
    return this.store.redoable;
  }

  async loadFolders(accountId: number): Promise<StoredFolder[]> {
    const rows = await this.db
      .selectFrom('folders')
      .select(['id', 'path', 'status', 'uidvalidity', 'uidnext', 'highestmodseq', 'delimiter', 'special_use'])
      .where('account_id', '=', accountId)
      .execute();
    return rows.map((r) => ({
      ...r,
      uidvalidity: r.uidvalidity === null ? null : Number(r.uidvalidity),
      uidnext: r.uidnext === null ? null : Number(r.uidnext),
    }));
  }

  /** Creates or revives the folder row (a folder deleted and re-created starts from scratch via its UIDVALIDITY). */
  async upsertFolder(accountId: number, f: ListedFolder): Promise<number> {
    const row = await this.redoable
      .insertInto('folders')
      .values({ account_id: accountId, path: f.path, delimiter: f.delimiter, special_use: f.specialUse, status: 'active' })
      .onConflict((oc) =>
        oc.columns(['account_id', 'path']).doUpdateSet({ status: 'active', delimiter: f.delimiter, special_use: f.specialUse }),
      )
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  /** A folder gone from the server: its mirror rows go, so reconcile soft-deletes or re-homes its messages. */
  async markFolderGone(folderId: number): Promise<void> {
    await this.beforeChange();
    await this.write(async (trx) => {
      this.touch(await trx.deleteFrom('server_messages').where('folder_id', '=', folderId).returning('stable_id').execute(), true);
      await trx
        .updateTable('folders')
        .set({ status: 'gone', uidvalidity: null, uidnext: null, highestmodseq: null })
        .where('id', '=', folderId)
        .execute();
    });
  }

  async resetFolder(folderId: number): Promise<void> {
    await this.beforeChange();
    await this.write(async (trx) => {
      this.touch(await trx.deleteFrom('server_messages').where('folder_id', '=', folderId).returning('stable_id').execute(), true);
      await trx.updateTable('folders').set({ uidvalidity: null, uidnext: null, highestmodseq: null }).where('id', '=', folderId).execute();
    });
  }

  /** Mirrored messages per folder, for these folders only (a count per folder walks its rows). */
  async folderCounts(folderIds: number[]): Promise<Map<number, number>> {
    if (folderIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('server_messages')
      .select(['folder_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('folder_id', 'in', folderIds)
      .groupBy('folder_id')
      .execute();
    return new Map(rows.map((r) => [Number(r.folder_id), Number(r.n)]));
  }

  async saveFolderState(
    folderId: number,
    s: { uidvalidity?: number; uidnext?: number; highestmodseq?: string | null; lastSyncedAt?: number },
  ): Promise<void> {
    const set: Record<string, unknown> = {};
    if (s.uidvalidity !== undefined) set.uidvalidity = s.uidvalidity;
    if (s.uidnext !== undefined) set.uidnext = s.uidnext;
    if (s.highestmodseq !== undefined) set.highestmodseq = s.highestmodseq;
    if (s.lastSyncedAt !== undefined) set.last_synced_at = s.lastSyncedAt;
    if (Object.keys(set).length === 0) return;
    await this.redoable.updateTable('folders').set(set).where('id', '=', folderId).execute();
  }

  async knownFlags(folderId: number): Promise<Map<number, string>> {
    const rows = await this.db.selectFrom('server_messages').select(['uid', 'flags']).where('folder_id', '=', folderId).execute();
    return new Map(rows.map((r) => [Number(r.uid), r.flags]));
  }

  /** The account has no stored location at the start of this run: from here on, its claims are answered by the ledger. */
  mirrorStartsEmpty(): void {
    this.ledger = { uids: new Map(), families: new Map() };
  }

  async flagsOf(folderId: number, uids: number[]): Promise<Map<number, string>> {
    const mine = this.ledger?.uids.get(folderId);
    if (this.ledger && !uids.some((u) => mine?.has(u))) return new Map();
    const out = new Map<number, string>();
    for (const part of chunks(uids, INSERT_CHUNK)) {
      const rows = await this.db
        .selectFrom('server_messages')
        .select(['uid', 'flags'])
        .where('folder_id', '=', folderId)
        .where('uid', 'in', part)
        .execute();
      for (const r of rows) out.set(Number(r.uid), r.flags);
    }
    return out;
  }

  async knownUids(folderId: number): Promise<Set<number>> {
    const rows = await this.db.selectFrom('server_messages').select('uid').where('folder_id', '=', folderId).execute();
    return new Set(rows.map((r) => Number(r.uid)));
  }

  async applyStateChanges(folderId: number, changed: { uid: number; flags: string }[], vanished: number[]): Promise<void> {
    if (changed.length === 0 && vanished.length === 0) return;
    await this.beforeChange();
    await this.write(async (trx) => {
      for (const c of changed) {
        this.touch(
          await trx
            .updateTable('server_messages')
            .set({ flags: c.flags })
            .where('folder_id', '=', folderId)
            .where('uid', '=', c.uid)
            .returning('stable_id')
            .execute(),
        );
      }
      for (const part of chunks(vanished, INSERT_CHUNK)) {
        this.touch(
          await trx
            .deleteFrom('server_messages')
            .where('folder_id', '=', folderId)
            .where('uid', 'in', part)
            .returning('stable_id')
            .execute(),
          true,
        );
      }
    });
  }

  /** Stable ids of the given bases' families that some server location already claims. */
  async claimedIds(accountId: number, bases: string[]): Promise<Set<string>> {
    const claimed = new Set<string>();
    if (this.ledger) {
      for (const b of bases) for (const id of this.ledger.families.get(b) ?? []) claimed.add(id);
      return claimed;
    }
    for (const part of chunks([...new Set(bases)], INSERT_CHUNK)) {
      const rows = await this.db
        .selectFrom('server_messages')
        .select('stable_id')
        .where('account_id', '=', accountId)
        .where('stable_id', 'in', part)
        .execute();
      const found = await this.families(
        accountId,
        rows.map((r) => r.stable_id),
      );
      for (const id of found) claimed.add(id);
    }
    return claimed;
  }

  /** The claimed ids of these claimed bases' families. Only a claimed base can have claimed ordinals (they are handed out lowest first). */
  private async families(accountId: number, claimedBases: string[]): Promise<Set<string>> {
    const claimed = new Set<string>();
    for (const base of claimedBases) {
      const { from, to } = familyRange(base);
      const fam = await this.db
        .selectFrom('server_messages')
        .select('stable_id')
        .where('account_id', '=', accountId)
        .where('stable_id', '>=', from)
        .where('stable_id', '<', to)
        .execute();
      claimed.add(base);
      for (const f of fam) claimed.add(f.stable_id);
    }
    return claimed;
  }

  /**
   * flagsOf(folderId, uids) and claimedIds(bases) together, in one statement: one round trip on one
   * connection. Side by side, the two made a fresh process's pool open a third and a fourth PostgreSQL
   * connection whenever a COPY and a folder's UPDATE held the first two, and the claim waited for them
   * (~40 ms of a 100-message sync).
   */
  async claimLookup(folderId: number, uids: number[], bases: string[]): Promise<{ known: Map<number, string>; claimed: Set<string> }> {
    const distinct = [...new Set(bases)];
    if (this.ledger || uids.length === 0 || distinct.length === 0 || uids.length > INSERT_CHUNK || distinct.length > INSERT_CHUNK) {
      const [known, claimed] = await Promise.all([this.flagsOf(folderId, uids), this.claimedIds(this.accountId, bases)]);
      return { known, claimed };
    }
    const rows = await this.db
      .selectFrom('server_messages')
      .select([sql<string>`'u'`.as('k'), 'uid', 'flags', 'stable_id'])
      .where('folder_id', '=', folderId)
      .where('uid', 'in', uids)
      .unionAll((eb) =>
        eb
          .selectFrom('server_messages')
          .select([sql<string>`'s'`.as('k'), 'uid', 'flags', 'stable_id'])
          .where('account_id', '=', this.accountId)
          .where('stable_id', 'in', distinct),
      )
      .execute();
    const known = new Map(rows.filter((r) => r.k === 'u').map((r) => [Number(r.uid), r.flags]));
    const claimed = await this.families(
      this.accountId,
      rows.filter((r) => r.k === 's').map((r) => r.stable_id),
    );
    return { known, claimed };
  }

  /** Where a parse thread may write this run's sealed batches itself (SQLite on a file), else null. */
  threadTarget(): ThreadStoreTarget | null {
    const f = this.store.sqliteFile;
    if (!f) return null;
    f.expectBulkWrites(); // before the thread's connection copies this one's wal_autocheckpoint
    return { path: f.path, walAutoCheckpoint: f.walAutoCheckpoint() };
  }

  /** Many writes are coming (a first sync): SQLite's checkpoint thread starts now, not at the first batch. */
  expectBulkWrites(): void {
    this.store.sqliteFile?.expectBulkWrites();
  }

  /** The bookkeeping of insertServerMessages for rows another connection inserts (thread-store.ts). */
  async beforeInsertElsewhere(rows: ServerMessageRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.beforeChange();
    this.touch(rows, false, true);
    if (!this.ledger) return;
    for (const r of rows) {
      const uids = this.ledger.uids.get(r.folder_id) ?? new Set<number>();
      this.ledger.uids.set(r.folder_id, uids.add(r.uid));
      const base = familyBase(r.stable_id);
      const family = this.ledger.families.get(base);
      if (family) family.push(r.stable_id);
      else this.ledger.families.set(base, [r.stable_id]);
    }
  }

  private touch(rows: { stable_id: string }[], removed = false, inserted = false): void {
    for (const { stable_id: id } of rows) {
      if (inserted && !this.touched.has(id)) this.insertedOnly.add(id);
      else this.insertedOnly.delete(id);
      this.touched.add(id);
      this.settled.delete(id);
    }
    if (removed) this.removed += rows.length;
    // A removed id is free to be claimed again (a move): only the store knows which are free then.
    if (removed && rows.length > 0) this.ledger = null;
  }

  /**
   * Whether the new locations of these ids were all written as given (else some were there already:
   * what those hold is not known here). Told by insertServerMessages, and by the caller for the rows
   * of beforeInsertElsewhere once the other connection has inserted them.
   */
  locationsWritten(rows: { stable_id: string }[], all: boolean): void {
    if (all) return;
    for (const r of rows) this.insertedOnly.delete(r.stable_id);
    this.ledger = null; // some were stored already: the ledger was not the whole mirror
  }

  /**
   * The messages of these ids were all inserted, each from its location row as this run inserted it.
   * An id untouched since is settled: its message and its location agree, as step 3 would leave them.
   */
  settle(ids: string[]): void {
    for (const id of ids) if (this.insertedOnly.has(id)) this.settled.add(id);
  }

  /** The ids step 3 must look at: touched and not settled. */
  unreconciled(): Set<string> {
    if (this.settled.size === 0) return this.touched;
    return new Set([...this.touched].filter((id) => !this.settled.has(id)));
  }

  async insertServerMessages(rows: ServerMessageRow[]): Promise<void> {
    await this.beforeInsertElsewhere(rows);
    await this.insertLocations(rows);
  }

  /** The INSERT of insertServerMessages, for rows whose bookkeeping beforeInsertElsewhere did (BatchWriter writes them later). */
  async insertLocations(rows: ServerMessageRow[]): Promise<void> {
    if (rows.length === 0) return;
    if (await this.copied('server_messages', LOCATION_COPY, () => rows)) return; // all of them: nothing for locationsWritten to note
    const insert = async (db: Kysely<Database>, part: ServerMessageRow[]) => {
      const [r] = await db
        .insertInto('server_messages')
        .values(part)
        .onConflict((oc) => oc.columns(['folder_id', 'uid']).doNothing())
        .execute();
      return Number(r?.numInsertedOrUpdatedRows ?? 0);
    };
    // One statement is atomic by itself: no BEGIN and COMMIT round trips around it.
    const written =
      rows.length <= INSERT_CHUNK
        ? await insert(this.redoable, rows)
        : await this.write(async (trx) => {
            let n = 0;
            for (const part of chunks(rows, INSERT_CHUNK)) n += await insert(trx, part);
            return n;
          });
    this.locationsWritten(rows, written === rows.length);
  }

  /**
   * Inserts fetched messages, each row's sealed source beside it as pieces (null: it is in a pack and
   * the row names it); says how many were new (the others were stored already). On PostgreSQL the
   * sources go to blob_chunks first, then the rows that name them, each by one COPY (see copied).
   */
  async insertMessages(rows: Insertable<MessagesTable>[], raw: (readonly Buffer[] | null)[]): Promise<number> {
    if (rows.length === 0) return 0;
    if (this.store.copyRows) {
      rows = await this.chunked(rows, raw);
      if (await this.copied('messages', MESSAGE_COPY, () => rows)) return rows.length;
    }
    const full = rows.map((r, i) => (raw[i] && !r.raw_ref ? { ...r, raw_enc: joinPieces(raw[i]) } : r));
    // Statements of about STATEMENT_BYTES each: the driver builds each statement's parameters in a buffer
    // it grows step by step (pg: by half again, copying), so a 4 MB statement held several transient
    // copies of the batch (~20 MB of peak RSS on PostgreSQL). Each insert stands alone (a rerun redoes any).
    let inserted = 0;
    for (let i = 0; i < full.length;) {
      let j = i;
      const size = (k: number) => full[k].raw_enc?.length ?? 0;
      for (let bytes = 0; j < full.length && (j === i || bytes + size(j) <= STATEMENT_BYTES); j++) bytes += size(j);
      const [r] = await this.redoable
        .insertInto('messages')
        .values(full.slice(i, j))
        .onConflict((oc) => oc.columns(['account_id', 'stable_id']).doNothing())
        .execute();
      inserted += Number(r?.numInsertedOrUpdatedRows ?? 0);
      i = j;
    }
    return inserted;
  }

  /**
   * PostgreSQL: writes the batch's sources as one pack of blob_chunks (committed before the rows that will
   * name them) and returns the rows with their raw_ref set.
   */
  private async chunked(rows: Insertable<MessagesTable>[], raw: (readonly Buffer[] | null)[]): Promise<Insertable<MessagesTable>[]> {
    const withSource = rows.flatMap((_, i) => (raw[i] ? [i] : []));
    if (withSource.length === 0) return rows;
    for (let attempt = 1; ; attempt++) {
      const pack = chunkPack(
        this.accountId,
        newPackId(),
        withSource.map((i) => raw[i]!),
      );
      try {
        await this.store.copyRows!('blob_chunks', CHUNK_COPY, pack.rows);
      } catch (err) {
        // Another pack of the account has the same number: take another.
        if ((err as { code?: string }).code === UNIQUE_VIOLATION && attempt < 3) continue;
        throw err;
      }
      const out = rows.slice();
      withSource.forEach((i, k) => (out[i] = { ...rows[i], raw_ref: pack.refs[k] }));
      return out;
    }
  }

  /**
   * On PostgreSQL, inserts the rows (`rows()` is called only then) by one COPY (src/store/pg-copy.ts) and says true. COPY has no ON
   * CONFLICT: rows of which one is there already (none is expected: a sync writes what it found missing,
   * one sync of an account at a time) fail whole, and false says to insert them with DO NOTHING instead.
   */
  private async copied(table: 'messages' | 'server_messages', columns: readonly CopyColumn[], rows: () => object[]): Promise<boolean> {
    if (!this.store.copyRows) return false;
    try {
      await this.store.copyRows(
        table,
        columns,
        rows().map((r) => columns.map((c) => (r as Record<string, CopyValue>)[c.name])),
      );
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) return false;
      throw err;
    }
  }

  private pendingQuery(accountId: number, f: FetchFilters) {
    let q = this.db
      .selectFrom('server_messages as sm')
      .leftJoin('messages as m', (j) => j.onRef('m.account_id', '=', 'sm.account_id').onRef('m.stable_id', '=', 'sm.stable_id'))
      .where('sm.account_id', '=', accountId)
      .where('m.id', 'is', null);
    if (f.folderIds.length > 0) q = q.where('sm.folder_id', 'in', f.folderIds);
    else q = q.where(sql<boolean>`1 = 0`);
    if (f.sinceMs !== null) q = q.where('sm.internal_date', '>=', f.sinceMs);
    if (f.unseenOnly) {
      const seen = '"\\\\Seen"';
      q =
        this.store.dialect === 'postgres'
          ? q.where(sql<boolean>`strpos(sm.flags, ${seen}) = 0`)
          : q.where(sql<boolean>`instr(sm.flags, ${seen}) = 0`);
    }
    return q;
  }

  /** Messages in the state but not stored, newest first. */
  async pending(accountId: number, f: FetchFilters, limit: number | null): Promise<PendingMessage[]> {
    let q = this.pendingQuery(accountId, f)
      .select(['sm.folder_id', 'sm.uid', 'sm.stable_id', 'sm.flags', 'sm.internal_date'])
      .orderBy(sql`coalesce(sm.internal_date, 0)`, 'desc')
      .orderBy('sm.uid', 'desc');
    if (limit !== null) q = q.limit(limit);
    const rows = await q.execute();
    return rows.map((r) => ({
      ...r,
      folder_id: Number(r.folder_id),
      uid: Number(r.uid),
      internal_date: r.internal_date === null ? null : Number(r.internal_date),
    }));
  }

  async countPending(accountId: number, f: FetchFilters): Promise<number> {
    const r = await this.pendingQuery(accountId, f)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Which of these stable ids a stored message (live or soft-deleted) has. */
  async storedIds(stableIds: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunks(stableIds, INSERT_CHUNK)) {
      const rows = await this.db
        .selectFrom('messages')
        .select('stable_id')
        .where('account_id', '=', this.accountId)
        .where('stable_id', 'in', part)
        .execute();
      for (const r of rows) out.add(r.stable_id);
    }
    return out;
  }

  /** Whether the account has any mirrored server location. */
  async hasServerMessages(): Promise<boolean> {
    const row = await this.db
      .selectFrom('server_messages')
      .select('uid')
      .where('account_id', '=', this.accountId)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Whether the account stores any message at all (live or soft-deleted). */
  async hasMessages(): Promise<boolean> {
    const row = await this.db.selectFrom('messages').select('id').where('account_id', '=', this.accountId).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /** Whether the account has soft-deleted messages (which a new UID could bring back). */
  async hasDeletedMessages(): Promise<boolean> {
    const row = await this.db
      .selectFrom('messages')
      .select('id')
      .where('account_id', '=', this.accountId)
      .where('deleted_at', 'is not', null)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Mirrored messages in these folders (this account's folder rows). */
  async countServerMessages(folderIds: number[]): Promise<number> {
    if (folderIds.length === 0) return 0;
    const r = await this.db
      .selectFrom('server_messages')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      // By folder alone: the primary key covers it, no row is read.
      .where('folder_id', 'in', folderIds)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}
