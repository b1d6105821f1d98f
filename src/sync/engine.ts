// The sync engine: one account, three steps (state, fetch, reconcile), no web and no queue.
// Every step is idempotent; an interrupted run followed by a rerun ends in the same state.
import { createHash } from 'node:crypto';
import type { ImapFlow, ListResponse } from 'imapflow';
import type { SyncInput, SyncStats } from './engine-types.js';
import { permanent, SyncError } from './errors.js';
import { toSyncError } from './error-mapping.js';
import { stableIdKey } from './identity.js';
import { byeReason, connectImap, createImapClient } from './imap-connection.js';
import { BatchWriter, fetchStep } from './fetch-step.js';
import { parserPoolFor } from './parser-pool.js';
import { planFolders, removalsPossible, sinceMs, type ListedFolder } from './plan.js';
import { reconcile } from './reconcile-step.js';
import { passA, passB, planWork, type BodiesAlong, type FolderWork } from './state-step.js';
import { SyncRun } from './sync-run.js';
import { SyncStore } from './sync-store.js';
import { refreshStatistics } from '../store/db.js';

const DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024;

function validate(input: SyncInput): void {
  const a = input.account;
  if (input.dek.length !== 32) throw permanent('cannot-decrypt', 'The account key is not available; unlock it with the password again.');
  if (a.sinceDate !== null && sinceMs(a.sinceDate) === null)
    throw permanent('invalid-settings', `The since-date "${a.sinceDate}" is not a date; use YYYY-MM-DD.`);
  if (!Number.isInteger(a.maxEmails) || a.maxEmails < 0)
    throw permanent('invalid-settings', `max_emails must be 0 (no limit) or a positive whole number, not ${a.maxEmails}.`);
}

function listedFolder(l: ListResponse): ListedFolder {
  const s = l.status;
  return {
    path: l.path,
    delimiter: l.delimiter ?? null,
    specialUse: l.specialUse ?? null,
    flags: l.flags,
    status:
      s && s.uidValidity !== undefined && s.uidNext !== undefined
        ? {
            uidValidity: Number(s.uidValidity),
            uidNext: s.uidNext,
            highestModseq: s.highestModseq !== undefined ? String(s.highestModseq) : null,
            messages: s.messages ?? 0,
          }
        : undefined,
  };
}

/** The filters that decide which mirrored messages are fetched; a change means new work even on an unchanged server. */
function filtersHash(a: SyncInput['account']): string {
  return createHash('sha256')
    .update(JSON.stringify([a.includeFolders, a.excludeFolders, a.sinceDate, a.unseenOnly]))
    .digest('hex');
}

/** At most how many new UIDs pass B will find in this folder (LIST-STATUS figures; unknown counts as many). */
function newUidsAtMost(w: FolderWork): number {
  if (w.newFrom === null) return 0;
  const s = w.listed.status;
  if (!s) return Number.POSITIVE_INFINITY;
  return w.action.kind === 'full' ? s.messages : Math.max(0, s.uidNext - w.newFrom);
}

