// Admin monitor markup. Tables are described as rows of cells, so the server renders them at load and
// /static/monitor.js redraws the same rows from /admin/api/monitor: one format for both.
import type { HistoryFilter, MonitorTask, QueueDepth, WorkerStatus } from '../../monitor/monitor-queries.js';
import { TASK_STATES } from '../../monitor/monitor-queries.js';
import type { Task } from '../../store/schema.js';
import { html, type SafeHtml } from './html.js';

export interface Cell {
  text: string;
  href?: string;
  /** A class for the cell (state badges, stale workers). */
  cls?: string;
}
export type Row = Cell[];

export function isoTime(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '';
}

export function age(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

function duration(from: number | null, to: number | null): string {
  if (!from || !to) return '';
  const ms = to - from;
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Progress as one line, like the user's Tasks page shows it. */
export function describeProgress(t: Pick<Task, 'state' | 'progress' | 'error' | 'attempt' | 'max_attempts' | 'next_attempt_at'>): string {
  const p = t.progress ? (JSON.parse(t.progress) as Record<string, unknown>) : {};
  const parts: string[] = [];
  if (typeof p.phase === 'string') parts.push(p.phase);
  if (typeof p.folder === 'string') parts.push(`folder ${String(p.folderIndex ?? '?')} of ${String(p.folderCount ?? '?')} (${p.folder})`);
  if (p.total !== undefined) parts.push(`${String(p.done ?? 0)} of ${String(p.total)}`);
  if (t.state === 'RETRY') parts.push(`retry ${t.attempt} of ${t.max_attempts - 1} at ${isoTime(t.next_attempt_at)}: ${t.error ?? ''}`);
  return parts.join(' · ') || (t.state === 'STARTED' ? 'running' : '');
}

const stateCell = (state: string): Cell => ({ text: state, cls: `state state-${state.toLowerCase()}` });
const taskLink = (t: { id: string }): Cell => ({ text: t.id.slice(0, 8), href: `/admin/tasks/${t.id}` });
const who = (t: MonitorTask): Cell => ({ text: t.username ?? (t.user_id === null ? '—' : `#${t.user_id}`) });

export function activeRows(tasks: MonitorTask[], now = Date.now()): Row[] {
  return tasks.map((t) => [
    taskLink(t),
    { text: t.type },
    stateCell(t.state),
    who(t),
    { text: t.account_id === null ? '' : String(t.account_id) },
    { text: describeProgress(t) },
    { text: `${t.attempt} of ${t.max_attempts}` },
    { text: t.worker_id ?? '' },
    { text: t.started_at ? age(t.started_at, now) : '' },
  ]);
}

export function historyRows(tasks: MonitorTask[]): Row[] {
  return tasks.map((t) => [
    taskLink(t),
    { text: t.type },
    stateCell(t.state),
    who(t),
    { text: t.account_id === null ? '' : String(t.account_id) },
    { text: isoTime(t.created_at) },
    { text: duration(t.started_at, t.finished_at) },
    { text: String(t.attempt) },
    { text: t.error ?? '' },
  ]);
}

export function workerRows(workers: WorkerStatus[], now = Date.now()): Row[] {
  return workers.map((w) => [
    { text: w.id },
    { text: w.alive ? 'alive' : 'stale', cls: w.alive ? 'state state-success' : 'state state-failure' },
    { text: w.host },
    { text: String(w.pid) },
    { text: w.queue },
    { text: String(w.concurrency) },
    { text: (JSON.parse(w.current_jobs) as string[]).map((id) => id.slice(0, 8)).join(', ') },
    { text: `${age(w.last_heartbeat_at, now)} ago` },
    { text: w.version },
    { text: (JSON.parse(w.task_types) as string[]).join(', ') },
  ]);
}

export function depthRows(depth: QueueDepth, now = Date.now()): Row[] {
  return [
    [
      ...TASK_STATES.map((s) => ({ text: String(depth.byState[s]) })),
      { text: depth.oldestWaitingAt === null ? 'nothing waits' : age(depth.oldestWaitingAt, now) },
    ],
  ];
}

export const ACTIVE_HEAD = ['Task', 'Type', 'State', 'User', 'Account', 'Progress', 'Attempt', 'Worker', 'Running for'];
export const HISTORY_HEAD = ['Task', 'Type', 'State', 'User', 'Account', 'Created (UTC)', 'Duration', 'Attempts', 'Error'];
export const WORKER_HEAD = [
  'Worker',
  'Status',
  'Host',
  'PID',
  'Queue',
  'Concurrency',
  'Current jobs',
  'Last heartbeat',
  'Version',
  'Task types',
];
export const DEPTH_HEAD = [...TASK_STATES, 'Oldest waiting'];

function cell(c: Cell): SafeHtml {
  const inner = c.href ? html`<a href="${c.href}">${c.text}</a>` : c.text;
  return html`<td${c.cls ? html` class="${c.cls}"` : ''}>${inner}</td>`;
}

/** A table whose body monitor.js replaces (data-live names the key in the JSON's `tables`). */
export function liveTable(live: string, head: string[], rows: Row[], empty: string): SafeHtml {
  return html`<div class="table-wrap">
    <table class="monitor" data-live="${live}" data-empty="${empty}" data-cols="${head.length}">
      <thead>
        <tr>
          ${head.map((h) => html`<th scope="col">${h}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${
          rows.length === 0
            ? html`<tr>
                <td colspan="${head.length}" class="muted">${empty}</td>
              </tr>`
            : rows.map(
                (r) =>
                  html`<tr>
                    ${r.map(cell)}
                  </tr>`,
              )
        }
      </tbody>
    </table>
  </div>`;
}

export interface HistoryView {
  rows: Row[];
  total: number;
  page: number;
  perPage: number;
  /** The query as given (strings), to keep the form filled and build page links. */
  query: Record<string, string>;
  filter: HistoryFilter;
  types: string[];
}

function pageLink(query: Record<string, string>, page: number): string {
  return `/admin/monitor?${new URLSearchParams({ ...query, page: String(page) }).toString()}`;
}

export function monitorPage(o: { queueKind: string; active: Row[]; workers: Row[]; depth: Row[]; history: HistoryView }): SafeHtml {
  const h = o.history;
  const q = h.query;
  const pages = Math.max(1, Math.ceil(h.total / h.perPage));
  return html`<p class="muted">
      Queue mode <strong>${o.queueKind}</strong>. Live tables refresh every 2
      s${o.queueKind === 'bullmq' ? html` · <a href="/admin/queues">Bull Board</a> (Redis view)` : ''}.
      <span data-live-status></span>
    </p>
    <h2>Queue depth</h2>
    ${liveTable('depth', DEPTH_HEAD, o.depth, '')}
    <h2>Active tasks</h2>
    ${liveTable('active', ACTIVE_HEAD, o.active, 'No task is running or waiting for a retry.')}
    <h2>Workers</h2>
    ${liveTable('workers', WORKER_HEAD, o.workers, 'No worker has sent a heartbeat.')}
    <h2>History</h2>
    <form method="get" action="/admin/monitor" class="filters">
      <label
        >Type
        <select name="type">
          <option value="">any</option>
          ${h.types.map((t) => html`<option value="${t}" ${q.type === t ? html`selected` : ''}>${t}</option>`)}
        </select></label
      >
      <label
        >State
        <select name="state">
          <option value="">any</option>
          ${TASK_STATES.map((s) => html`<option value="${s}" ${q.state === s ? html`selected` : ''}>${s}</option>`)}
        </select></label
      >
      <label>User <input name="user" value="${q.user ?? ''}" size="10" /></label>
      <label>Account <input name="account_id" value="${q.account_id ?? ''}" size="5" inputmode="numeric" /></label>
      <label>From <input name="from" type="datetime-local" value="${q.from ?? ''}" /></label>
      <label>To <input name="to" type="datetime-local" value="${q.to ?? ''}" /></label>
      <button type="submit">Filter</button> <a href="/admin/monitor">Clear</a>
    </form>
    <div data-history>${liveTable('history', HISTORY_HEAD, h.rows, 'No task matches.')}</div>
    <p class="pager">
      ${h.total} task(s) · page ${h.page} of ${pages}
      ${h.page > 1 ? html` · <a href="${pageLink(q, h.page - 1)}" rel="prev">newer</a>` : ''}
      ${h.page < pages ? html` · <a href="${pageLink(q, h.page + 1)}" rel="next">older</a>` : ''}
    </p>
    <script src="/static/monitor.js" defer></script>`;
}

type Detail = NonNullable<Awaited<ReturnType<typeof import('../../monitor/monitor-queries.js').taskDetail>>>;

function pretty(json: string | null): string {
  if (!json) return '';
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

export function taskDetailPage(d: Detail): SafeHtml {
  const t = d.task;
  return html`<p><a href="/admin/monitor">← Monitor</a></p>
    <dl class="task">
      <dt>Id</dt>
      <dd><code>${t.id}</code></dd>
      <dt>Type</dt>
      <dd>${t.type}</dd>
      <dt>State</dt>
      <dd><span class="state state-${t.state.toLowerCase()}">${t.state}</span></dd>
      <dt>Queue</dt>
      <dd>${t.queue}</dd>
      <dt>User</dt>
      <dd>${t.username ?? (t.user_id === null ? '—' : `#${t.user_id}`)}</dd>
      <dt>Account</dt>
      <dd>${t.account_id ?? '—'}</dd>
      <dt>Parent</dt>
      <dd>${t.parent_id ? html`<a href="/admin/tasks/${t.parent_id}">${t.parent_id}</a>` : '—'}</dd>
      <dt>Progress</dt>
      <dd>${describeProgress(t) || '—'}</dd>
      <dt>Attempt</dt>
      <dd>${t.attempt} of ${t.max_attempts}</dd>
      <dt>Created</dt>
      <dd>${isoTime(t.created_at)}</dd>
      <dt>Started</dt>
      <dd>${isoTime(t.started_at) || '—'}</dd>
      <dt>Finished</dt>
      <dd>${isoTime(t.finished_at) || '—'} ${duration(t.started_at, t.finished_at)}</dd>
      <dt>Error</dt>
      <dd>${t.error ? `${t.error}${t.error_kind ? ` (${t.error_kind})` : ''}` : '—'}</dd>
    </dl>
    ${
      t.error_stack
        ? html`<h2>Stack trace</h2>
            <pre class="stack">${t.error_stack}</pre>`
        : ''
    }
    <h2>Attempts</h2>
    <div class="table-wrap">
      <table class="monitor">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Worker</th>
            <th scope="col">Started</th>
            <th scope="col">Finished</th>
            <th scope="col">Duration</th>
            <th scope="col">Outcome</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          ${
            d.attempts.length === 0
              ? html`<tr>
                  <td colspan="7" class="muted">Not started yet.</td>
                </tr>`
              : ''
          }
          ${d.attempts.map(
            (a) =>
              html`<tr>
                <td>${a.attempt}</td>
                <td>${a.worker_id ?? ''}</td>
                <td>${isoTime(a.started_at)}</td>
                <td>${isoTime(a.finished_at)}</td>
                <td>${duration(a.started_at, a.finished_at)}</td>
                <td>${a.outcome ?? 'running'}</td>
                <td>
                  ${a.error ?? ''}${
                    a.error_stack
                      ? html`<details>
                          <summary>Stack trace</summary>
                          <pre class="stack">${a.error_stack}</pre>
                        </details>`
                      : ''
                  }
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
    <h2>Children</h2>
    ${
      d.children.length === 0
        ? html`<p class="muted">None.</p>`
        : html`<ul>
            ${d.children.map((c) => html`<li><a href="/admin/tasks/${c.id}">${c.id}</a> ${c.type} · ${c.state}${c.account_id ? ` · account ${c.account_id}` : ''}</li>`)}
          </ul>`
    }
    <h2>Payload</h2>
    <pre>${pretty(t.payload)}</pre>
    <h2>Result</h2>
    <pre>${pretty(t.result) || '—'}</pre>`;
}
