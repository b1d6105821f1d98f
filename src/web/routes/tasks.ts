// Task routes (the seed's, kept): start syncs, read a task, follow it live (SSE), history, cancel, retry.
// Everything is scoped to the logged-in user: another user's task answers 404.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { liveWorkers } from '../../queue/heartbeat.js';
import { TaskNotRetryableError } from '../../queue/task-queue.js';
import { watchTask } from '../../queue/task-watch.js';
import { QueueUnavailableError, type EnqueueResult } from '../../queue/types.js';
import type { Task } from '../../store/schema.js';
import { enqueueAccountSync, enqueueAllAccountsSync, NotFoundError, retryTask, taskView } from '../../tasks/sync-service.js';
import type { TaskSystem } from '../../tasks/task-system.js';
import type { AppDeps } from '../app.js';
import { requireUser } from '../auth/session.js';
import { html } from '../views/html.js';
import { sendPage } from '../views/layout.js';
import { noWorkerWarning, taskPage, tasksPage } from '../views/tasks-view.js';
import { taskIdParam } from '../forms.js';

const idParam = taskIdParam;
const accountParam = z.object({ id: z.coerce.number().int().positive() });
const listQuery = z.object({
  state: z
    .enum(['PENDING', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED'])
    .optional()
    .or(z.literal('').transform(() => undefined)),
  type: z.string().trim().max(50).optional(),
  account_id: z.coerce.number().int().positive().optional(),
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(100).default(20),
});

/** Scripts and API clients get JSON; a browser navigating (Accept: text/html) gets pages and redirects. */
function wantsPage(req: FastifyRequest): boolean {
  return (req.headers.accept ?? '').includes('text/html') && !req.url.startsWith('/api/');
}

export function taskRoutes(app: FastifyInstance, deps: AppDeps & { tasks: TaskSystem }): void {
  const { tasks } = deps;
  const guard = { preHandler: requireUser };

  function notFound(req: FastifyRequest, reply: FastifyReply) {
    if (wantsPage(req)) return reply.callNotFound();
    return reply.code(404).send({ error: 'not_found', message: 'No such task.' });
  }

  function badRequest(req: FastifyRequest, reply: FastifyReply, message: string) {
    if (wantsPage(req)) return sendPage(req, reply, 'Bad request', html`<p>${message}</p>`, 400);
    return reply.code(400).send({ error: 'bad_request', message });
  }

  async function queued(req: FastifyRequest, reply: FastifyReply, start: () => Promise<EnqueueResult>) {
    let res: EnqueueResult;
    try {
      res = await start();
    } catch (err) {
      if (err instanceof NotFoundError) return reply.callNotFound();
      if (err instanceof QueueUnavailableError) {
        req.log.warn({ err: err.message }, 'enqueue refused: queue unavailable');
        if (wantsPage(req)) return sendPage(req, reply, 'Queue unavailable', html`<p>${err.message}</p>`, 503);
        return reply.code(503).send({ error: 'queue_unavailable', message: err.message });
      }
      throw err;
    }
    if (wantsPage(req)) return reply.redirect(`/tasks/${res.task.id}`, 303);
    return reply.code(202).send({
      status: 'queued',
      task_id: res.task.id,
      task_type: tasks.queue.kind === 'bullmq' ? 'queue' : 'local',
      deduplicated: res.deduplicated,
      state: res.task.state,
    });
  }

  async function workerWarning(userId: number) {
    const waiting = await deps.store.db
      .selectFrom('tasks')
      .select('id')
      .where('user_id', '=', userId)
      .where('state', 'in', ['PENDING', 'RETRY'])
      .limit(1)
      .execute();
    if (waiting.length === 0) return null;
    return (await liveWorkers(deps.store, tasks.queue.kind)).length === 0 ? noWorkerWarning(tasks.queue.kind) : null;
  }

  async function ownTask(req: FastifyRequest): Promise<Task | undefined> {
    const p = idParam.safeParse(req.params);
    return p.success ? tasks.queue.get(p.data.id, req.user!.id) : undefined;
  }

  app.post('/mail-account/:id/fetch', guard, async (req, reply) => {
    const p = accountParam.safeParse(req.params);
    if (!p.success) return badRequest(req, reply, 'The account id in the address must be a positive whole number.');
    return queued(req, reply, async () => {
      const dek = req.dek();
      try {
        return await enqueueAccountSync(tasks.queue, tasks.deps, { userId: req.user!.id, accountId: p.data.id, dek });
      } finally {
        dek.fill(0);
      }
    });
  });

  app.post('/mail-accounts/fetch-all', guard, async (req, reply) =>
    queued(req, reply, async () => {
      const dek = req.dek();
      try {
        return await enqueueAllAccountsSync(tasks.queue, tasks.deps, { userId: req.user!.id, dek });
      } finally {
        dek.fill(0);
      }
    }),
  );

  app.get('/tasks', guard, async (req, reply) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) return badRequest(req, reply, `Invalid filter: ${q.error.issues[0]?.path.join('.')} ${q.error.issues[0]?.message}`);
    const { tasks: rows, total } = await tasks.queue.list(req.user!.id, {
      state: q.data.state,
      type: q.data.type,
      accountId: q.data.account_id,
      limit: q.data.per_page,
      offset: (q.data.page - 1) * q.data.per_page,
    });
    const warning = await workerWarning(req.user!.id);
    return sendPage(req, reply, 'Tasks', (ctx) =>
      tasksPage(ctx, { tasks: rows, total, page: q.data.page, perPage: q.data.per_page, state: q.data.state, warning }),
    );
  });

  app.get('/api/tasks', guard, async (req, reply) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success)
      return reply.code(400).send({
        error: 'bad_request',
        message: `Invalid query parameter ${q.error.issues[0]?.path.join('.')}: ${q.error.issues[0]?.message}`,
      });
    const { tasks: rows, total } = await tasks.queue.list(req.user!.id, {
      state: q.data.state,
      type: q.data.type,
      accountId: q.data.account_id,
      limit: q.data.per_page,
      offset: (q.data.page - 1) * q.data.per_page,
    });
    const noWorker = (await workerWarning(req.user!.id)) !== null;
    return { tasks: rows.map(taskView), total, page: q.data.page, per_page: q.data.per_page, no_worker_alive: noWorker };
  });

  const showTask = async (req: FastifyRequest, reply: FastifyReply) => {
    const task = await ownTask(req);
    if (!task) return notFound(req, reply);
    if (wantsPage(req)) {
      const children = await tasks.queue.children(task.id);
      const warning = await workerWarning(req.user!.id);
      return sendPage(req, reply, `Task ${task.type}`, (ctx) => taskPage(ctx, task, children, warning));
    }
    return { ...taskView(task), children: (await tasks.queue.children(task.id)).map((c) => c.id) };
  };
  app.get('/tasks/:id', guard, showTask);
  app.get('/api/tasks/:id', guard, showTask);

  // Server-Sent Events: one `progress` event per change of state/progress, then `end` with the final task.
  app.get('/tasks/:id/events', guard, async (req, reply) => {
    const task = await ownTask(req);
    if (!task) return reply.code(404).send({ error: 'not_found', message: 'No such task.' });
    const stop = new AbortController();
    const onClose = () => stop.abort();
    // On server shutdown: end the stream now (the browser's EventSource reconnects to the next server).
    const onShutdown = () => {
      stop.abort();
      reply.raw.end();
    };
    req.raw.on('close', onClose);
    closers.add(onShutdown);
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // A stream is never reused for another request; closing the socket after it lets shutdown finish at once.
      connection: 'close',
      'x-accel-buffering': 'no',
    });
    const send = (text: string) => {
      if (!reply.raw.writableEnded) reply.raw.write(text);
    };
    send('retry: 2000\n\n');
    let seq = 0;
    try {
      let last: Task | undefined;
      for await (const t of watchTask(deps.store, task.id, { pollMs: 300, signal: stop.signal })) {
        last = t;
        send(`id: ${++seq}\nevent: progress\ndata: ${JSON.stringify(taskView(t))}\n\n`);
      }
      if (last && !stop.signal.aborted) send(`id: ${++seq}\nevent: end\ndata: ${JSON.stringify(taskView(last))}\n\n`);
    } catch (err) {
      req.log.warn({ err: String(err) }, 'task event stream failed');
    } finally {
      closers.delete(onShutdown);
      if (!reply.raw.writableEnded) reply.raw.end();
    }
  });
  // Open streams end before the server closes (preClose), so a graceful close does not wait for them.
  const closers = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const c of closers) c();
  });

  app.post('/tasks/:id/cancel', guard, async (req, reply) => {
    const task = await ownTask(req);
    if (!task) return notFound(req, reply);
    const now = await tasks.queue.cancel(task.id, req.user!.id);
    if (wantsPage(req)) return reply.redirect(`/tasks/${task.id}`, 303);
    return taskView(now ?? task);
  });

  app.post('/tasks/:id/retry', guard, async (req, reply) => {
    const task = await ownTask(req);
    if (!task) return notFound(req, reply);
    try {
      const dek = req.dek();
      let res;
      try {
        res = await retryTask(tasks.queue, tasks.deps, { userId: req.user!.id, taskId: task.id, dek });
      } finally {
        dek.fill(0);
      }
      if (!res) return notFound(req, reply);
      if (wantsPage(req)) return reply.redirect(`/tasks/${res.result.task.id}`, 303);
      return reply.code(202).send({
        status: 'queued',
        task_id: res.result.task.id,
        retry_of: task.id,
        task_type: tasks.queue.kind === 'bullmq' ? 'queue' : 'local',
        deduplicated: res.result.deduplicated,
      });
    } catch (err) {
      if (err instanceof TaskNotRetryableError) {
        if (wantsPage(req)) return sendPage(req, reply, 'Cannot retry', html`<p>${err.message}</p>`, 409);
        return reply.code(409).send({ error: 'not_retryable', message: err.message });
      }
      if (err instanceof QueueUnavailableError) {
        if (wantsPage(req)) return sendPage(req, reply, 'Queue unavailable', html`<p>${err.message}</p>`, 503);
        return reply.code(503).send({ error: 'queue_unavailable', message: err.message });
      }
      throw err;
    }
  });
}
