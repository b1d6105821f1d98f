import { describe, expect, it } from 'vitest';
import {
  removalsPossible,
  type FolderAction,
  chunks,
  diffKnownMessages,
  flagsText,
  matchesFolderPattern,
  planFolder,
  planFolders,
  selectFolders,
  sinceMs,
  uidSet,
  type ListedFolder,
  type StoredFolder,
} from '../../../src/sync/plan.js';

const listed = (path: string, flags: string[] = []): ListedFolder => ({ path, delimiter: '/', specialUse: null, flags: new Set(flags) });
const stored = (o: Partial<StoredFolder> = {}): StoredFolder => ({
  id: 1,
  path: 'INBOX',
  status: 'active',
  uidvalidity: 5,
  uidnext: 10,
  highestmodseq: '100',
  ...o,
});
const server = { uidValidity: 5, uidNext: 10, highestModseq: '100', messages: 9 };

describe('folder selection', () => {
  it('matches exact paths and trailing-star prefixes, INBOX case-insensitively', () => {
    expect(matchesFolderPattern('inbox', 'INBOX')).toBe(true);
    expect(matchesFolderPattern('Archive/2023', 'Archive*')).toBe(true);
    expect(matchesFolderPattern('Archive', 'Archive*')).toBe(true);
    expect(matchesFolderPattern('Archived', 'Archive/*')).toBe(false);
    expect(matchesFolderPattern('Sent', 'Archive*')).toBe(false);
  });

  it('applies include, then exclude, and skips \\Noselect folders', () => {
    const all = [listed('INBOX'), listed('Lists/Dev'), listed('Lists/Noise'), listed('Archive'), listed('Lists', ['\\Noselect'])];
    expect(selectFolders(all, [], []).map((f) => f.path)).toEqual(['INBOX', 'Lists/Dev', 'Lists/Noise', 'Archive']);
    expect(selectFolders(all, ['INBOX', 'Lists*'], ['Lists/Noise']).map((f) => f.path)).toEqual(['INBOX', 'Lists/Dev']);
  });

  it('reports stored active folders that are no longer listed as gone', () => {
    const plan = planFolders(
      [listed('INBOX'), listed('New')],
      [stored({ id: 1, path: 'INBOX' }), stored({ id: 2, path: 'Old' }), stored({ id: 3, path: 'Older', status: 'gone' })],
      [],
      [],
    );
    expect(plan.gone.map((g) => g.path)).toEqual(['Old']);
    expect(plan.selected.map((s) => s.path)).toEqual(['INBOX', 'New']);
  });
});

describe('what a folder needs this run', () => {
  it('scans a folder fully the first time and after a UIDVALIDITY change', () => {
    expect(planFolder(undefined, server, 0, true)).toEqual({ kind: 'full' });
    expect(planFolder(stored({ uidvalidity: null }), server, 0, true)).toEqual({ kind: 'full' });
    expect(planFolder(stored(), { ...server, uidValidity: 6 }, 9, true)).toEqual({ kind: 'full' });
  });

  it('skips a folder whose modseq, UIDNEXT and count are unchanged (CONDSTORE)', () => {
    expect(planFolder(stored(), server, 9, true)).toEqual({ kind: 'unchanged' });
  });

  it('asks for changes since the stored modseq when anything differs', () => {
    expect(planFolder(stored(), { ...server, highestModseq: '101' }, 9, true)).toEqual({
      kind: 'incremental',
      changedSince: '100',
      knownUpTo: 9,
    });
    expect(planFolder(stored(), { ...server, messages: 8 }, 9, true)).toEqual({ kind: 'incremental', changedSince: '100', knownUpTo: 9 });
  });

  it('always re-reads flags of known UIDs without CONDSTORE', () => {
    expect(planFolder(stored({ highestmodseq: null }), { ...server, highestModseq: null }, 9, false)).toEqual({
      kind: 'incremental',
      changedSince: null,
      knownUpTo: 9,
    });
  });
});

describe('state diff and helpers', () => {
  it('finds changed flags and vanished UIDs among known messages', () => {
    const known = new Map([
      [1, '[]'],
      [2, '["\\\\Seen"]'],
      [3, '[]'],
    ]);
    const now = new Map([
      [1, '[]'],
      [2, '[]'],
      [4, '[]'],
    ]);
    expect(diffKnownMessages(known, now)).toEqual({ changed: [{ uid: 2, flags: '[]' }], vanished: [3] });
  });

  it('normalises flags to a sorted list without \\Recent', () => {
    expect(flagsText(new Set(['\\Seen', '\\Answered', '\\Recent']))).toBe('["\\\\Answered","\\\\Seen"]');
    expect(flagsText(undefined)).toBe('[]');
  });

  it('builds compact UID sets', () => {
    expect(uidSet([9, 1, 2, 3, 7, 10])).toBe('1:3,7,9:10');
    expect(uidSet([5])).toBe('5');
  });

  it('chunks lists and parses since-dates', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(sinceMs('2023-06-01')).toBe(Date.UTC(2023, 5, 1));
    expect(sinceMs('nope')).toBeNull();
    expect(sinceMs(null)).toBeNull();
  });

  it('tells from LIST-STATUS whether any message can have left a folder', () => {
    const known = { id: 1, path: 'INBOX', status: 'active' as const, uidvalidity: 7, uidnext: 10, highestmodseq: '5' };
    const status = (messages: number, uidNext: number) => ({ uidValidity: 7, uidNext, highestModseq: '6', messages });
    const inc = { kind: 'incremental' as const, changedSince: '5', knownUpTo: 9 };
    const w = (messages: number, uidNext: number, action: FolderAction = inc, stored: StoredFolder | undefined = known) => ({
      id: 1,
      action,
      stored,
      listed: { ...listed('INBOX'), status: status(messages, uidNext) },
    });
    const counts = new Map([[1, 9]]);
    expect(removalsPossible([w(9, 10)], counts, 0)).toBe(false); // flags changed only
    expect(removalsPossible([w(12, 13)], counts, 0)).toBe(false); // three new
    expect(removalsPossible([w(11, 13)], counts, 0)).toBe(true); // three new, one gone (or a new one expunged)
    expect(removalsPossible([w(8, 10)], counts, 0)).toBe(true); // one expunged
    expect(removalsPossible([w(9, 10)], counts, 1)).toBe(true); // a folder gone from the server
    expect(removalsPossible([w(5, 10, { kind: 'unchanged' })], counts, 0)).toBe(false);
    expect(removalsPossible([w(5, 10, { kind: 'full' }, undefined)], new Map(), 0)).toBe(false); // first scan
    expect(removalsPossible([w(5, 10, { kind: 'full' })], counts, 0)).toBe(true); // rescan drops the mirror
    const noStatus = { ...w(9, 10), listed: listed('INBOX') };
    expect(removalsPossible([noStatus], counts, 0)).toBe(true);
  });
});
