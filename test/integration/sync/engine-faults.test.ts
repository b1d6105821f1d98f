import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncAccount } from '../../../src/sync/engine.js';
import type { SyncProgress } from '../../../src/sync/engine-types.js';
import { SyncError } from '../../../src/sync/errors.js';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { startFaultProxy, type FaultProxy } from '../../fixtures/fault-proxy.js';
import { createTestAccount, rawMessage } from '../../fixtures/sync-account.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';
import { serverLocations, storedLive, UserPool } from './sync-helpers.js';

let d: Dovecot;
let proxy: FaultProxy;
let users: UserPool;
let tlsD: Dovecot;
let tlsUsers: UserPool;
let fingerprint: string;
beforeAll(async () => {
  d = await startDovecot();
  users = new UserPool(d);
  proxy = await startFaultProxy({ host: d.host, port: d.port });
  // A separate TLS instance: the fixture's own client would try STARTTLS against its self-signed certificate.
  tlsD = await startDovecot({ tls: true });
  tlsUsers = new UserPool(tlsD, 10);
  fingerprint = new X509Certificate(readFileSync(tlsD.certPem!)).fingerprint256;
});
afterAll(async () => {
  await proxy?.close();
  await d?.stop();
  await tlsD?.stop();
});

async function syncError(p: Promise<unknown>): Promise<SyncError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SyncError);
  return err as SyncError;
}

