// Assertions shared by the sync engine tests: stored live messages vs the server's folders.
import type { Store } from '../../../src/store/db.js';
import type { Dovecot } from '../../fixtures/dovecot.js';

export interface Location {
  folder: string;
  uid: number;
  flags: string[];
}

const order = (a: Location, b: Location) => a.folder.localeCompare(b.folder) || a.uid - b.uid;

export async function storedLive(store: Store, accountId: number): Promise<Location[]> {
  const rows = await store.db
    .selectFrom('messages as m')
    .innerJoin('folders as f', 'f.id', 'm.folder_id')
    .select(['f.path', 'm.uid', 'm.flags'])
    .where('m.account_id', '=', accountId)
    .where('m.deleted_at', 'is', null)
    .execute();
  return rows.map((r) => ({ folder: r.path, uid: Number(r.uid), flags: (JSON.parse(r.flags) as string[]).sort() })).sort(order);
}

export async function serverLocations(d: Dovecot, user: string, pw: string, folders: string[]): Promise<Location[]> {
  const out: Location[] = [];
  for (const folder of folders) {
    for (const m of await d.folderState(user, pw, folder))
      out.push({ folder, uid: m.uid, flags: m.flags.filter((f) => f !== '\\Recent').sort() });
  }
  return out.sort(order);
}

export async function countRows(store: Store, table: 'messages' | 'attachments' | 'server_messages'): Promise<number> {
  const r = await store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Runs fn against the IMAP server as the user, with INBOX (or a folder) selected read-write. */
export async function onServer<T>(
  d: Dovecot,
  user: string,
  pw: string,
  folder: string,
  fn: (c: import('imapflow').ImapFlow) => Promise<T>,
): Promise<T> {
  return d.withClient(user, pw, async (c) => {
    const lock = await c.getMailboxLock(folder);
    try {
      return await fn(c);
    } finally {
      lock.release();
    }
  });
}

/** Dovecot re-reads its passwd-file by mtime (1 s resolution), so a test file creates its users up front and hands them out. */
export class UserPool {
  private next = 0;
  constructor(
    private readonly d: Dovecot,
    size = 60,
  ) {
    for (let i = 1; i <= size; i++) d.addUser(`u${i}`, `u${i}-pw`);
  }
  take(): { user: string; pw: string } {
    const user = `u${++this.next}`;
    return { user, pw: `${user}-pw` };
  }
}
