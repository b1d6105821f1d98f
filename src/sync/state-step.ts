// Step 1: mirror the server's state (UID, flags, stable id) per folder, incrementally.
// Two passes so that moves are recognised whatever the folder order: pass A applies flag changes
// and expunges of every folder first, pass B then reads new UIDs and claims stable ids (a moved
// message's old location is already gone, so its new location claims the same id).
import type { FlagsEvent, ImapFlow, MailboxLockObject } from 'imapflow';
import type { FetchedBody } from './fetch-response.js';
import { readBodies } from './body-fetch.js';
import { fetchBodies, FLUSH_BYTES, FLUSH_COUNT, type BatchWriter, type Fetched } from './fetch-step.js';
import { claimStableId, headerBlock, identityBase, parseIdentityHeaders, withOrdinal } from './identity.js';
import { parserPoolFor, type ParserPool } from './parser-pool.js';
import {
  chunks,
  diffKnownMessages,
  flagsText,
  planFolder,
  uidSet,
  type FolderAction,
  type ListedFolder,
  type StoredFolder,
} from './plan.js';
import type { SyncStore, ServerMessageRow } from './sync-store.js';
import type { SyncRun } from './sync-run.js';

const HEADER_BATCH = 500;
const IDENTITY_HEADERS = ['message-id', 'date', 'from', 'subject'];
/** UIDs per FETCH when bodies are read instead of headers. */
const BODY_FETCH_BATCH = 500;
/** Beyond this many new UIDs in one folder, their bodies are left to step 2 (bounded memory here). */
const IN_VISIT_MAX = 2000;
/** Up to this many new UIDs, a folder's changes are asked for with EXAMINE (QRESYNC); beyond, by a FETCH of the known UIDs. */
const QRESYNC_NEW_MAX = 10;

/**
 * Bodies read in pass B, saving step 2's second visit of the folder, when step 2's cap would not
 * cut anything anyway. `instead`: no new UID can be a move or a return of a stored message (the
 * engine checks), so each body is read once and the identity taken from its header. Otherwise
 * identity headers first, then the bodies of the new UIDs whose stable id no stored message has
 * (moves are never refetched).
 */
export interface BodiesAlong {
  writer: BatchWriter;
  /** Used with `instead`; otherwise chosen per folder by how much there is to parse. */
  parser: ParserPool | null;
  instead: boolean;
  filters: { sinceMs: number | null; unseenOnly: boolean };
  /** Bodies this run may still fetch (max_emails): mail that arrived after LIST must not push a run past it. */
  budget: number;
}

export interface FolderWork {
  id: number;
  path: string;
  listed: ListedFolder;
  stored: StoredFolder | undefined;
  action: FolderAction;
  /** First UID not yet mirrored (pass B reads from here), null when pass B has nothing to do. */
  newFrom: number | null;
  /**
   * The HIGHESTMODSEQ whose flag changes pass A applied. Pass B saves this, never the value of its own
   * EXAMINE: a flag changed between the two would otherwise be covered by the saved modseq unapplied.
   */
  appliedModseq?: string | null;
}

interface OpenedBox {
  uidValidity: number;
  uidNext: number;
  highestModseq: string | null;
  exists: number;
}

function boxState(client: ImapFlow): OpenedBox {
  const m = client.mailbox;
  if (!m) throw new Error('no mailbox selected');
  return {
    uidValidity: Number(m.uidValidity),
    uidNext: Number(m.uidNext),
    highestModseq: m.highestModseq !== undefined && m.highestModseq !== null ? String(m.highestModseq) : null,
    exists: m.exists,
  };
}

