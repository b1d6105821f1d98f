// Sealed raw sources of the messages a sync stores on SQLite, kept in append-only pack files beside
// the database (`<db>-blobs/a<account id>/*.pack`) instead of in the message rows. In a row a blob is
// copied into 16 KB pages, written to SQLite's WAL, then read back and written into the database file
// by the checkpoint; here it is written once: a 10,000-message first sync (287 MB) writes 420 MB
// instead of 735 MB, with 0.7 core-seconds less CPU (bench/sync-ab.ts). A row names its bytes by
// `raw_ref` = `<file>:<offset>:<length>`. Each file has one writer (a parse thread's, thread-store.ts,
// or the main thread's, fetch-step.ts), which syncs the bytes before committing the rows that name
// them, so a committed row never points at bytes a crash could lose. Bytes no committed row names (a
// batch whose transaction failed) stay behind unread; a deleted account's directory goes with it.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fdatasync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, rmSync, writev } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { threadId } from 'node:worker_threads';
import { blockEnd, BLOCK, createDirect, reopenDirect, writeDirect } from './direct-write.js';

/** The first block of a pack written directly (the others start with their first message's bytes). */
const PACK_HEADER = Buffer.from('mail-helper pack 1\n');
/** A pack is closed for appending at this size; the next write starts another. */
const PACK_MAX_BYTES = 1024 * 1024 * 1024;
const REF = /^([0-9a-z-]+\.pack):(\d+):(\d+)$/;

/** The pack directory of a SQLite database file. */
export function packDirOf(dbPath: string): string {
  return `${dbPath}-blobs`;
}

const accountDir = (dir: string, accountId: number) => join(dir, `a${accountId}`);

/** Makes a new directory entry durable (a synced file is not found after a crash if its entry is lost). */
function syncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

interface OpenPack {
  /** null while suspended (see close). */
  fd: number | null;
  name: string;
  size: number;
  /** Written directly (direct-write.ts): each append starts on a block boundary, after a first block of its own. */
  direct: boolean;
  /** Appends still writing to it: its file is closed only after the last one (a closed fd's number is soon reused). */
  writing: number;
  discarded?: boolean;
}

/**
 * Appends batches of blobs for one database, one pack file per account at a time; one thread owns it.
 * close() only suspends it: the next batch appends to the same files (a sync's batches may come
 * seconds apart from a slow server, and each one must not start a file of its own).
 */
export class PackWriter {
  private readonly packs = new Map<number, OpenPack>();

  /** `direct`: write past the page cache where the filesystem allows it (direct-write.ts). */
  constructor(
    private readonly dir: string,
    private readonly direct = true,
  ) {}

  /**
   * Appends the blobs (each a buffer or its pieces, written one after another) to the account's pack
   * and syncs them to disk, on libuv's threads (the thread's event loop goes on meanwhile); returns
   * each one's raw_ref.
   */
  async append(accountId: number, blobs: (Buffer | readonly Buffer[])[], written: () => void = () => {}): Promise<string[]> {
    const r = this.reserve(
      accountId,
      blobs.map((b) => (Buffer.isBuffer(b) ? b.length : b.reduce((n, piece) => n + piece.length, 0))),
    );
    let ok = false;
    try {
      try {
        if (r.pack.direct) await writeDirect(r.fd, blobs.flat(), r.start);
        else
          for (let left = blobs.flat(); left.length > 0;)
            left = unwritten(left, (await writevAsync(r.fd, left.slice(0, IOV_MAX), r.at(left))).bytesWritten);
      } finally {
        written();
      }
      await this.synced(r.fd);
      ok = true;
    } finally {
      this.release(accountId, r.pack, ok);
    }
    return r.refs;
  }

  /** Batches announced (hold) whose appends have not written their bytes yet. */
  private holds = 0;
  /** Appends written and waiting for the next sync of their file. */
  private unsynced: { fd: number; done: (err: unknown) => void }[] = [];
  private syncing = false;

