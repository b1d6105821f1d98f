// Admin monitor (the seed's Flower): live tasks, filtered history, task detail with attempts and stack
// traces, workers and queue depth. Admins only: everyone else, logged in or not, gets 404.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  activeTasks,
  queueDepth,
  taskDetail,
  taskHistory,
  TASK_STATES,
  workerList,
  type HistoryFilter,
} from '../../monitor/monitor-queries.js';
import type { AppDeps } from '../app.js';
import { wantsJson } from '../auth/request-kind.js';
import { html } from '../views/html.js';
import { sendPage } from '../views/layout.js';
import { activeRows, depthRows, historyRows, monitorPage, taskDetailPage, workerRows, type HistoryView } from '../views/monitor-view.js';
import { taskIdParam } from '../forms.js';

/** preHandler: an admin area is not advertised, so anonymous visitors get 404 too (not a login redirect). */
export async function adminOnly(req: FastifyRequest, reply: FastifyReply) {
  if (!req.user?.isAdmin) return reply.callNotFound();
}

// Accepts 2026-11-29, 2026-11-29T05:30 (datetime-local, read as UTC) or a full ISO time.
const time = z
  .string()
  .trim()
  .regex(
    /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/,
    'must be a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM)',
  )
  .transform((v, ctx) => {
    const ms = Date.parse(/T.*(Z|[+-]\d{2}:\d{2})$/.test(v) || !v.includes('T') ? v : `${v}Z`);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'is not a valid date' });
      return z.NEVER;
    }
    return ms;
  });

const historyQuery = z.object({
  type: z
    .string()
    .trim()
    .regex(/^[a-z0-9_]{1,50}$/, 'must be a task type such as ping or sync_user_emails')
    .optional(),
  state: z.enum(TASK_STATES as [string, ...string[]], { message: `must be one of ${TASK_STATES.join(', ')}` }).optional(),
  user: z.string().trim().max(100, 'must be at most 100 characters').optional(),
  account_id: z.coerce.number({ message: 'must be a number' }).int('must be a whole number').positive('must be positive').optional(),
  from: time.optional(),
  to: time.optional(),
  page: z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(1, 'must be 1 or more').default(1),
  per_page: z.coerce
    .number({ message: 'must be a number' })
    .int('must be a whole number')
    .min(1)
    .max(200, 'must be at most 200')
    .default(25),
});

const idParam = taskIdParam;

type Parsed =
  | { ok: true; filter: HistoryFilter; page: number; perPage: number; query: Record<string, string> }
  | { ok: false; param: string; message: string };

/** Empty form fields mean "any"; a parameter given twice or not matching its rule is named in the 400. */
function parseHistoryQuery(input: unknown): Parsed {
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries((input ?? {}) as Record<string, unknown>)) {
    if (!(k in historyQuery.shape)) continue;
    if (typeof v !== 'string') return { ok: false, param: k, message: 'must be given once' };
    if (v.trim() !== '') query[k] = v;
  }
  const r = historyQuery.safeParse(query);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { ok: false, param: String(issue?.path[0] ?? 'query'), message: issue?.message ?? 'is invalid' };
  }
  const d = r.data;
  if (d.from !== undefined && d.to !== undefined && d.from >= d.to) return { ok: false, param: 'to', message: 'must be later than from' };
  delete query.page;
  return {
    ok: true,
    page: d.page,
    perPage: d.per_page,
    query,
    filter: {
      type: d.type,
      state: d.state as HistoryFilter['state'],
      user: d.user,
      accountId: d.account_id,
      from: d.from,
      to: d.to,
      limit: d.per_page,
      offset: (d.page - 1) * d.per_page,
    },
  };
}

