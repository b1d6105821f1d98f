// Prometheus metrics. Two sources: counters/histograms recorded in the process that does the work
// (web in local mode, each worker in BullMQ mode — scrape them all and sum), and gauges read from the
// store at scrape time (queue depth, live workers, sync age), which are the same from any process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { sql } from 'kysely';
import type { Store } from '../store/db.js';
import { WORKER_STALE_MS } from '../queue/heartbeat.js';

export interface Metrics {
  registry: Registry;
  taskFinished(type: string, state: 'SUCCESS' | 'FAILURE' | 'REVOKED', durationMs: number): void;
  taskRetried(type: string): void;
  messagesSynced(count: number, bytes: number): void;
  imapError(code: string): void;
}

export function createMetrics(opts: { store?: Store; staleAfterMs?: number; defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'mail_helper_' });

  const tasks = new Counter({
    name: 'mail_helper_tasks_total',
    help: 'Tasks finished, by type and final state',
    labelNames: ['type', 'state'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'mail_helper_task_duration_seconds',
    help: 'Task run time from first start to final state',
    labelNames: ['type', 'state'],
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'mail_helper_task_retries_total',
    help: 'Task attempts that failed transiently and were scheduled again',
    labelNames: ['type'],
    registers: [registry],
  });
  const messages = new Counter({ name: 'mail_helper_messages_synced_total', help: 'Messages fetched and stored', registers: [registry] });
  const bytes = new Counter({ name: 'mail_helper_bytes_synced_total', help: 'Message bytes fetched and stored', registers: [registry] });
  const imapErrors = new Counter({
    name: 'mail_helper_imap_errors_total',
    help: 'IMAP errors by kind',
    labelNames: ['code'],
    registers: [registry],
  });

  const store = opts.store;
  if (store) {
    const staleAfterMs = opts.staleAfterMs ?? 24 * 3600_000;
    new Gauge({
      name: 'mail_helper_queue_tasks',
      help: 'Tasks not yet finished, by state (PENDING waiting, STARTED active, RETRY delayed)',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const rows = await store.db
          .selectFrom('tasks')
          .select(['state', sql<number>`count(*)`.as('n')])
          .where('state', 'in', ['PENDING', 'STARTED', 'RETRY'])
          .groupBy('state')
          .execute();
        this.reset();
        for (const s of ['PENDING', 'STARTED', 'RETRY']) this.set({ state: s }, Number(rows.find((r) => r.state === s)?.n ?? 0));
      },
    });
    new Gauge({
      name: 'mail_helper_queue_oldest_waiting_seconds',
      help: 'Age of the oldest task waiting to start (0 when none waits)',
      registers: [registry],
      async collect() {
        const row = await store.db
          .selectFrom('tasks')
          .select(sql<number | null>`min(created_at)`.as('oldest'))
          .where('state', '=', 'PENDING')
          .executeTakeFirst();
        this.set(row?.oldest ? Math.max(0, (Date.now() - Number(row.oldest)) / 1000) : 0);
      },
    });
    new Gauge({
      name: 'mail_helper_workers_alive',
      help: 'Workers with a recent heartbeat',
      registers: [registry],
      async collect() {
        const row = await store.db
          .selectFrom('workers')
          .select(sql<number>`count(*)`.as('n'))
          .where('last_heartbeat_at', '>', Date.now() - WORKER_STALE_MS)
          .executeTakeFirst();
        this.set(Number(row?.n ?? 0));
      },
    });
    new Gauge({
      name: 'mail_helper_last_successful_sync_age_seconds',
      help: 'Worst (largest) time since the last successful sync over enabled accounts that have synced',
      registers: [registry],
      async collect() {
        const row = await store.db
          .selectFrom('mail_accounts')
          .select(sql<number | null>`min(last_success_at)`.as('oldest'))
          .where('enabled', '=', 1)
          .where('last_success_at', 'is not', null)
          .executeTakeFirst();
        this.set(row?.oldest ? (Date.now() - Number(row.oldest)) / 1000 : 0);
      },
    });
    new Gauge({
      name: 'mail_helper_stale_accounts',
      help: 'Enabled accounts with no successful sync within the stale threshold',
      registers: [registry],
      async collect() {
        const row = await store.db
          .selectFrom('mail_accounts')
          .select(sql<number>`count(*)`.as('n'))
          .where('enabled', '=', 1)
          .where((eb) => eb.or([eb('last_success_at', 'is', null), eb('last_success_at', '<', Date.now() - staleAfterMs)]))
          .executeTakeFirst();
        this.set(Number(row?.n ?? 0));
      },
    });
  }

  return {
    registry,
    taskFinished(type, state, durationMs) {
      tasks.inc({ type, state });
      duration.observe({ type, state }, durationMs / 1000);
    },
    taskRetried(type) {
      retries.inc({ type });
    },
    messagesSynced(count, b) {
      if (count > 0) messages.inc(count);
      if (b > 0) bytes.inc(b);
    },
    imapError(code) {
      imapErrors.inc({ code });
    },
  };
}