  /**
   * Announces a batch whose blobs are still being sealed: until its append has written them (the
   * returned function, passed to append as `written`, or called when there will be no append), the
   * appends written meanwhile wait, and one fdatasync then covers them all (a group commit): each one
   * costs a journal commit and a flush of the device, ~3 ms and CPU of its own on our virtual machines.
   */
  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.syncWaiting();
    };
  }

  /** Resolves once an fdatasync of `fd` that began after this call has succeeded. */
  private synced(fd: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.unsynced.push({ fd, done: (err) => (err ? reject(err as Error) : resolve()) });
      this.syncWaiting();
    });
  }

  /** Syncs the files of the appends waiting, unless a sync is running (the next one takes all that came meanwhile) or a batch is held. */
  private syncWaiting(): void {
    if (this.syncing || this.holds > 0 || this.unsynced.length === 0) return;
    const group = this.unsynced.splice(0);
    const fds = [...new Set(group.map((g) => g.fd))];
    this.syncing = true;
    void Promise.allSettled(fds.map((fd) => fdatasyncAsync(fd))).then((results) => {
      this.syncing = false;
      for (const g of group) {
        const r = results[fds.indexOf(g.fd)];
        g.done(r.status === 'rejected' ? r.reason : null);
      }
      this.syncWaiting();
    });
  }

  /** Takes the blobs' range of the account's pack at once, so that appends to one pack may overlap. */
  private reserve(accountId: number, lengths: number[]) {
    const pack = this.packFor(accountId);
    const start = pack.size;
    const refs = lengths.map((length) => {
      const ref = `${pack.name}:${pack.size}:${length}`;
      pack.size += length;
      return ref;
    });
    pack.writing++;
    const end = pack.size;
    // A direct write fills its last block with zeros: the next append starts after them.
    if (pack.direct) pack.size = blockEnd(end);
    // Where the still unwritten buffers `left` (the tail of the batch) start in the file.
    const at = (left: Buffer[]) => end - left.reduce((n, b) => n + b.length, 0);
    return { pack, fd: pack.fd!, refs, start, at };
  }

  /**
   * Ends an append. After a failed one some bytes may be in the file, so its size is no longer known
   * here: the next batch starts another file (an append still running on this one fails as well; its
   * batch is fetched again).
   */
  private release(accountId: number, pack: OpenPack, ok: boolean): void {
    pack.writing--;
    if (!ok) this.discard(accountId, pack);
    else if (pack.discarded) this.closeIfIdle(pack);
  }

  private discard(accountId: number, pack: OpenPack): void {
    if (this.packs.get(accountId) === pack) this.packs.delete(accountId);
    pack.discarded = true;
    this.closeIfIdle(pack);
  }

  private closeIfIdle(pack: OpenPack): void {
    if (pack.writing > 0 || pack.fd === null) return;
    closeSync(pack.fd);
    pack.fd = null;
  }

  private packFor(accountId: number): OpenPack {
    const current = this.packs.get(accountId);
    // An open pack removed meanwhile (its account's mail dropped by an admin reset) would take bytes no file keeps.
    const usable = (p: OpenPack) => (p.fd !== null ? fstatSync(p.fd).nlink > 0 : this.reopen(accountId, p));
    if (current && current.size < PACK_MAX_BYTES && usable(current)) return current;
    if (current) this.discard(accountId, current);
    const root = !existsSync(this.dir);
    const dir = accountDir(this.dir, accountId);
    const created = !existsSync(dir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Unique per writer: no other thread or process ever appends to it, so its size is known here.
    const name = `${Date.now().toString(36)}-${process.pid}-${threadId}-${randomBytes(4).toString('hex')}.pack`;
    const path = join(dir, name);
    const directFd = this.direct ? createDirect(path, PACK_HEADER) : null;
    const fd = directFd ?? openSync(path, 'wx', 0o600);
    syncDir(dir);
    if (created) syncDir(this.dir);
    if (root) syncDir(join(this.dir, '..'));
    const pack: OpenPack = { fd, name, size: directFd === null ? 0 : BLOCK, writing: 0, direct: directFd !== null };
    this.packs.set(accountId, pack);
    return pack;
  }

  /** Opens a suspended pack again, if it is still there as this writer left it (its account may be gone). */
  private reopen(accountId: number, pack: OpenPack): boolean {
    try {
      const path = join(accountDir(this.dir, accountId), pack.name);
      const fd = pack.direct ? reopenDirect(path) : openSync(path, 'r+');
      if (fstatSync(fd).size === pack.size) {
        pack.fd = fd;
        return true;
      }
      closeSync(fd);
    } catch {
      // Removed with its account: a new one.
    }
    return false;
  }

  /** Closes the files; a later append opens them again. */
  close(): void {
    for (const [accountId, p] of this.packs) {
      // One still being written to is closed by its last append; the next one starts another file.
      if (p.writing > 0) this.discard(accountId, p);
      else this.closeIfIdle(p);
    }
  }
}

