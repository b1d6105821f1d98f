// Crashes: `mail-helper worker` processes (BullMQ) SIGKILLed at random points of a 5,000-message initial
// sync, restarted each time. In the end the store must equal the server exactly: nothing lost, nothing
// duplicated, and every message opens to its exact source. On SQLite and on PostgreSQL (when it answers).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRawMessage } from '../../../src/messages/message-repo.js';
import { attemptsOf } from '../../../src/queue/task-repo.js';
import { enqueueAccountSync } from '../../../src/tasks/sync-service.js';
import { startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { startWorkerProcess, type RunningProcess } from '../../fixtures/processes.js';
import { createQueueHarness, type QueueHarness } from '../../fixtures/queue.js';
import { storeKinds } from '../../fixtures/stores.js';
import { serverLocations, storedLive } from '../../integration/sync/sync-helpers.js';

const MESSAGES = 5_000;
const KILLS = 6;
const FOLDERS = ['INBOX', 'Archive'];

/** ~1–2 KB messages, a few flags, two folders. */
function message(i: number): string {
  return [
    `From: Sender ${i % 37} <s${i % 37}@example.org>`,
    'To: crash@example.org',
    `Subject: crash test ${i}`,
    `Date: Mon, 1 Jan 2024 ${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00 +0000`,
    `Message-ID: <crash-${i}@example.org>`,
    '',
    `message ${i} `.repeat(70 + (i % 60)),
    '',
  ].join('\r\n');
}

interface Progress {
  phase?: string;
  done?: number;
  total?: number;
}

describe.each(await storeKinds())(`worker processes SIGKILLed during a ${MESSAGES}-message initial sync (BullMQ on %s)`, (storeKind) => {
  let d: Dovecot;
  let h: QueueHarness;
  let worker: RunningProcess | undefined;
  beforeAll(async () => {
    d = await startDovecot();
    d.addUser('crash', 'crash-pw');
    for (let i = 0; i < MESSAGES; i++)
      d.writeMessage('crash', FOLDERS[i % 5 === 0 ? 1 : 0], message(i), { flags: i % 3 === 0 ? ['\\Seen'] : [] });
    // The test process only enqueues and watches; the jobs run in the worker processes.
    h = await createQueueHarness('bullmq', storeKind, { startWorker: false, extra: { WORKER_LEASE_MS: '1000', RETRY_BASE_MS: '50' } });
  });
  afterAll(async () => {
    if (worker) {
      worker.proc.kill('SIGKILL');
      await worker.exited;
    }
    await h?.cleanup();
    await d?.stop();
  });

  it(`survives ${KILLS} SIGKILLs at random points and ends with exactly the server's messages`, { timeout: 150_000 }, async () => {
    const user = await h.addUser();
    const accountId = await h.addAccount(user, { host: d.host, port: d.port, username: 'crash', password: 'crash-pw' });
    const started = Date.now();
    const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, {
      userId: user.id,
      accountId,
      dek: user.dek,
      maxEmails: MESSAGES * 2,
    });
    const stored = async () =>
      Number(
        (
          await h.ts.store.db
            .selectFrom('messages')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('account_id', '=', accountId)
            .executeTakeFirstOrThrow()
        ).n,
      );
    // Kill points: the first during the state step (random moment), the others once a random, growing
    // share (5–85 %) of the mailbox is stored, so that the kills spread over the whole fetch.
    const thresholds = Array.from({ length: KILLS - 1 }, () => Math.floor(MESSAGES * (0.05 + Math.random() * 0.8))).sort((x, y) => x - y);
    const kills: string[] = [];
    for (let k = 0; k < KILLS; k++) {
      worker = await startWorkerProcess({ ...h.env, LOG_LEVEL: 'info' }, ['--concurrency', '1']);
      const end = Date.now() + 60_000;
      let extra = k === 0 ? Math.floor(Math.random() * 300) : 0;
      for (;;) {
        const t = await h.system.queue.get(task.id);
        expect(t?.state, `the sync is still running before kill ${k + 1}`).not.toMatch(/SUCCESS|FAILURE/);
        const p = (t?.progress ? JSON.parse(t.progress) : {}) as Progress;
        const attempts = await attemptsOf(h.ts.store, task.id);
        const running = t?.state === 'STARTED' && attempts.length > k && attempts[k].finished_at === null;
        const n = running ? await stored() : 0;
        // Progress is saved every 250 ms, so a short state step may show as 'fetch' already.
        const due = k === 0 ? p.phase === 'state' || p.phase === 'fetch' : n >= thresholds[k - 1] || p.phase === 'reconcile';
        if (running && due) {
          if (extra > 0) {
            await new Promise((r) => setTimeout(r, extra));
            extra = 0;
            continue;
          }
          worker.proc.kill('SIGKILL');
          await worker.exited;
          worker = undefined;
          kills.push(`${p.phase}${p.phase === 'fetch' ? ` ${p.done}/${p.total}` : ''}, ${await stored()} stored`);
          break;
        }
        if (Date.now() > end) throw new Error(`kill point ${k + 1} not reached:\n${worker.output().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    worker = await startWorkerProcess({ ...h.env, LOG_LEVEL: 'info' }, ['--concurrency', '1']);
    const end = Date.now() + 90_000;
    for (;;) {
      const t = await h.system.queue.get(task.id);
      if (t?.state === 'SUCCESS' || t?.state === 'FAILURE') {
        expect(t.error).toBeNull();
        expect(t.state).toBe('SUCCESS');
        break;
      }
      if (Date.now() > end) throw new Error(`the sync did not finish after the kills:\n${worker.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const outcomes = (await attemptsOf(h.ts.store, task.id)).map((a) => a.outcome);
    expect(outcomes.filter((o) => o === 'interrupted')).toHaveLength(KILLS);
    expect(outcomes.at(-1)).toBe('success');

    // Exactly the server: every (folder, uid, flags), one row per stable id, nothing extra in the mirror.
    const live = await storedLive(h.ts.store, accountId);
    expect(live).toHaveLength(MESSAGES);
    expect(live).toEqual(await serverLocations(d, 'crash', 'crash-pw', FOLDERS));
    const ids = await h.ts.store.db.selectFrom('messages').select('stable_id').where('account_id', '=', accountId).execute();
    expect(ids).toHaveLength(MESSAGES);
    expect(new Set(ids.map((r) => r.stable_id)).size).toBe(MESSAGES);
    const mirror = await h.ts.store.db.selectFrom('server_messages').select('uid').where('account_id', '=', accountId).execute();
    expect(mirror).toHaveLength(MESSAGES);
    // And every stored message opens to its exact source: no row names bytes a kill cut off (on SQLite
    // the bulk's sources are in pack files, written and synced before their rows commit).
    const rows = await h.ts.store.db
      .selectFrom('messages')
      .select(['id', 'uid', 'folder_id'])
      .where('account_id', '=', accountId)
      .execute();
    const seen = new Set<number>();
    for (const r of rows) {
      const raw = (await getRawMessage(h.ts.store.db, user.dek, user.id, Number(r.id)))?.toString() ?? '';
      const i = Number(/Subject: crash test (\d+)/.exec(raw)?.[1]);
      expect(raw, `message ${r.id}`).toBe(message(i));
      seen.add(i);
    }
    expect(seen.size).toBe(MESSAGES);
    console.log(
      `SIGKILL crashes survived: ${kills.length} (at ${kills.join('; ')}); ${MESSAGES} messages on ${storeKind}, ` +
        `0 lost, 0 duplicated; ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  });
});
