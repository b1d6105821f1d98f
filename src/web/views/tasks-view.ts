// Task pages: history with filters, one task with live progress (SSE via /static/tasks.js), and the
// "tasks wait but no worker is alive" warning.
import type { Task } from '../../store/schema.js';
import { progressText } from '../../tasks/progress-text.js';
import { taskView } from '../../tasks/sync-service.js';
import { csrfField, type PageContext } from './layout.js';
import { html, type SafeHtml } from './html.js';

function resultText(task: Task): string {
  const v = taskView(task);
  const r = v.result as { status?: string; email_count?: number; failed?: number } | null;
  if (v.state === 'SUCCESS' && r)
    return `${r.status ?? 'success'}${r.email_count !== undefined ? ` · ${r.email_count} new message(s)` : ''}${r.failed ? ` · ${r.failed} account(s) failed` : ''}`;
  if (v.state === 'RETRY') return `attempt ${v.attempt} of ${v.max_attempts} failed, next try at ${v.next_attempt_at}: ${v.error ?? ''}`;
  return v.error ?? '';
}

export function noWorkerWarning(kind: 'local' | 'bullmq'): SafeHtml {
  return html`<p class="flash warning" role="alert" data-no-worker>
    Tasks are waiting but no worker is alive, so nothing will run.
    ${
      kind === 'bullmq'
        ? html`Start one with <code>QUEUE=bullmq mail-helper worker --concurrency 2</code> (same DATABASE_URL, REDIS_URL and SERVER_SECRET
            as the web server).`
        : html`The web server runs them itself; restart <code>mail-helper serve</code>.`
    }
  </p>`;
}

export function taskRow(ctx: PageContext, t: Task): SafeHtml {
  const v = taskView(t);
  return html`<tr>
    <td><a href="/tasks/${t.id}">${t.type}</a>${t.account_id !== null ? html` · account ${t.account_id}` : ''}</td>
    <td><span class="state state-${t.state.toLowerCase()}">${t.state}</span></td>
    <td>${progressText(v.progress)}</td>
    <td>${resultText(t)}</td>
    <td>${v.created_at.replace('T', ' ').slice(0, 19)}</td>
    <td class="actions">${taskActions(ctx, t)}</td>
  </tr>`;
}

function taskActions(ctx: PageContext, t: Task): SafeHtml {
  if (t.state === 'PENDING' || t.state === 'STARTED' || t.state === 'RETRY')
    return html`<form method="post" action="/tasks/${t.id}/cancel" class="inline">
      ${csrfField(ctx)}<button type="submit" class="secondary">Cancel</button>
    </form>`;
  if (t.state === 'FAILURE' || t.state === 'REVOKED')
    return html`<form method="post" action="/tasks/${t.id}/retry" class="inline">
      ${csrfField(ctx)}<button type="submit" class="secondary">Retry</button>
    </form>`;
  return html``;
}

export function tasksPage(
  ctx: PageContext,
  a: { tasks: Task[]; total: number; page: number; perPage: number; state?: string; warning: SafeHtml | null },
): SafeHtml {
  const pages = Math.max(1, Math.ceil(a.total / a.perPage));
  const link = (page: number) => `/tasks?page=${page}${a.state ? `&state=${a.state}` : ''}`;
  const states = ['', 'PENDING', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED'];
  return html`${a.warning ?? ''}
    <form method="get" action="/tasks" class="inline">
      <label
        >State
        <select name="state">
          ${states.map((s) => html`<option value="${s}" ${s === (a.state ?? '') ? html`selected` : ''}>${s || 'any'}</option>`)}
        </select></label
      >
      <button type="submit" class="secondary">Filter</button>
    </form>
    <p><a href="/settings/schedules">Scheduled sync</a> (off unless you turn it on per account)</p>
    ${
      a.tasks.length === 0
        ? html`<p>No tasks yet. Start a sync on the <a href="/settings/accounts">Accounts</a> page.</p>`
        : html`<div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">State</th>
                  <th scope="col">Progress</th>
                  <th scope="col">Result</th>
                  <th scope="col">Created (UTC)</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                ${a.tasks.map((t) => taskRow(ctx, t))}
              </tbody>
            </table>
          </div>`
    }
    <p>
      Page ${a.page} of ${pages} · ${a.total} task(s) ${a.page > 1 ? html`<a href="${link(a.page - 1)}">Newer</a>` : ''}
      ${a.page < pages ? html`<a href="${link(a.page + 1)}">Older</a>` : ''}
    </p>`;
}

export function taskPage(ctx: PageContext, t: Task, children: Task[], warning: SafeHtml | null): SafeHtml {
  const v = taskView(t);
  return html`${warning ?? ''}
    <dl class="task" data-task-id="${t.id}" data-task-live="${v.status === 'queued' || v.status === 'running' ? 'true' : 'false'}">
      <dt>Type</dt>
      <dd>${t.type}${t.account_id !== null ? html` · <a href="/settings/accounts/${t.account_id}">account ${t.account_id}</a>` : ''}</dd>
      <dt>State</dt>
      <dd data-field="state">${t.state}</dd>
      <dt>Progress</dt>
      <dd data-field="progress">${progressText(v.progress)}</dd>
      <dt>Attempt</dt>
      <dd data-field="attempt">${t.attempt} of ${t.max_attempts}</dd>
      <dt>Result</dt>
      <dd data-field="result">${resultText(t)}</dd>
      <dt>Created</dt>
      <dd>${v.created_at}</dd>
    </dl>
    <p>${taskActions(ctx, t)} <a href="/tasks">All tasks</a></p>
    ${
      children.length
        ? html`<h2>Accounts</h2>
            <div class="table-wrap">
              <table>
                <tbody>
                  ${children.map((c) => taskRow(ctx, c))}
                </tbody>
              </table>
            </div>`
        : ''
    }`;
}
