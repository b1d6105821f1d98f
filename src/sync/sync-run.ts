// The state of one sync run, shared by the steps: the IMAP session, the store, counters, progress
// and cancellation. Keeps the step modules free of plumbing.
import type { ImapFlow, MailboxLockObject } from 'imapflow';
import type { Logger } from 'pino';
import type { AccountSettings, SyncProgress } from './engine-types.js';
import { SyncError } from './errors.js';
import { byeReason } from './imap-connection.js';
import { isMissingFolder, type FolderWork } from './state-step.js';
import type { SyncStore } from './sync-store.js';

export interface RunCounters {
  newOnServer: number;
  flagChangesOnServer: number;
  vanishedOnServer: number;
  fetched: number;
  bytesFetched: number;
  parseProblems: number;
}

export class SyncRun {
  readonly stats: RunCounters = {
    newOnServer: 0,
    flagChangesOnServer: 0,
    vanishedOnServer: 0,
    fetched: 0,
    bytesFetched: 0,
    parseProblems: 0,
  };
  readonly warnings: string[] = [];
  /** Folders that disappeared during this run (deleted on the server between LIST and EXAMINE). */
  readonly vanishedFolders = new Set<number>();
  /** Pass B left messages for step 2 (a folder with too much new mail, or UIDs mirrored by an interrupted run). */
  deferred = false;
  /**
   * Stable ids claimed by server locations that a parse thread is still writing (thread-store.ts): the
   * store cannot show them yet, so claims consult this too. Ids leave it between claims once their batch
   * has committed (so it holds a few batches, not the account), and all of them once the writer has drained.
   */
  readonly unsettledIds = new Set<string>();
  private vanishedSink: number[] | null = null;
  /** Store writes running beside the run's next steps (see alongside); the first error is kept. */
  private readonly writes: Promise<void>[] = [];
  private writeError: unknown = null;

  constructor(
    readonly client: ImapFlow,
    readonly store: SyncStore,
    readonly account: AccountSettings,
    readonly stableKey: Buffer,
    readonly condstore: boolean,
    private readonly progressFn: ((p: SyncProgress) => void) | undefined,
    private readonly signal: AbortSignal | undefined,
    readonly logger: Logger | undefined,
  ) {}

  progress(p: SyncProgress): void {
    if (!this.progressFn) return;
    try {
      this.progressFn(p);
    } catch {
      // A failing progress consumer must not fail the sync.
    }
  }

  /** Lets a store write run while the run goes on; writesDone() waits for it and reports its failure. */
  alongside(write: Promise<void>): void {
    this.writes.push(
      write.catch((err: unknown) => {
        this.writeError ??= err;
      }),
    );
  }

  /** Waits for the writes started with alongside(); throws the first one's error. */
  async writesDone(): Promise<void> {
    while (this.writes.length > 0) await Promise.all(this.writes.splice(0));
    if (this.writeError !== null) throw this.writeError;
  }

  throwIfAborted(): void {
    if (this.signal?.aborted) throw new SyncError('permanent', 'cancelled', 'The sync was cancelled.');
  }

  /** ImapFlow's expunge handler feeds VANISHED (EARLIER) UIDs here while a collector is active. */
  onExpunge(uid: number | undefined): void {
    if (this.vanishedSink && uid !== undefined) this.vanishedSink.push(uid);
  }

  collectVanished(): { stop(): number[] } {
    const sink: number[] = [];
    this.vanishedSink = sink;
    return {
      stop: () => {
        this.vanishedSink = null;
        return sink;
      },
    };
  }

  /**
   * UID SEARCH that fails loudly. ImapFlow answers "no result" when no mailbox is selected (after a
   * server BYE) or the server refuses the search; read as "no messages", that would skip new mail or
   * mark every known message deleted.
   */
  async searchUids(range: string): Promise<number[]> {
    const found = await this.client.search({ uid: range }, { uid: true });
    if (Array.isArray(found)) return found;
    const err = new Error('UID SEARCH got no answer') as Error & { code?: string; responseStatus?: string; responseText?: string };
    // We search only inside an open folder: none selected any more, or a BYE seen, means the session was lost.
    if (!this.client.usable || !this.client.mailbox || byeReason(this.client) !== undefined) err.code = 'NoConnection';
    else Object.assign(err, { responseStatus: 'NO', responseText: 'UID SEARCH failed' });
    throw err;
  }

  /**
   * EXAMINE (read-only), with QRESYNC's known UIDVALIDITY and modseq where given. A folder deleted
   * meanwhile becomes a warning and its state is dropped.
   */
  async openFolder(w: FolderWork, qresync?: { uidValidity: number; changedSince: bigint }): Promise<MailboxLockObject | null> {
    try {
      return await this.client.getMailboxLock(w.path, { readOnly: true, ...qresync });
    } catch (err) {
      if (!isMissingFolder(err)) throw err;
      this.warnings.push(`Folder "${w.path}" vanished from the server during the sync.`);
      this.vanishedFolders.add(w.id);
      await this.store.markFolderGone(w.id);
      return null;
    }
  }
}