/** Buffers per writev call: IOV_MAX on Linux. */
const IOV_MAX = 1024;

/** What is left of `blobs` once `n` bytes of them were written (a regular file may take fewer than asked). */
function unwritten(blobs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < blobs.length && n >= blobs[i].length) n -= blobs[i++].length;
  return i < blobs.length ? [blobs[i].subarray(n), ...blobs.slice(i + 1)] : [];
}

const writevAsync = promisify(writev);
const fdatasyncAsync = promisify(fdatasync);

/** Reads the blob a raw_ref names. Throws when the pack or the range is missing (a store copied without its packs). */
export async function readPacked(dir: string, accountId: number, ref: string): Promise<Buffer> {
  const m = REF.exec(ref);
  if (!m) throw new Error(`A message's stored copy is named by a malformed reference ("${ref}").`);
  const [offset, length] = [Number(m[2]), Number(m[3])];
  const path = join(accountDir(dir, accountId), m[1]);
  let f;
  try {
    f = await open(path, 'r');
  } catch {
    throw new Error(`A message's stored copy is missing: ${path} does not exist (restore the store's -blobs directory with it).`);
  }
  try {
    const out = Buffer.allocUnsafe(length);
    const { bytesRead } = await f.read(out, 0, length, offset);
    if (bytesRead !== length) throw new Error(`A message's stored copy is cut short in ${path}.`);
    return out;
  } finally {
    await f.close();
  }
}

/** Removes the packs of these accounts (deleted, or their messages dropped). */
export function removeAccountPacks(dir: string, accountIds: number[]): void {
  for (const id of accountIds) rmSync(accountDir(dir, id), { recursive: true, force: true });
}

/** The account ids that have a pack directory. */
export function packedAccounts(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((n) => /^a(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
}

const registered = new WeakMap<object, string>();
const writers = new WeakMap<object, PackWriter>();

/** Records where the packs of the database behind `db` (a Kysely instance) live, for the code that reads or drops them. */
export function registerPackDir(db: object, dir: string): void {
  registered.set(db, dir);
}

/** The pack writer of this thread for the database behind `db`, or null where it keeps no packs. */
export function packWriterFor(db: object): PackWriter | null {
  const dir = registered.get(db);
  if (!dir) return null;
  let w = writers.get(db);
  if (!w) writers.set(db, (w = new PackWriter(dir)));
  return w;
}

/** Closes the files of `db`'s pack writer (when its store closes). */
export function closePackWriter(db: object): void {
  writers.get(db)?.close();
}

/** The pack directory of the database behind `db`, or null where blobs are only ever in rows (PostgreSQL, memory). */
export function packDirFor(db: object): string | null {
  return registered.get(db) ?? null;
}

/**
 * After the accounts' messages are gone from the database (committed), their packs go too. Where `db`
 * has none, nothing happens; packs left by a process that stopped in between go at the store's next open.
 */
export function dropAccountPacks(db: object, accountIds: number[]): void {
  const dir = packDirFor(db);
  if (dir) removeAccountPacks(dir, accountIds);
}