/** Is this the server saying the folder does not exist (deleted between LIST and SELECT)? */
export function isMissingFolder(err: unknown): boolean {
  const e = err as { serverResponseCode?: string; responseText?: string; responseStatus?: string };
  return (
    e?.serverResponseCode === 'NONEXISTENT' ||
    (e?.responseStatus === 'NO' && /doesn't exist|not exist|unknown mailbox/i.test(e.responseText ?? ''))
  );
}

export function planWork(
  run: SyncRun,
  folders: { id: number; listed: ListedFolder; stored: StoredFolder | undefined }[],
  counts: ReadonlyMap<number, number>,
): FolderWork[] {
  return folders.map((f) => {
    const action = planFolder(f.stored, f.listed.status, counts.get(f.id) ?? 0, run.condstore);
    let newFrom: number | null = null;
    if (action.kind === 'full') newFrom = 1;
    else if (action.kind === 'unchanged') newFrom = null;
    else newFrom = action.knownUpTo + 1;
    return { id: f.id, path: f.listed.path, listed: f.listed, stored: f.stored, action, newFrom };
  });
}

/** Pass A for one folder: flag changes and expunges among known UIDs. Returns false when the folder vanished. */
export async function passA(run: SyncRun, w: FolderWork): Promise<boolean> {
  if (w.action.kind !== 'incremental') {
    if (w.action.kind === 'full') await run.store.resetFolder(w.id);
    return true;
  }
  const action = w.action;
  // With QRESYNC, EXAMINE itself reports what changed since the saved modseq (flags as FETCH, expunges
  // as VANISHED (EARLIER)): no CHANGEDSINCE round trip. But it reports every new message too, each
  // costing ImapFlow's parser more than the round trip is worth beyond a few (FETCH 1:known leaves them out).
  const newAtMost = w.listed.status ? w.listed.status.uidNext - action.knownUpTo - 1 : Number.POSITIVE_INFINITY;
  const qresync =
    action.changedSince !== null && w.stored?.uidvalidity != null && run.client.enabled.has('QRESYNC') && newAtMost <= QRESYNC_NEW_MAX
      ? { uidValidity: w.stored.uidvalidity, changedSince: BigInt(action.changedSince) }
      : undefined;
  const early = qresync ? qresyncCollector(run, w) : null;
  const before = run.client.mailbox;
  let lock: MailboxLockObject | null;
  try {
    lock = await run.openFolder(w, qresync);
  } finally {
    early?.stop();
  }
  if (!lock) return false;
  try {
    const box = boxState(run.client);
    // Only an EXAMINE sent now with QRESYNC that the server honoured (same UIDVALIDITY, modseqs kept) counts.
    const honoured = run.client.mailbox !== before && (run.client.mailbox as { qresync?: boolean }).qresync === true;
    const reported = honoured ? early : null;
    if (box.uidValidity !== w.stored?.uidvalidity) {
      // UIDVALIDITY changed under us: every UID we know is void; rescan.
      await run.store.resetFolder(w.id);
      w.action = { kind: 'full' };
      w.newFrom = 1;
      return true;
    }
    if (action.knownUpTo >= 1) {
      const range = `1:${action.knownUpTo}`;
      let changed: { uid: number; flags: string }[] = [];
      let vanished: number[] = [];
      const changedSince = run.client.enabled.has('CONDSTORE') ? action.changedSince : null;
      if (reported) {
        changed = [...reported.flags].filter(([uid]) => uid <= action.knownUpTo).map(([uid, flags]) => ({ uid, flags }));
        vanished = reported.vanished.filter((u) => u <= action.knownUpTo);
      } else if (changedSince !== null) {
        const seen = run.collectVanished();
        for await (const m of run.client.fetch(range, { uid: true, flags: true }, { uid: true, changedSince: BigInt(changedSince) })) {
          if (m.uid <= action.knownUpTo) changed.push({ uid: m.uid, flags: flagsText(m.flags) });
        }
        vanished = seen.stop().filter((u) => u <= action.knownUpTo);
        if (!run.client.enabled.has('QRESYNC')) vanished = await vanishedBySearch(run, w, range);
      } else {
        // Fallback without CONDSTORE: UID + FLAGS of every known message, compared with ours.
        const server = new Map<number, string>();
        for await (const m of run.client.fetch(range, { uid: true, flags: true }, { uid: true })) server.set(m.uid, flagsText(m.flags));
        const diff = diffKnownMessages(await run.store.knownFlags(w.id), server);
        changed = diff.changed;
        vanished = diff.vanished;
      }
      if (reported || changedSince !== null) {
        // The server named the changed messages, with their flags: only their stored flags are read
        // (the cost follows the changes, not the folder size).
        const known = await run.store.flagsOf(
          w.id,
          changed.map((c) => c.uid),
        );
        changed = changed.filter((c) => known.has(c.uid) && known.get(c.uid) !== c.flags);
      }
      await run.store.applyStateChanges(w.id, changed, vanished);
      run.stats.flagChangesOnServer += changed.length;
      run.stats.vanishedOnServer += vanished.length;
    }
    w.newFrom = box.uidNext > action.knownUpTo + 1 ? action.knownUpTo + 1 : null;
    w.appliedModseq = box.highestModseq;
    // With nothing new, the folder's state is saved here; otherwise pass B saves it, modseq and UIDNEXT
    // together once the new UIDs are mirrored (an interruption before that redoes both: idempotent).
    if (w.newFrom === null)
      await run.store.saveFolderState(w.id, {
        ...(run.condstore ? { highestmodseq: box.highestModseq } : {}),
        uidnext: box.uidNext,
        lastSyncedAt: Date.now(),
      });
    return true;
  } finally {
    lock.release();
  }
}

/** Collects the flag changes and expunges an EXAMINE with QRESYNC reports for folder `w`. */
function qresyncCollector(run: SyncRun, w: FolderWork) {
  const flags = new Map<number, string>();
  const onFlags = (ev: FlagsEvent) => {
    if (ev.path === w.path && ev.uid !== undefined) flags.set(ev.uid, flagsText(ev.flags));
  };
  run.client.on('flags', onFlags);
  const seen = run.collectVanished();
  const out = {
    flags,
    vanished: [] as number[],
    stop() {
      run.client.off('flags', onFlags);
      out.vanished = seen.stop();
    },
  };
  return out;
}

async function vanishedBySearch(run: SyncRun, w: FolderWork, range: string): Promise<number[]> {
  const onServer = new Set(await run.searchUids(range));
  return [...(await run.store.knownUids(w.id))].filter((u) => !onServer.has(u));
}

/** Pass B for one folder: identity headers of new UIDs, stable ids claimed, mirror rows inserted. */
export async function passB(
  run: SyncRun,
  w: FolderWork,
  bodies: BodiesAlong | null = null,
  at: { folderIndex: number; folderCount: number } = { folderIndex: 1, folderCount: 1 },
): Promise<boolean> {
  if (w.newFrom === null) return true;
  const lock = await run.openFolder(w);
  if (!lock) return false;
  try {
    const box = boxState(run.client);
    let applied = w.appliedModseq ?? null;
    if (w.stored?.uidvalidity != null && w.action.kind !== 'full' && box.uidValidity !== w.stored.uidvalidity) {
      await run.store.resetFolder(w.id);
      w.newFrom = 1;
      applied = null; // everything is mirrored anew from this EXAMINE
    }
    const from = w.newFrom;
    const span = box.exists > 0 && box.uidNext > from ? box.uidNext - from : 0;
    // A span that one body FETCH covers within the budget is asked for as a UID range, without a
    // SEARCH first: the server answers for the UIDs that exist (expunged ones are left out).
    const asRange = bodies?.instead && span > 0 && span <= BODY_FETCH_BATCH && span <= bodies.budget;
    const uids = span > 0 && bodies?.instead && !asRange ? (await run.searchUids(`${from}:*`)).filter((u) => u >= from) : null;
    // Locations read with their bodies may still be on their way to the store: this writer inserts them.
    let locationsWriter: BatchWriter | null = null;
    if (bodies && asRange) {
      await readWithBodies(run, w, { from, to: box.uidNext - 1 }, bodies, at);
      locationsWriter = bodies.writer;
    } else if (bodies && uids && uids.length <= bodies.budget) {
      await readWithBodies(run, w, uids, bodies, at);
      locationsWriter = bodies.writer;
    } else if (span > 0) {
      let batch: ServerMessageRow[] = [];
      let bases: string[] = [];
      let inserted: ServerMessageRow[] | null = bodies ? [] : null;
      const flush = async () => {
        const rows = await claimAndInsert(run, batch, bases);
        if (inserted && inserted.length + rows.length > IN_VISIT_MAX) {
          run.deferred = true;
          inserted = null;
        } else if (inserted) inserted.push(...rows);
        batch = [];
        bases = [];
        run.throwIfAborted();
      };
      const query = { uid: true, flags: true, size: true, internalDate: true, headers: IDENTITY_HEADERS };
      for await (const m of run.client.fetch(`${w.newFrom}:*`, query, { uid: true })) {
        if (m.uid < w.newFrom) continue;
        const row = mirrorRow(run, w.id, m);
        bases.push(identityBase(run.stableKey, parseIdentityHeaders(m.headers), row.size ?? 0));
        batch.push(row);
        if (batch.length >= HEADER_BATCH) await flush();
      }
      await flush();
      if (bodies && inserted) await fetchNewContent(run, w, inserted, bodies, at);
    }
    const state = {
      uidvalidity: box.uidValidity,
      uidnext: box.uidNext,
      highestmodseq: run.condstore ? (applied ?? box.highestModseq) : null,
      lastSyncedAt: Date.now(),
    };
    // The folder's UIDNEXT is saved only once its locations are in the store: behind the writer's
    // inserts of them where they are in flight, and in either case alongside the next folder's reads
    // rather than waited for (a cold 100-message sync waited ~10-50 ms per folder here; on PostgreSQL,
    // beside the messages' inserts, the update itself 0.5-10 ms). The run waits for it before step 1
    // ends; a failed insert of the locations leaves the state unsaved for the rerun.
    const save = () => run.store.saveFolderState(w.id, state);
    run.alongside(locationsWriter ? locationsWriter.afterLocations(save) : save());
    return true;
  } finally {
    lock.release();
  }
}

function mirrorRow(run: SyncRun, folderId: number, m: FetchedBody): ServerMessageRow {
  return {
    folder_id: folderId,
    uid: m.uid,
    account_id: run.account.id,
    stable_id: '',
    flags: flagsText(m.flags),
    internal_date: m.internalDate ? new Date(m.internalDate).getTime() : null,
    size: m.size ?? 0,
  };
}

/** Fetch progress of one folder's bodies in pass B, counted from this folder's first stored message. */
function reportFetch(
  run: SyncRun,
  writer: BatchWriter,
  w: FolderWork,
  at: { folderIndex: number; folderCount: number },
  total: number,
): void {
  const progress = { phase: 'fetch' as const, folder: w.path, ...at, total };
  const start = writer.done;
  writer.onStored = (done) => run.progress({ ...progress, done: done - start });
  run.progress({ ...progress, done: 0 });
}

/** The bodies of newly mirrored UIDs that no stored message has, newest first, while the folder is open. */
async function fetchNewContent(
  run: SyncRun,
  w: FolderWork,
  inserted: ServerMessageRow[],
  bodies: BodiesAlong,
  at: { folderIndex: number; folderCount: number },
): Promise<void> {
  if (inserted.length === 0) return;
  const stored = await run.store.storedIds(inserted.map((r) => r.stable_id));
  const { sinceMs, unseenOnly } = bodies.filters;
  const want = inserted
    .filter((r) => !stored.has(r.stable_id))
    .filter((r) => sinceMs === null || (r.internal_date !== null && r.internal_date >= sinceMs))
    .filter((r) => !unseenOnly || !(JSON.parse(r.flags) as string[]).includes('\\Seen'))
    .sort((a, b) => (b.internal_date ?? 0) - (a.internal_date ?? 0) || b.uid - a.uid);
  if (want.length > bodies.budget) run.deferred = true;
  want.splice(bodies.budget);
  bodies.budget -= want.length;
  if (want.length === 0) return;
  reportFetch(run, bodies.writer, w, at, want.length);
  await fetchBodies(run, want, bodies.writer, parserPoolFor(want.length));
}

/**
 * Pass B with bodies: new UIDs (found by SEARCH, newest first; or a UID range read in one FETCH), each
 * body read once, mirrored, then handed to the writer with its new location. Takes what it reads from
 * the budget. On return the writer may still be storing the locations (see BatchWriter.submit).
 */
async function readWithBodies(
  run: SyncRun,
  w: FolderWork,
  newUids: number[] | { from: number; to: number },
  bodies: BodiesAlong,
  at: { folderIndex: number; folderCount: number },
): Promise<void> {
  // A range is counted at its span: an upper bound, corrected below once the answer is in.
  const [sets, expected] = Array.isArray(newUids)
    ? [
        chunks(
          [...newUids].sort((a, b) => b - a),
          BODY_FETCH_BATCH,
        ).map(uidSet),
        newUids.length,
      ]
    : [[`${newUids.from}:${newUids.to}`], newUids.to - newUids.from + 1];
  bodies.budget -= expected;
  let read = 0;
  reportFetch(run, bodies.writer, w, at, expected);
  let rows: ServerMessageRow[] = [];
  let bases: string[] = [];
  let got: Fetched[] = [];
  let bytes = 0;
  const flush = async () => {
    run.throwIfAborted();
    bodies.writer.settleCommitted(); // no claim is running now
    // The writer inserts the new locations with their batch (BatchWriter.submit), while this goes on.
    const fresh = await claimAndInsert(run, rows, bases, false);
    const inserted = new Set(fresh.map((r) => r.uid));
    // UIDs an interrupted earlier run already mirrored keep their rows; step 2 fetches them as pending.
    await bodies.writer.submit(
      got.filter((f) => inserted.has(f.p.uid)),
      bodies.parser,
      fresh,
    );
    rows = [];
    bases = [];
    got = [];
    bytes = 0;
    run.throwIfAborted();
  };
  for (const set of sets) {
    for await (const m of readBodies(run.client, set, true)) {
      read++;
      const row = mirrorRow(run, w.id, m);
      const raw = m.source ?? Buffer.alloc(0);
      rows.push(row);
      bases.push(identityBase(run.stableKey, parseIdentityHeaders(headerBlock(raw)), row.size ?? 0));
      // The row object is shared, so the stable id claimed at flush time reaches the writer.
      got.push({ p: row, raw });
      bytes += raw.length;
      if (rows.length >= FLUSH_COUNT || bytes >= FLUSH_BYTES) await flush();
    }
    await flush();
  }
  bodies.budget += expected - read;
}

/**
 * Mirrors the rows, claiming stable ids for UIDs not mirrored yet; returns the rows it inserted. With
 * `insert` false the caller has them inserted later (BatchWriter.submit: by a parse thread, thread-store.ts,
 * or here): their ids are then held as unsettled, so that the next claims see them before the store does.
 */
async function claimAndInsert(run: SyncRun, all: ServerMessageRow[], allBases: string[], insert = true): Promise<ServerMessageRow[]> {
  if (all.length === 0) return [];
  // UIDs mirrored by an interrupted earlier run keep their ids (their flags are refreshed: CHANGEDSINCE
  // only covers UIDs below the stored UIDNEXT); only unknown UIDs claim an id.
  // In one claim chunk (every batch with bodies), the ids claimed in the bases' families are read
  // alongside, for all the bases: a superset of those of the new rows, which the claims below need.
  const oneChunk = all.length <= HEADER_BATCH;
  const uids = all.map((r) => r.uid);
  const { known, claimed: claimedAlongside } = oneChunk
    ? await run.store.claimLookup(all[0].folder_id, uids, allBases)
    : { known: await run.store.flagsOf(all[0].folder_id, uids), claimed: null };
  const refreshed = all.filter((r) => known.has(r.uid) && known.get(r.uid) !== r.flags);
  await run.store.applyStateChanges(all[0].folder_id, refreshed, []);
  const rows = all.filter((r) => !known.has(r.uid));
  if (rows.length < all.length) run.deferred = true;
  const bases = allBases.filter((_, i) => !known.has(all[i].uid));
  if (rows.length === 0) return [];
  for (const part of chunks(
    rows.map((r, i) => ({ r, base: bases[i] })),
    HEADER_BATCH,
  )) {
    const claimed =
      claimedAlongside ??
      (await run.store.claimedIds(
        run.account.id,
        part.map((p) => p.base),
      ));
    for (const p of part) {
      // Ordinals are handed out lowest first: stored and unsettled ids together run from the base up.
      for (let n = 1, id = p.base; claimed.has(id) || run.unsettledIds.has(id); id = withOrdinal(p.base, ++n)) claimed.add(id);
      p.r.stable_id = claimStableId(p.base, claimed);
      claimed.add(p.r.stable_id);
    }
  }
  if (insert) await run.store.insertServerMessages(rows);
  else {
    await run.store.beforeInsertElsewhere(rows);
    for (const r of rows) run.unsettledIds.add(r.stable_id);
  }
  run.stats.newOnServer += rows.length;
  // Much new mail means bodies to parse soon: start the parse threads now, while step 1 goes on.
  parserPoolFor(run.stats.newOnServer);
  return rows;
}

export type { SyncStore };
