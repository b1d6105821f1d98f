import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { buildApp } from '../../../src/web/app.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';

const TOKEN = 'm'.repeat(40);

describe.each(await storeKinds())('/metrics on %s', (kind) => {
  let ts: TestStore;
  let app: Awaited<ReturnType<typeof buildApp>>;
  beforeAll(async () => {
    ts = await createTestStore(kind, { METRICS_TOKEN: TOKEN });
    const config = loadConfig({ env: ts.env, envFile: false });
    const metrics = createMetrics({ store: ts.store, defaultMetrics: false });
    metrics.taskFinished('sync_user_emails', 'SUCCESS', 1500);
    metrics.taskRetried('sync_user_emails');
    metrics.messagesSynced(12, 34_000);
    metrics.imapError('timeout');
    const now = Date.now();
    await ts.store.db
      .insertInto('tasks')
      .values({
        id: 't1',
        type: 'ping',
        queue: 'local',
        state: 'PENDING',
        payload: '{}',
        attempt: 0,
        max_attempts: 1,
        cancel_requested: 0,
        created_at: now - 5000,
        updated_at: now,
      })
      .execute();
    app = await buildApp({ config, store: ts.store, logger: pino({ level: 'silent' }), readiness: [], metrics });
  });
  afterAll(async () => {
    await app?.close();
    await ts?.cleanup();
  });

  it('answers 404 without credentials and 401 for a wrong token', async () => {
    expect((await app.inject({ url: '/metrics' })).statusCode).toBe(404);
    const wrong = await app.inject({ url: '/metrics', headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
  });

  it('exports task, sync and queue metrics with the bearer token', async () => {
    const r = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/text\/plain/);
    expect(r.body).toMatch(/mail_helper_tasks_total\{type="sync_user_emails",state="SUCCESS"\} 1/);
    expect(r.body).toMatch(/mail_helper_task_duration_seconds_bucket\{le="2",type="sync_user_emails",state="SUCCESS"\} 1/);
    expect(r.body).toMatch(/mail_helper_task_retries_total\{type="sync_user_emails"\} 1/);
    expect(r.body).toMatch(/mail_helper_messages_synced_total 12/);
    expect(r.body).toMatch(/mail_helper_bytes_synced_total 34000/);
    expect(r.body).toMatch(/mail_helper_imap_errors_total\{code="timeout"\} 1/);
    expect(r.body).toMatch(/mail_helper_queue_tasks\{state="PENDING"\} 1/);
    expect(r.body).toMatch(/mail_helper_workers_alive 0/);
    const oldest = Number(/^mail_helper_queue_oldest_waiting_seconds (\S+)$/m.exec(r.body)?.[1]);
    expect(oldest).toBeGreaterThanOrEqual(5);
  });
});
