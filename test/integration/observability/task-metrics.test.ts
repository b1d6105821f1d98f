// Metrics move when real tasks run: a sync through the queue counts a success and its messages, an
// unreachable server counts retries, an IMAP error and a failure — on both backends.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { waitForTask } from '../../../src/queue/task-watch.js';
import { syncAccount } from '../../../src/sync/engine.js';
import { enqueueAccountSync } from '../../../src/tasks/sync-service.js';
import { freePort, startDovecot, type Dovecot } from '../../fixtures/dovecot.js';
import { createQueueHarness, type QueueHarness } from '../../fixtures/queue.js';

const value = async (m: Metrics, name: string, labels: Record<string, string> = {}) => {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, want]) => x.labels[k] === want));
  return v?.value ?? 0;
};

describe.each(['local', 'bullmq'] as const)('task metrics on the %s queue', (queueKind) => {
  let dovecot: Dovecot;
  let h: QueueHarness;
  const metrics = createMetrics({ defaultMetrics: false });
  const logLines: string[] = [];
  beforeAll(async () => {
    dovecot = await startDovecot();
    dovecot.addUser('metrics-user', 'metrics-pw');
    for (let i = 0; i < 4; i++)
      dovecot.writeMessage(
        'metrics-user',
        'INBOX',
        `From: a@example.org\r\nSubject: m${i}\r\nMessage-ID: <${randomBytes(5).toString('hex')}@x>\r\n\r\nbody ${i}\r\n`,
      );
    h = await createQueueHarness(queueKind, 'sqlite', {
      syncAccount,
      metrics,
      logLines,
      extra: { RETRY_ATTEMPTS: '1', RETRY_BASE_MS: '20' },
    });
  });
  afterAll(async () => {
    await h?.cleanup();
    await dovecot?.stop();
  });

  it('a successful sync counts a SUCCESS, its duration and its messages and bytes', async () => {
    const user = await h.addUser();
    const accountId = await h.addAccount(user, {
      host: dovecot.host,
      port: dovecot.port,
      username: 'metrics-user',
      password: 'metrics-pw',
    });
    const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId, dek: user.dek });
    expect((await waitForTask(h.ts.store, task.id, { timeoutMs: 20_000 })).state).toBe('SUCCESS');
    expect(await value(metrics, 'mail_helper_tasks_total', { type: 'sync_user_emails', state: 'SUCCESS' })).toBe(1);
    expect(await value(metrics, 'mail_helper_messages_synced_total')).toBe(4);
    expect(await value(metrics, 'mail_helper_bytes_synced_total')).toBeGreaterThan(100);
    expect(await metrics.registry.metrics()).toMatch(
      /mail_helper_task_duration_seconds_count\{type="sync_user_emails",state="SUCCESS"\} 1/,
    );
  });

  it('an unreachable server counts a retry, IMAP network errors and a FAILURE', async () => {
    const user = await h.addUser();
    const accountId = await h.addAccount(user, { host: '127.0.0.1', port: await freePort(), username: 'x', password: 'y' });
    const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId, dek: user.dek });
    expect((await waitForTask(h.ts.store, task.id, { timeoutMs: 20_000 })).state).toBe('FAILURE');
    expect(await value(metrics, 'mail_helper_task_retries_total', { type: 'sync_user_emails' })).toBe(1);
    expect(await value(metrics, 'mail_helper_tasks_total', { type: 'sync_user_emails', state: 'FAILURE' })).toBe(1);
    expect(await value(metrics, 'mail_helper_imap_errors_total', { code: 'network' })).toBe(2);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/mail_helper_task_duration_seconds_count\{type="sync_user_emails",state="FAILURE"\} 1/);
  });
});

describe('task log lines', () => {
  it('every line of a task names the task, its user and its account, and no secret', async () => {
    const dovecot = await startDovecot();
    const logLines: string[] = [];
    const h = await createQueueHarness('local', 'sqlite', { syncAccount, logLines });
    try {
      dovecot.addUser('log-user', 'log-secret-pw');
      dovecot.writeMessage('log-user', 'INBOX', 'From: a@example.org\r\nSubject: confidential-subject-xyz\r\n\r\nbody\r\n');
      const user = await h.addUser();
      const accountId = await h.addAccount(user, {
        host: dovecot.host,
        port: dovecot.port,
        username: 'log-user',
        password: 'log-secret-pw',
      });
      const { task } = await enqueueAccountSync(h.system.queue, h.system.deps, { userId: user.id, accountId, dek: user.dek });
      expect((await waitForTask(h.ts.store, task.id, { timeoutMs: 20_000 })).state).toBe('SUCCESS');
      const taskLines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.taskId === task.id);
      expect(taskLines.length).toBeGreaterThanOrEqual(2);
      for (const l of taskLines) expect(l).toMatchObject({ taskId: task.id, userId: user.id, accountId });
      const all = logLines.join('\n');
      for (const secret of ['log-secret-pw', 'confidential-subject-xyz', user.dek.toString('hex'), user.dek.toString('base64')])
        expect(all).not.toContain(secret);
    } finally {
      await h.cleanup();
      await dovecot.stop();
    }
  });
});
