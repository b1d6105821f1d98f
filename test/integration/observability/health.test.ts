import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { checkHealth, formatHealth } from '../../../src/observability/health.js';
import { createTestStore, storeKinds, type TestStore } from '../../fixtures/stores.js';
import { createTestRedis } from '../../fixtures/redis.js';

const TYPES = ['sync_user_emails', 'sync_all_accounts', 'ping'];

describe.each(await storeKinds())('health checks on %s', (kind) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(async () => ts?.cleanup());

  const worker = (id: string, queue: string, heartbeatAgoMs: number, types = TYPES) => ({
    id,
    host: 'box',
    pid: 42,
    queue,
    concurrency: 2,
    version: '0.1.0',
    current_jobs: '[]',
    task_types: JSON.stringify(types),
    started_at: Date.now() - 60_000,
    last_heartbeat_at: Date.now() - heartbeatAgoMs,
  });

  it('is unhealthy with no live worker, and says how to start one', async () => {
    await ts.store.db
      .insertInto('workers')
      .values(worker('dead', 'local', 120_000))
      .execute();
    const r = await checkHealth(ts.config, ts.store, { taskTypes: TYPES });
    expect(r.healthy).toBe(false);
    const w = r.checks.find((c) => c.name === 'workers')!;
    expect(w.ok).toBe(false);
    expect(w.hint).toMatch(/mail-helper serve/);
    expect(formatHealth(r)).toMatch(/NOT healthy/);
  });

  it('is healthy with a live worker that runs every task type', async () => {
    await ts.store.db
      .insertInto('workers')
      .values(worker('live', 'local', 1000))
      .execute();
    const r = await checkHealth(ts.config, ts.store, { taskTypes: TYPES });
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.healthy).toBe(true);
  });

  it('names a worker that lacks a task type (task not registered)', async () => {
    await ts.store.db
      .insertInto('workers')
      .values(worker('old', 'local', 1000, ['ping']))
      .execute();
    const r = await checkHealth(ts.config, ts.store, { taskTypes: TYPES });
    const c = r.checks.find((x) => x.name === 'task types')!;
    expect(c.ok).toBe(false);
    expect(c.detail).toMatch(/lacks sync_user_emails, sync_all_accounts/);
    expect(c.hint).toMatch(/older build/);
    await ts.store.db.deleteFrom('workers').where('id', '=', 'old').execute();
  });

  it('flags an old backlog', async () => {
    const now = Date.now();
    await ts.store.db
      .insertInto('tasks')
      .values({
        id: 'old-task',
        type: 'ping',
        queue: 'local',
        state: 'PENDING',
        payload: '{}',
        attempt: 0,
        max_attempts: 1,
        cancel_requested: 0,
        created_at: now - 600_000,
        updated_at: now,
      })
      .execute();
    const r = await checkHealth(ts.config, ts.store, { taskTypes: TYPES, maxBacklogAgeMs: 60_000 });
    expect(r.checks.find((c) => c.name === 'backlog')).toMatchObject({ ok: false });
    await ts.store.db.deleteFrom('tasks').where('id', '=', 'old-task').execute();
  });

  it('flags stale accounts and hints at re-entering credentials after a key reset', async () => {
    const now = Date.now();
    const user = await ts.store.db
      .insertInto('users')
      .values({
        username: 'u',
        password_hash: 'x',
        is_admin: 0,
        kek_salt: Buffer.alloc(16),
        wrapped_dek: Buffer.alloc(61),
        key_id: 'k',
        failed_logins: 0,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await ts.store.db
      .insertInto('mail_accounts')
      .values({
        user_id: user.id,
        name: 'a',
        host: 'h',
        port: 993,
        security: 'tls',
        username_enc: Buffer.alloc(40),
        password_enc: Buffer.alloc(40),
        include_folders: '[]',
        exclude_folders: '[]',
        unseen_only: 0,
        max_emails: 50,
        enabled: 1,
        needs_password: 1,
        last_success_at: now - 3 * 24 * 3600_000,
        created_at: now - 5 * 24 * 3600_000,
        updated_at: now,
      })
      .execute();
    const r = await checkHealth(ts.config, ts.store, { taskTypes: TYPES });
    const c = r.checks.find((x) => x.name === 'sync freshness')!;
    expect(c.ok).toBe(false);
    expect(c.hint).toMatch(/Credentials cannot be decrypted .* re-enter/);
  });

  it('in BullMQ mode checks Redis and names it when unreachable', async () => {
    const redis = await createTestRedis();
    const good = loadConfig({ env: { ...ts.env, QUEUE: 'bullmq', REDIS_URL: redis.url }, envFile: false });
    expect((await checkHealth(good, ts.store, { taskTypes: TYPES })).checks.find((c) => c.name === 'redis')).toMatchObject({ ok: true });
    const bad = loadConfig({ env: { ...ts.env, QUEUE: 'bullmq', REDIS_URL: 'redis://127.0.0.1:1' }, envFile: false });
    const r = await checkHealth(bad, ts.store, { taskTypes: TYPES });
    expect(r.healthy).toBe(false);
    expect(r.checks.find((c) => c.name === 'redis')).toMatchObject({ ok: false, hint: expect.stringMatching(/Start Redis/) });
  });
});