describe.each(await storeKinds())('sync engine: faults on %s', (kind) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(async () => {
    proxy.reset();
    await ts?.cleanup();
  });

  async function setup(settings: Parameters<typeof createTestAccount>[3] = {}, server = { host: proxy.host, port: proxy.port }) {
    const { user, pw } = users.take();
    const acc = await createTestAccount(ts.store, server, { username: user, password: pw }, settings);
    const exact = async (folders: string[]) =>
      expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, folders));
    return { user, pw, acc, exact };
  }

  /** An account on the suite's Dovecot itself (no proxy), two messages in each folder synced, then two new ones in each. */
  async function syncedWithNewMail(folders: string[]) {
    const { user, acc, exact } = await setup({}, { host: d.host, port: d.port });
    const mail = (tag: string) => {
      for (const f of folders) for (let i = 0; i < 2; i++) d.writeMessage(user, f, rawMessage({ subject: `${tag} ${f} ${i}` }));
    };
    mail('first');
    expect((await syncAccount(acc.input())).fetched).toBe(2 * folders.length);
    mail('new');
    return { acc, exact };
  }

  it('a connection cut anywhere in the sync, then a rerun, ends exact with no duplicates', async () => {
    const { user, acc, exact } = await setup();
    // ~300 KB each: step 2 flushes every 4 MB, so a cut after ~6 MB leaves a partial store behind.
    for (let i = 0; i < 30; i++)
      d.writeMessage(user, i % 3 ? 'INBOX' : 'Archive', rawMessage({ subject: `m${i}`, body: `${i} `.repeat(100_000) }));
    // Cut points from the login through step 1 into the middle of step 2.
    for (const cutAt of [300, 2500, 60_000, 6_000_000]) {
      proxy.reset();
      void proxy.cutAfter(cutAt);
      const err = await syncError(syncAccount(acc.input()));
      expect(err.kind).toBe('transient');
      expect(['network', 'server-unavailable']).toContain(err.code);
    }
    proxy.reset();
    const partial = (await ts.store.db.selectFrom('messages').select('id').where('account_id', '=', acc.account.id).execute()).length;
    expect(partial).toBeGreaterThan(0);
    const stats = await syncAccount(acc.input());
    expect(stats.fetched + partial).toBeGreaterThanOrEqual(30);
    const stored = await ts.store.db.selectFrom('messages').select('stable_id').where('account_id', '=', acc.account.id).execute();
    expect(stored).toHaveLength(30);
    await exact(['INBOX', 'Archive']);
    expect((await syncAccount(acc.input())).fetched).toBe(0);
  });

  it('a server quirk in every FETCH response that the body reader cannot parse: ImapFlow reads the bodies, the sync ends exact', async () => {
    const { user, acc, exact } = await setup();
    for (let i = 0; i < 12; i++) d.writeMessage(user, i % 3 ? 'INBOX' : 'Archive', rawMessage({ subject: `q${i}` }));
    proxy.reset();
    // A NUL in a quoted string: ImapFlow's parser takes it, the direct reader's does not.
    proxy.rewriteFetch((line) => line.replace('FETCH (', 'FETCH (X-NOTE "a\0b" '), Number.MAX_SAFE_INTEGER);
    try {
      const stats = await syncAccount(acc.input());
      expect([stats.fetched, stats.remaining]).toEqual([12, 0]);
      await exact(['INBOX', 'Archive']);
      d.writeMessage(user, 'INBOX', rawMessage({ subject: 'later' }));
      expect((await syncAccount(acc.input())).fetched).toBe(1);
      await exact(['INBOX', 'Archive']);
    } finally {
      proxy.reset();
    }
  });

  // Login fails before the store is touched, so one store kind covers it (Dovecot delays a failed login by 2 s).
  it.runIf(kind === 'postgres')(
    'a slow store: two small batches wait in flight while the next folder is read, a third waits its turn; the sync ends exact',
    async () => {
      const folders = ['INBOX', 'Archive', 'Sent', 'Junk'];
      const { acc, exact } = await syncedWithNewMail(folders);
      // Another session holds the messages table: every INSERT of a message waits, reads do not.
      const blocker = new pg.Client({ connectionString: ts.env.DATABASE_URL });
      await blocker.connect();
      try {
        await blocker.query('begin');
        await blocker.query('lock table messages in exclusive mode');
        const visited: string[] = [];
        const onProgress = (p: SyncProgress) => {
          if (p.phase === 'state' && p.folder && !visited.includes(p.folder)) visited.push(p.folder);
        };
        const sync = syncAccount(acc.input({ onProgress }));
        sync.catch(() => {});
        // The first two folders' batches are in flight (one INSERT waiting, one queued behind it); the
        // third folder is read, and its batch waits for room, so the fourth is not reached.
        await expect.poll(() => visited.length, { timeout: 10_000 }).toBe(3);
        await new Promise((r) => setTimeout(r, 500));
        expect(visited).toHaveLength(3);
        await blocker.query('commit');
        const stats = await sync;
        expect([stats.fetched, stats.remaining]).toEqual([8, 0]);
        expect(visited.sort()).toEqual([...folders].sort());
        await exact(folders);
      } finally {
        await blocker.end();
      }
    },
  );

  it.runIf(kind === 'postgres')(
    'new locations the store refuses fail the sync as a store fault; their folder state stays unsaved and a rerun ends exact',
    async () => {
      const folders = ['INBOX', 'Archive'];
      const { acc, exact } = await syncedWithNewMail(folders);
      // The new locations go to the store behind the folder's reads (BatchWriter.submit): here every one is refused.
      const admin = new pg.Client({ connectionString: ts.env.DATABASE_URL });
      await admin.connect();
      try {
        await admin.query(
          `create function mh_test_refuse() returns trigger language plpgsql as $$ begin raise exception 'refused for the test' using errcode = '40P01'; end $$`,
        );
        await admin.query('create trigger mh_test_refuse before insert on server_messages for each row execute function mh_test_refuse()');
        const err = await syncError(syncAccount(acc.input()));
        expect([err.kind, err.code]).toEqual(['transient', 'store-busy']);
        const uidnext = await ts.store.db
          .selectFrom('folders')
          .select(['path', 'uidnext'])
          .where('account_id', '=', acc.account.id)
          .execute();
        // Each folder's UIDNEXT is the one of the first sync: the new messages are still to be found.
        expect(uidnext.map((f) => f.uidnext).sort()).toEqual([3, 3]);
      } finally {
        await admin.query('drop trigger if exists mh_test_refuse on server_messages');
        await admin.query('drop function if exists mh_test_refuse()');
        await admin.end();
      }
      expect((await syncAccount(acc.input())).fetched).toBe(4);
      await exact(folders);
    },
  );

  it.runIf(kind === 'sqlite')('a wrong password is a permanent auth error without the password in the message', async () => {
    // Its own Dovecot: a failed login makes Dovecot delay later logins from the same address.
    const own = await startDovecot();
    try {
      own.addUser('victim', 'right-pw');
      const acc = await createTestAccount(
        ts.store,
        { host: own.host, port: own.port },
        { username: 'victim', password: 'wrong-secret-pw' },
      );
      const err = await syncError(syncAccount(acc.input()));
      expect([err.kind, err.code]).toEqual(['permanent', 'auth-failed']);
      expect(err.message).not.toContain('wrong-secret-pw');
    } finally {
      await own.stop();
    }
  });

  it('a refused connection is transient (network) and a stalled one times out (transient)', async () => {
    const { acc } = await setup();
    proxy.refuse();
    const refused = await syncError(syncAccount(acc.input()));
    expect([refused.kind, refused.code]).toEqual(['transient', 'network']);
    proxy.stall();
    const stalled = await syncError(syncAccount(acc.input({ options: { timeoutMs: 300 } })));
    expect([stalled.kind, stalled.code]).toEqual(['transient', 'timeout']);
    proxy.reset();
  });

  it('an abort stops between batches with a cancelled error; a rerun completes', async () => {
    const { user, acc, exact } = await setup();
    for (let i = 0; i < 5; i++) d.writeMessage(user, 'INBOX', rawMessage({ subject: `c${i}` }));
    const ac = new AbortController();
    const events: SyncProgress[] = [];
    const onProgress = (p: SyncProgress) => {
      events.push(p);
      if (p.phase === 'fetch') ac.abort();
    };
    const err = await syncError(syncAccount(acc.input({ signal: ac.signal, onProgress })));
    expect(err.code).toBe('cancelled');
    expect(events.map((e) => e.phase)).toEqual(expect.arrayContaining(['connect', 'folders', 'state', 'fetch']));
    const done: SyncProgress[] = [];
    const stats = await syncAccount(acc.input({ onProgress: (p) => done.push(p) }));
    expect(stats.fetched).toBe(5);
    expect(done.at(-1)).toMatchObject({ phase: 'done', done: 5, total: 5 });
    expect(done.find((p) => p.phase === 'fetch' && p.folderCount !== undefined)).toMatchObject({ folderIndex: 1, folderCount: 1 });
    await exact(['INBOX']);
  });

  it('TLS: a self-signed certificate is rejected unless its fingerprint is trusted', async () => {
    const { user, pw } = tlsUsers.take();
    const credentials = { username: user, password: pw };
    tlsD.writeMessage(user, 'INBOX', rawMessage({ subject: 'over tls' }));
    const account = (settings: Parameters<typeof createTestAccount>[3], port: number) =>
      createTestAccount(ts.store, { host: '127.0.0.1', port }, credentials, settings);
    const plain = await account({ security: 'tls' }, tlsD.tlsPort!);
    const rejected = await syncError(syncAccount(plain.input()));
    expect([rejected.kind, rejected.code]).toEqual(['permanent', 'tls-rejected']);
    const wrong = await account({ security: 'tls', tlsFingerprint: 'AA:'.repeat(31) + 'AA' }, tlsD.tlsPort!);
    expect((await syncError(syncAccount(wrong.input()))).code).toBe('tls-rejected');
    const pinned = await account({ security: 'tls', tlsFingerprint: fingerprint }, tlsD.tlsPort!);
    expect((await syncAccount(pinned.input())).fetched).toBe(1);
    const starttls = await account({ security: 'starttls', tlsFingerprint: fingerprint.replace(/:/g, '').toLowerCase() }, tlsD.port);
    expect((await syncAccount(starttls.input())).fetched).toBe(1);
    const starttlsUnpinned = await account({ security: 'starttls' }, tlsD.port);
    expect((await syncError(syncAccount(starttlsUnpinned.input()))).code).toBe('tls-rejected');
  });

  it('invalid settings are permanent errors that say what to fix', async () => {
    const { acc } = await setup({ sinceDate: 'last tuesday' });
    const err = await syncError(syncAccount(acc.input()));
    expect([err.kind, err.code]).toEqual(['permanent', 'invalid-settings']);
    expect(err.message).toMatch(/YYYY-MM-DD/);
  });
});
