import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncAccount } from '../../../src/sync/engine.js';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { startFaultProxy, type FaultProxy } from '../../fixtures/fault-proxy.js';
import { createTestAccount, rawMessage } from '../../fixtures/sync-account.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';
import { onServer, serverLocations, storedLive } from './sync-helpers.js';

let d: Dovecot;
let proxy: FaultProxy;
let userNo = 0;
beforeAll(async () => {
  d = await startDovecot();
  // Dovecot re-reads its passwd-file by mtime (1 s resolution): create every test user up front.
  for (let i = 1; i <= 60; i++) d.addUser(`u${i}`, `u${i}-pw`);
  proxy = await startFaultProxy({ host: d.host, port: d.port });
});
afterAll(async () => {
  await proxy?.close();
  await d?.stop();
});

describe.each(await storeKinds())('sync engine on %s', (kind) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(async () => {
    await ts?.cleanup();
  });

  async function setup(settings: Parameters<typeof createTestAccount>[3] = {}, viaProxy = false) {
    const user = `u${++userNo}`;
    const pw = `${user}-pw`;
    const server = viaProxy ? { host: proxy.host, port: proxy.port } : { host: d.host, port: d.port };
    const acc = await createTestAccount(ts.store, server, { username: user, password: pw }, settings);
    return { user, pw, acc };
  }

  it('initial sync stores every message and mirrors (folder, uid, flags) exactly', async () => {
    const { user, pw, acc } = await setup();
    for (let i = 0; i < 5; i++) d.writeMessage(user, 'INBOX', rawMessage({ subject: `in ${i}` }), { flags: i % 2 ? ['\\Seen'] : [] });
    for (let i = 0; i < 3; i++) d.writeMessage(user, 'Archive', rawMessage({ subject: `ar ${i}` }), { flags: ['\\Flagged'] });
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(8);
    expect(stats.remaining).toBe(0);
    expect(stats.onServer).toBe(8);
    expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, ['INBOX', 'Archive']));
  });

  it('a second sync with nothing changed fetches no body and transfers almost nothing', async () => {
    const { user, pw, acc } = await setup({}, true);
    for (let i = 0; i < 20; i++) d.writeMessage(user, 'INBOX', rawMessage({ subject: `m ${i}`, body: 'x'.repeat(2000) }));
    d.writeMessage(user, 'Archive', rawMessage({ subject: 'archived' }));
    await syncAccount(acc.input());
    proxy.resetCounters();
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(0);
    expect(stats.bytesFetched).toBe(0);
    expect(stats.new).toBe(0);
    // Counted at the start of the run (nothing was written since), over every folder.
    expect(stats.onServer).toBe(21);
    // 20 bodies are > 40 KB; greeting, login, LIST-STATUS and logout are a few KB at most.
    expect(proxy.bytesToClient).toBeLessThan(6000);
    expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, ['INBOX', 'Archive']));
  });

  it('new mail and flag changes without expunges: each changed folder is opened once', async () => {
    const { user, pw, acc } = await setup({}, true);
    for (let i = 0; i < 4; i++) d.writeMessage(user, 'INBOX', rawMessage({ subject: `m ${i}` }));
    for (let i = 0; i < 3; i++) d.writeMessage(user, 'Archive', rawMessage({ subject: `a ${i}` }));
    d.writeMessage(user, 'Sent', rawMessage({ subject: 'unchanged' }));
    await syncAccount(acc.input());
    d.writeMessage(user, 'INBOX', rawMessage({ subject: 'new in inbox' }));
    d.writeMessage(user, 'Archive', rawMessage({ subject: 'new in archive' }));
    await d.withClient(user, pw, async (c) => {
      const lock = await c.getMailboxLock('Archive');
      try {
        await c.messageFlagsAdd('1', ['\\Flagged'], { uid: true });
      } finally {
        lock.release();
      }
    });
    proxy.resetCounters();
    const stats = await syncAccount(acc.input());
    expect([stats.fetched, stats.flagChanges, stats.deleted]).toEqual([2, 1, 0]);
    // INBOX and Archive changed (Sent did not): one EXAMINE each, for both passes. The EXAMINE (QRESYNC)
    // reports the flag change itself, and the new UIDs' range is read with their bodies at once: two
    // commands per changed folder, no CHANGEDSINCE FETCH or SEARCH between them.
    const visits = proxy.commands.slice(proxy.commands.indexOf('EXAMINE'), proxy.commands.lastIndexOf('UID FETCH') + 1);
    expect(visits).toEqual(['EXAMINE', 'UID FETCH', 'EXAMINE', 'UID FETCH']);
    expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, ['INBOX', 'Archive', 'Sent']));
  });

  it('more new mail than EXAMINE should report: flag changes are read with CHANGEDSINCE, the sync stays exact', async () => {
    const { user, pw, acc } = await setup({}, true);
    for (let i = 0; i < 3; i++) d.writeMessage(user, 'INBOX', rawMessage({ subject: `m ${i}` }));
    await syncAccount(acc.input());
    // Beyond a few new UIDs, the flag change is asked for by a FETCH of the known UIDs, not by QRESYNC.
    for (let i = 0; i < 25; i++) d.writeMessage(user, 'INBOX', rawMessage({ subject: `new ${i}` }));
    await onServer(d, user, pw, 'INBOX', (c) => c.messageFlagsAdd('2', ['\\Flagged'], { uid: true }));
    proxy.resetCounters();
    const stats = await syncAccount(acc.input());
    expect([stats.fetched, stats.flagChanges, stats.deleted]).toEqual([25, 1, 0]);
    const visit = proxy.commands.slice(proxy.commands.indexOf('EXAMINE'), proxy.commands.lastIndexOf('UID FETCH') + 1);
    expect(visit).toEqual(['EXAMINE', 'UID FETCH', 'UID FETCH']);
    expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, ['INBOX']));
  });

  it('a flag changed between pass A and pass B is not skipped by the saved modseq', async () => {
    const { user, pw, acc } = await setup();
    for (let i = 0; i < 3; i++) d.writeMessage(user, 'INBOX', rawMessage({ subject: `m ${i}` }));
    for (let i = 0; i < 2; i++) d.writeMessage(user, 'Archive', rawMessage({ subject: `a ${i}` }));
    await syncAccount(acc.input());
    // An expunge makes the passes visit the folders one after the other; new mail gives INBOX a pass B.
    await onServer(d, user, pw, 'Archive', (c) => c.messageDelete('1', { uid: true }));
    d.writeMessage(user, 'INBOX', rawMessage({ subject: 'new' }));
    let inboxVisits = 0;
    const stats = await syncAccount(
      acc.input({
        onProgress: (p) => {
          // The second visit is pass B's: pass A has read INBOX's flags already. doveadm runs synchronously.
          if (p.phase === 'state' && p.folder === 'INBOX' && ++inboxVisits === 2)
            d.doveadm(['flags', 'add', '-u', user, '\\Flagged', 'mailbox', 'INBOX', 'uid', '1']);
        },
      }),
    );
    expect([inboxVisits, stats.fetched, stats.deleted]).toEqual([2, 1, 1]);
    await syncAccount(acc.input());
    const inbox = (await storedLive(ts.store, acc.account.id)).filter((l) => l.folder === 'INBOX');
    expect(inbox.find((l) => l.uid === 1)?.flags).toContain('\\Flagged');
    expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, ['INBOX', 'Archive']));
  });

  it('new UIDs expunged again before the sync: nothing fetched, nothing deleted, exact', async () => {
    const { user, pw, acc } = await setup({}, true);
    for (let i = 0; i < 3; i++) d.writeMessage(user, 'INBOX', rawMessage({ subject: `m ${i}` }));
    await syncAccount(acc.input());
    for (let i = 0; i < 2; i++) d.writeMessage(user, 'INBOX', rawMessage({ subject: `gone ${i}` }));
    // UIDNEXT moves on to 6 while no message above UID 3 is left.
    await onServer(d, user, pw, 'INBOX', (c) => c.messageDelete('4:5', { uid: true }));
    proxy.resetCounters();
    const stats = await syncAccount(acc.input());
    expect([stats.fetched, stats.new, stats.deleted]).toEqual([0, 0, 0]);
    expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, ['INBOX']));
    expect((await syncAccount(acc.input())).fetched).toBe(0);
  });

  it('new mail, server-side flag changes and expunges are followed', async () => {
    const { user, pw, acc } = await setup();
    for (let i = 0; i < 4; i++) d.writeMessage(user, 'INBOX', rawMessage({ subject: `m ${i}` }));
    await syncAccount(acc.input());
    d.writeMessage(user, 'INBOX', rawMessage({ subject: 'new one' }));
    await d.withClient(user, pw, async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        await c.messageFlagsAdd('1', ['\\Seen', '\\Flagged'], { uid: true });
        await c.messageDelete('2', { uid: true });
      } finally {
        lock.release();
      }
    });
    const stats = await syncAccount(acc.input());
    expect(stats.fetched).toBe(1);
    expect(stats.flagChanges).toBe(1);
    expect(stats.deleted).toBe(1);
    expect(await storedLive(ts.store, acc.account.id)).toEqual(await serverLocations(d, user, pw, ['INBOX']));
  });
});
