// Pure sync planning: which folders to follow, what a folder needs this run, what changed.
// No I/O here, so the decisions get fast unit tests; the IMAP and SQL shell lives around it.

export interface ListedFolder {
  path: string;
  delimiter: string | null;
  specialUse: string | null;
  flags: ReadonlySet<string>;
  status?: ServerFolderStatus;
}

export interface ServerFolderStatus {
  uidValidity: number;
  uidNext: number;
  /** Decimal text (63-bit), null without CONDSTORE. */
  highestModseq: string | null;
  messages: number;
}

export interface StoredFolder {
  id: number;
  path: string;
  status: 'active' | 'gone';
  uidvalidity: number | null;
  uidnext: number | null;
  highestmodseq: string | null;
  delimiter?: string | null;
  special_use?: string | null;
}

/** Include/exclude: exact paths, or a trailing '*' for a prefix (so 'Archive*' is Archive and below). INBOX is case-insensitive. */
export function matchesFolderPattern(path: string, pattern: string): boolean {
  const norm = (p: string) => (p.toUpperCase() === 'INBOX' || p.toUpperCase().startsWith('INBOX/') ? 'INBOX' + p.slice(5) : p);
  const p = norm(path);
  const pat = norm(pattern.trim());
  if (pat.endsWith('*')) return p.startsWith(pat.slice(0, -1));
  return p === pat;
}

export function selectFolders(listed: readonly ListedFolder[], include: readonly string[], exclude: readonly string[]): ListedFolder[] {
  return listed.filter((f) => {
    if (f.flags.has('\\Noselect') || f.flags.has('\\NonExistent')) return false;
    if (include.length > 0 && !include.some((p) => matchesFolderPattern(f.path, p))) return false;
    return !exclude.some((p) => matchesFolderPattern(f.path, p));
  });
}

export interface FolderPlan {
  /** Folders on the server that the account follows (new ones get a row). */
  selected: ListedFolder[];
  /** Stored active folders no longer on the server (deleted or renamed away): their state is dropped. */
  gone: StoredFolder[];
}

export function planFolders(
  listed: readonly ListedFolder[],
  stored: readonly StoredFolder[],
  include: readonly string[],
  exclude: readonly string[],
): FolderPlan {
  const onServer = new Set(listed.map((f) => f.path));
  return {
    selected: selectFolders(listed, include, exclude),
    gone: stored.filter((s) => s.status === 'active' && !onServer.has(s.path)),
  };
}

export type FolderAction =
  /** Nothing changed since the last run: no SELECT at all. */
  | { kind: 'unchanged' }
  /** First scan, or UIDVALIDITY changed: drop the folder's state, read every message's identity. */
  | { kind: 'full' }
  /** Known folder: look for flag changes and expunges among known UIDs, then read new UIDs. */
  | { kind: 'incremental'; changedSince: string | null; knownUpTo: number };

/**
 * With CONDSTORE an unchanged HIGHESTMODSEQ, UIDNEXT and message count mean nothing happened.
 * Without it flags may have changed silently, so a known folder is always re-read (UID + FLAGS only).
 */
export function planFolder(
  stored: StoredFolder | undefined,
  server: ServerFolderStatus | undefined,
  storedCount: number,
  condstore: boolean,
): FolderAction {
  if (!stored || stored.uidvalidity === null || stored.uidnext === null) return { kind: 'full' };
  if (server && server.uidValidity !== stored.uidvalidity) return { kind: 'full' };
  const modseqKnown = condstore && stored.highestmodseq !== null;
  if (
    server &&
    modseqKnown &&
    server.highestModseq === stored.highestmodseq &&
    server.uidNext === stored.uidnext &&
    server.messages === storedCount
  ) {
    return { kind: 'unchanged' };
  }
  return { kind: 'incremental', changedSince: modseqKnown ? stored.highestmodseq : null, knownUpTo: stored.uidnext - 1 };
}

/**
 * Can a message have left any followed folder since the last run, as far as LIST-STATUS tells? A known
 * folder now holds its mirrored count plus the UIDs assigned since (UIDNEXT − stored UIDNEXT) minus
 * what left it, so equality means nothing left (a new UID expunged again counts as a removal: the
 * answer errs only towards "possible"). A first scan removes nothing; a rescan after a UIDVALIDITY
 * change, a folder gone from the server or a missing status may. When nothing can have left, no
 * new UID can be a moved message's new location, so each folder's two passes may share one visit.
 */
export function removalsPossible(
  work: readonly { id: number; action: FolderAction; listed: ListedFolder; stored: StoredFolder | undefined }[],
  counts: ReadonlyMap<number, number>,
  goneFolders: number,
): boolean {
  if (goneFolders > 0) return true;
  return work.some((w) => {
    const n = counts.get(w.id) ?? 0;
    if (w.action.kind === 'unchanged') return false;
    if (w.action.kind === 'full') return n > 0;
    const s = w.listed.status;
    if (!s || w.stored?.uidnext == null) return true;
    return s.messages !== n + (s.uidNext - w.stored.uidnext);
  });
}

/** Flags as stored: sorted JSON array, so equal sets compare equal as text. \Recent is session state, not a flag to mirror. */
export function flagsText(flags: Iterable<string> | undefined): string {
  const list = [...(flags ?? [])].filter((f) => f !== '\\Recent').sort();
  return JSON.stringify(list);
}

export interface FlagDiff {
  changed: { uid: number; flags: string }[];
  vanished: number[];
}

/** The fallback without CONDSTORE: compare every known UID's flags with the server's answer. */
export function diffKnownMessages(stored: ReadonlyMap<number, string>, server: ReadonlyMap<number, string>): FlagDiff {
  const changed: { uid: number; flags: string }[] = [];
  const vanished: number[] = [];
  for (const [uid, flags] of stored) {
    const now = server.get(uid);
    if (now === undefined) vanished.push(uid);
    else if (now !== flags) changed.push({ uid, flags: now });
  }
  return { changed, vanished };
}

/** Compact IMAP UID set: [1,2,3,7,9,10] → "1:3,7,9:10". */
export function uidSet(uids: readonly number[]): string {
  const sorted = [...uids].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Splits a list into chunks of at most `size`. */
export function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Since-date filter: 'YYYY-MM-DD' → epoch ms at UTC midnight, or null. */
export function sinceMs(sinceDate: string | null): number | null {
  if (!sinceDate) return null;
  const t = Date.parse(`${sinceDate}T00:00:00Z`);
  return Number.isNaN(t) ? null : t;
}
