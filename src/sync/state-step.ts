// Step 1: mirror the server's state (UID, flags, stable id) per folder, incrementally.
// Two passes so that moves are recognised whatever the folder order: pass A applies flag changes
// and expunges of every folder first, pass B then reads new UIDs and claims stable ids (a moved
// message's old location is already gone, so its new location claims the same id).
import type { ImapFlow } from 'imapflow';
import { claimStableId, identityBase, parseIdentityHeaders } from './identity.js';
import { sharedParserPool } from './parser-pool.js';
import { chunks, diffKnownMessages, flagsText, planFolder, type FolderAction, type ListedFolder, type StoredFolder } from './plan.js';
import type { SyncStore, ServerMessageRow } from './sync-store.js';
import type { SyncRun } from './sync-run.js';

const HEADER_BATCH = 500;
const IDENTITY_HEADERS = ['message-id', 'date', 'from', 'subject'];

export interface FolderWork {
  id: number;
  path: string;
  listed: ListedFolder;
  stored: StoredFolder | undefined;
  action: FolderAction;
  /** First UID not yet mirrored (pass B reads from here), null when pass B has nothing to do. */
  newFrom: number | null;
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
  counts: Map<number, number>,
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
  const lock = await run.openFolder(w);
  if (!lock) return false;
  try {
    const box = boxState(run.client);
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
      if (action.changedSince !== null && run.client.enabled.has('CONDSTORE')) {
        const seen = run.collectVanished();
        for await (const m of run.client.fetch(
          range,
          { uid: true, flags: true },
          { uid: true, changedSince: BigInt(action.changedSince) },
        )) {
          if (m.uid <= action.knownUpTo) changed.push({ uid: m.uid, flags: flagsText(m.flags) });
        }
        vanished = seen.stop().filter((u) => u <= action.knownUpTo);
        if (!run.client.enabled.has('QRESYNC')) vanished = await vanishedBySearch(run, w, range);
        // Only the reported UIDs' stored flags are read: the cost follows the changes, not the folder size.
        const known = await run.store.flagsOf(
          w.id,
          changed.map((c) => c.uid),
        );
        changed = changed.filter((c) => known.has(c.uid) && known.get(c.uid) !== c.flags);
      } else {
        // Fallback without CONDSTORE: UID + FLAGS of every known message, compared with ours.
        const server = new Map<number, string>();
        for await (const m of run.client.fetch(range, { uid: true, flags: true }, { uid: true })) server.set(m.uid, flagsText(m.flags));
        const diff = diffKnownMessages(await run.store.knownFlags(w.id), server);
        changed = diff.changed;
        vanished = diff.vanished;
      }
      await run.store.applyStateChanges(w.id, changed, vanished);
      run.stats.flagChangesOnServer += changed.length;
      run.stats.vanishedOnServer += vanished.length;
    }
    // Modseq now, UIDNEXT only after pass B: an interruption in between re-reads the new UIDs.
    if (run.condstore) await run.store.saveFolderState(w.id, { highestmodseq: box.highestModseq });
    w.newFrom = box.uidNext > action.knownUpTo + 1 ? action.knownUpTo + 1 : null;
    if (w.newFrom === null) await run.store.saveFolderState(w.id, { uidnext: box.uidNext, lastSyncedAt: Date.now() });
    return true;
  } finally {
    lock.release();
  }
}

async function vanishedBySearch(run: SyncRun, w: FolderWork, range: string): Promise<number[]> {
  const onServer = new Set((await run.client.search({ uid: range }, { uid: true })) || []);
  return [...(await run.store.knownUids(w.id))].filter((u) => !onServer.has(u));
}

/** Pass B for one folder: identity headers of new UIDs, stable ids claimed, mirror rows inserted. */
export async function passB(run: SyncRun, w: FolderWork): Promise<boolean> {
  if (w.newFrom === null) return true;
  const lock = await run.openFolder(w);
  if (!lock) return false;
  try {
    const box = boxState(run.client);
    if (w.stored?.uidvalidity != null && w.action.kind !== 'full' && box.uidValidity !== w.stored.uidvalidity) {
      await run.store.resetFolder(w.id);
      w.newFrom = 1;
    }
    if (box.exists > 0 && box.uidNext > w.newFrom) {
      let batch: ServerMessageRow[] = [];
      let bases: string[] = [];
      const flush = async () => {
        await claimAndInsert(run, batch, bases);
        batch = [];
        bases = [];
        run.throwIfAborted();
      };
      const query = { uid: true, flags: true, size: true, internalDate: true, headers: IDENTITY_HEADERS };
      for await (const m of run.client.fetch(`${w.newFrom}:*`, query, { uid: true })) {
        if (m.uid < w.newFrom) continue;
        const size = m.size ?? 0;
        const date = m.internalDate ? new Date(m.internalDate).getTime() : null;
        bases.push(identityBase(run.stableKey, parseIdentityHeaders(m.headers), size));
        batch.push({
          folder_id: w.id,
          uid: m.uid,
          account_id: run.account.id,
          stable_id: '',
          flags: flagsText(m.flags),
          internal_date: date,
          size,
        });
        if (batch.length >= HEADER_BATCH) await flush();
      }
      await flush();
    }
    await run.store.saveFolderState(w.id, {
      uidvalidity: box.uidValidity,
      uidnext: box.uidNext,
      highestmodseq: run.condstore ? box.highestModseq : null,
      lastSyncedAt: Date.now(),
    });
    return true;
  } finally {
    lock.release();
  }
}

async function claimAndInsert(run: SyncRun, all: ServerMessageRow[], allBases: string[]): Promise<void> {
  if (all.length === 0) return;
  // UIDs mirrored by an interrupted earlier run keep their ids (their flags are refreshed: CHANGEDSINCE
  // only covers UIDs below the stored UIDNEXT); only unknown UIDs claim an id.
  const known = await run.store.flagsOf(
    all[0].folder_id,
    all.map((r) => r.uid),
  );
  const refreshed = all.filter((r) => known.has(r.uid) && known.get(r.uid) !== r.flags);
  await run.store.applyStateChanges(all[0].folder_id, refreshed, []);
  const rows = all.filter((r) => !known.has(r.uid));
  const bases = allBases.filter((_, i) => !known.has(all[i].uid));
  if (rows.length === 0) return;
  for (const part of chunks(
    rows.map((r, i) => ({ r, base: bases[i] })),
    HEADER_BATCH,
  )) {
    const claimed = await run.store.claimedIds(
      run.account.id,
      part.map((p) => p.base),
    );
    for (const p of part) {
      p.r.stable_id = claimStableId(p.base, claimed);
      claimed.add(p.r.stable_id);
    }
  }
  await run.store.insertServerMessages(rows);
  run.stats.newOnServer += rows.length;
  // New mail means bodies to parse soon: start the parse threads now, while step 1 goes on.
  sharedParserPool();
}

export type { SyncStore };