export function monitorRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { store } = deps;
  const guard = { preHandler: adminOnly };
  const queueKind = deps.config.queue.kind;

  function badQuery(req: FastifyRequest, reply: FastifyReply, param: string, message: string) {
    const text = `Invalid query parameter ${param}: ${message}.`;
    if (wantsJson(req) || req.url.startsWith('/admin/api/')) return reply.code(400).send({ error: 'bad_request', param, message: text });
    return sendPage(
      req,
      reply,
      'Bad filter',
      html`<p class="error">${text}</p>
        <p><a href="/admin/monitor">Back to the monitor</a></p>`,
      400,
    );
  }

  async function snapshot(p: Extract<Parsed, { ok: true }>) {
    const now = Date.now();
    const [active, workers, depth, history, types] = await Promise.all([
      activeTasks(store),
      workerList(store, now),
      queueDepth(store),
      taskHistory(store, p.filter),
      store.db.selectFrom('tasks').select('type').distinct().orderBy('type').execute(),
    ]);
    const view: HistoryView = {
      rows: historyRows(history.tasks),
      total: history.total,
      page: p.page,
      perPage: p.perPage,
      query: p.query,
      filter: p.filter,
      types: types.map((t) => t.type),
    };
    return { now, active, workers, depth, history, view };
  }

  app.get('/admin/monitor', guard, async (req, reply) => {
    const p = parseHistoryQuery(req.query);
    if (!p.ok) return badQuery(req, reply, p.param, p.message);
    const s = await snapshot(p);
    return sendPage(req, reply, 'Monitor', () =>
      monitorPage({
        queueKind,
        active: activeRows(s.active, s.now),
        workers: workerRows(s.workers, s.now),
        depth: depthRows(s.depth, s.now),
        history: s.view,
      }),
    );
  });

  // What the page's script polls: the raw data plus the rendered rows of each live table.
  app.get('/admin/api/monitor', guard, async (req, reply) => {
    const p = parseHistoryQuery(req.query);
    if (!p.ok) return badQuery(req, reply, p.param, p.message);
    const s = await snapshot(p);
    reply.header('cache-control', 'no-store');
    const brief = (t: (typeof s.active)[number]) => ({
      id: t.id,
      type: t.type,
      state: t.state,
      user: t.username,
      user_id: t.user_id,
      account_id: t.account_id,
      parent_id: t.parent_id,
      progress: t.progress ? (JSON.parse(t.progress) as unknown) : null,
      error: t.error,
      attempt: t.attempt,
      max_attempts: t.max_attempts,
      worker_id: t.worker_id,
      created_at: t.created_at,
      started_at: t.started_at,
      finished_at: t.finished_at,
    });
    return {
      generated_at: s.now,
      queue: queueKind,
      active: s.active.map(brief),
      history: { tasks: s.history.tasks.map(brief), total: s.history.total, page: p.page, per_page: p.perPage },
      workers: s.workers.map((w) => ({
        id: w.id,
        host: w.host,
        pid: w.pid,
        queue: w.queue,
        concurrency: w.concurrency,
        current_jobs: JSON.parse(w.current_jobs) as string[],
        last_heartbeat_at: w.last_heartbeat_at,
        version: w.version,
        task_types: JSON.parse(w.task_types) as string[],
        alive: w.alive,
      })),
      depth: {
        by_state: s.depth.byState,
        oldest_waiting_at: s.depth.oldestWaitingAt,
        oldest_waiting_age_ms: s.depth.oldestWaitingAt === null ? null : s.now - s.depth.oldestWaitingAt,
      },
      tables: {
        active: activeRows(s.active, s.now),
        workers: workerRows(s.workers, s.now),
        depth: depthRows(s.depth, s.now),
        history: s.view.rows,
      },
    };
  });

  const showTask = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = idParam.safeParse(req.params);
    const d = p.success ? await taskDetail(store, p.data.id) : undefined;
    if (!d) return reply.callNotFound();
    if (wantsJson(req) || req.url.startsWith('/admin/api/')) {
      const { username, ...task } = d.task;
      return { task: { ...task, username }, attempts: d.attempts, children: d.children };
    }
    return sendPage(req, reply, `Task ${d.task.type}`, () => taskDetailPage(d));
  };
  app.get('/admin/tasks/:id', guard, showTask);
  app.get('/admin/api/tasks/:id', guard, showTask);

  if (queueKind !== 'bullmq') {
    // Bull Board shows Redis; the local queue lives in the store, which the monitor already shows.
    const note = async (req: FastifyRequest, reply: FastifyReply) =>
      sendPage(
        req,
        reply,
        'No Bull Board in local mode',
        html`<p>
          Bull Board shows BullMQ's queues in Redis. This installation runs with <code>QUEUE=local</code>: its queue is the tasks table,
          shown on the <a href="/admin/monitor">Monitor</a>.
        </p>`,
        404,
      );
    app.get('/admin/queues', guard, note);
    app.get('/admin/queues/*', guard, note);
  }
}