export async function syncAccount(input: SyncInput): Promise<SyncStats> {
  validate(input);
  const started = Date.now();
  const { account } = input;
  const where = { host: account.host, port: account.port };
  let client: ImapFlow | undefined;
  let run: SyncRun | undefined;
  const t = { state: 0, fetch: 0, reconcile: 0 };
  try {
    if (input.signal?.aborted) throw new SyncError('permanent', 'cancelled', 'The sync was cancelled.');
    input.onProgress?.({ phase: 'connect' });
    let onExpunge: (uid: number | undefined) => void = () => {};
    client = createImapClient(account, input.credentials, input.options?.timeoutMs, (uid) => onExpunge(uid));
    client.on('error', (err) =>
      input.logger?.warn({ code: (err as { code?: string }).code, accountId: account.id }, 'IMAP connection error'),
    );
    const store = new SyncStore(input.store, account.id);
    const settingsHash = filtersHash(account);
    // Read while the server greets and authenticates (on PostgreSQL a connection and a few round trips),
    // but only once the connection is under way: Node opens it on the next tick, and these reads (on
    // SQLite synchronous, and code run for the first time) would hold it back by their whole length.
    const connected = connectImap(client);
    // The mirrored counts of known folders, which step 1 compares with LIST-STATUS, are read here too (a
    // walk of the account's mirror: ~10 ms for 10,000 messages on PostgreSQL): no one else writes this
    // account's mirror meanwhile, and a folder LIST shows unknown has no rows to count.
    // One after another: on PostgreSQL side by side they took two new connections, each a backend to start.
    const known = new Promise((resolve) => setImmediate(resolve)).then(async () => {
      const leftover = await store.leftover(settingsHash);
      const stored = await store.loadFolders(account.id);
      // A first sync writes the whole mailbox: on SQLite, the checkpoint thread starts now, while
      // the server authenticates, not beside the first batch's parsing (bench (a): ~70 ms).
      if (stored.length === 0) store.expectBulkWrites();
      const mirrored = await store.folderCounts(stored.map((f) => f.id));
      // Every location of the account is in one of its folders: none counted, none stored.
      if (mirrored.size === 0) store.mirrorStartsEmpty();
      return [leftover, { stored, mirrored }] as const;
    });
    known.catch(() => {}); // awaited below unless the connection fails first
    await connected;
    const condstore = client.enabled.has('CONDSTORE') || client.capabilities.has('CONDSTORE');
    run = new SyncRun(client, store, account, stableIdKey(input.dek), condstore, input.onProgress, input.signal, input.logger);
    const r = run;
    onExpunge = (uid) => r.onExpunge(uid);

    // Step 1: folders and state. LIST does not wait for the store reads above: where they are not done
    // yet (PostgreSQL's cold connection and its walk of the mirror), they end while the server answers.
    const t1 = Date.now();
    r.progress({ phase: 'folders' });
    const listing = client.list({ statusQuery: { uidValidity: true, uidNext: true, messages: true, highestModseq: condstore } });
    const [[leftover, { stored: storedFolders, mirrored }], listResponse] = await Promise.all([known, listing]);
    const listed = listResponse.map(listedFolder);
    const plan = planFolders(listed, storedFolders, account.includeFolders, account.excludeFolders);
    for (const g of plan.gone) await store.markFolderGone(g.id);
    const storedByPath = new Map(storedFolders.map((f) => [f.path, f]));
    const folders = [];
    for (const l of plan.selected) {
      const s = storedByPath.get(l.path);
      // A write only for a folder that is new, came back, or changed its delimiter or special use.
      const same = s && s.status === 'active' && s.delimiter === l.delimiter && s.special_use === l.specialUse;
      folders.push({ id: same ? s.id : await store.upsertFolder(account.id, l), listed: l, stored: s });
    }
    // Every known folder's mirrored count (none: 0): where UIDVALIDITY holds, planFolder compares it with
    // LIST-STATUS; where it changed, the rescan drops the folder's mirror, so a message found in a folder
    // visited earlier may have moved out of it (removalsPossible).
    const work = planWork(r, folders, mirrored);
    const limit = account.maxEmails > 0 ? account.maxEmails : null;
    const maxAttachmentBytes = input.options?.maxAttachmentBytes ?? DEFAULT_MAX_ATTACHMENT_BYTES;
    const since = sinceMs(account.sinceDate);
    const expectedNew = work.reduce((sum, w) => sum + newUidsAtMost(w), 0);
    // With a cap that may cut, step 2 must choose the newest across all folders: no bodies in pass B then.
    const capFits = limit === null || expectedNew <= limit;
    // When LIST-STATUS shows that no message left any folder, no new UID can be a moved message, so
    // each folder is visited once for both passes (one EXAMINE, not two). Otherwise pass A runs over
    // every folder first, so that a moved message's old location is gone before its new one claims an id.
    const oneVisit = !removalsPossible(work, mirrored, plan.gone.length);
    const bodiesAlong = async (): Promise<BodiesAlong | null> => {
      if (!capFits) return null;
      // A new UID can be a stored message moved or brought back only if a location was removed, an
      // interrupted run left work, or the account has soft-deleted messages; otherwise each body is read
      // at once instead of identity headers first (not with filters: it would fetch bodies it then skips).
      const instead =
        expectedNew > 0 &&
        since === null &&
        !account.unseenOnly &&
        store.removed === 0 &&
        !(leftover && (await store.hasMessages())) &&
        !(await store.hasDeletedMessages());
      return {
        writer: new BatchWriter(r, input.dek, maxAttachmentBytes),
        parser: instead ? parserPoolFor(expectedNew) : null,
        instead,
        filters: { sinceMs: since, unseenOnly: account.unseenOnly },
        budget: limit ?? Number.POSITIVE_INFINITY,
      };
    };
    let n = 0;
    for (const w of oneVisit ? [] : work) {
      r.throwIfAborted();
      r.progress({ phase: 'state', folder: w.path, folderIndex: ++n, folderCount: work.length });
      await passA(r, w);
    }
    const bodies = await bodiesAlong();
    n = 0;
    try {
      for (const w of work) {
        r.throwIfAborted();
        const at = { folderIndex: ++n, folderCount: work.length };
        r.progress({ phase: 'state', folder: w.path, ...at });
        if (oneVisit) {
          await passA(r, w);
          // Something left a folder after LIST after all: from here on, new UIDs may be moves.
          if (bodies && store.removed > 0) bodies.instead = false;
        }
        if (r.vanishedFolders.has(w.id)) continue;
        await passB(r, w, bodies, at);
      }
      await r.writesDone();
      await bodies?.writer.drain();
      r.unsettledIds.clear(); // every location the parse thread wrote is in the store now
    } finally {
      await r.writesDone().catch(() => {}); // a failed run leaves none running behind it
      await bodies?.writer.settle();
    }
    const fetchedAlong = r.stats.fetched;
    t.state = Date.now() - t1;

    // Step 2: fetch.
    const t2 = Date.now();
    const live = work.filter((w) => !r.vanishedFolders.has(w.id));
    const filters = { folderIds: live.map((w) => w.id), sinceMs: since, unseenOnly: account.unseenOnly };
    // Server unchanged and nothing left over from earlier runs: no whole-account queries at all.
    const idle = !leftover && !store.changed && r.vanishedFolders.size === 0;
    const budget = limit === null ? null : Math.max(0, limit - fetchedAlong);
    // Pass B already fetched every new message unless it deferred some, or earlier runs left work.
    const covered = bodies !== null && !leftover && !r.deferred;
    const pending = idle || covered || budget === 0 ? [] : await store.pending(account.id, filters, budget);
    const newCount =
      fetchedAlong + (budget !== null && pending.length === budget ? await store.countPending(account.id, filters) : pending.length);
    const paths = new Map(live.map((w) => [w.id, w.path]));
    const parser = pending.length > 0 ? parserPoolFor(pending.length) : null;
    await fetchStep(r, pending, paths, input.dek, maxAttachmentBytes, parser);
    t.fetch = Date.now() - t2;

    // Step 3: reconcile.
    const t3 = Date.now();
    r.throwIfAborted();
    r.progress({ phase: 'reconcile' });
    const selectedIds = new Set(live.map((w) => w.id));
    const unfollowed = storedFolders
      .filter((f) => f.status === 'active' && !selectedIds.has(f.id) && !plan.gone.some((g) => g.id === f.id))
      .map((f) => f.id);
    const rec = idle
      ? { moved: 0, flagChanges: 0, restored: 0, deleted: 0 }
      : await reconcile(input.store, account.id, unfollowed, leftover ? null : store.unreconciled());
    const remaining = Math.max(0, newCount - r.stats.fetched);
    if (!idle && remaining === 0) await store.markClean(settingsHash);
    await refreshStatistics(input.store, ['messages', 'server_messages'], Math.max(r.stats.fetched, store.touched.size));
    t.reconcile = Date.now() - t3;
    // Nothing written in an idle run: the mirror holds what step 1 counted of it.
    const counted = idle ? live.reduce((n, w) => n + (mirrored.get(w.id) ?? 0), 0) : store.countServerMessages(live.map((w) => w.id));
    const [onServer] = await Promise.all([counted, client.logout().catch(() => client?.close())]);
    const stats: SyncStats = {
      foldersScanned: live.length,
      onServer,
      new: newCount,
      fetched: r.stats.fetched,
      moved: rec.moved,
      flagChanges: rec.flagChanges,
      deleted: rec.deleted,
      restored: rec.restored,
      remaining,
      bytesFetched: r.stats.bytesFetched,
      parseProblems: r.stats.parseProblems,
      warnings: r.warnings,
      durationsMs: { ...t, total: Date.now() - started },
    };
    r.progress({ phase: 'done', done: stats.fetched, total: newCount });
    input.logger?.info(
      { accountId: account.id, fetched: stats.fetched, remaining: stats.remaining, ms: stats.durationsMs.total },
      'sync finished',
    );
    return stats;
  } catch (err) {
    // After a server BYE, ImapFlow keeps its text on the client; the error the pending command got may not carry it.
    const bye = byeReason(client);
    const lost = err as { code?: unknown; reason?: unknown } | null;
    // A command issued between the BYE and the socket closing finds no mailbox selected: the same loss.
    if (bye !== undefined && lost && typeof lost === 'object' && lost.code === 'NoMailboxSelected') lost.code = 'NoConnection';
    if (bye !== undefined && lost && typeof lost === 'object' && (lost.code === 'NoConnection' || lost.code === 'EConnectionClosed'))
      lost.reason ??= bye;
    client?.close();
    const e = toSyncError(err, where);
    input.logger?.warn({ accountId: account.id, kind: e.kind, code: e.code }, `sync failed: ${e.message}`);
    throw e;
  }
}
