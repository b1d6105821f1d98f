// Live task progress, as progressive enhancement: Sync buttons post with fetch and show progress from
// the task's Server-Sent Events without a reload; without this script the forms post and redirect.
(() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

  const describe = (t) => {
    const p = t.progress || {};
    const parts = [t.state];
    if (p.phase) parts.push(p.phase);
    if (p.folder) parts.push(`folder ${p.folderIndex ?? '?'} of ${p.folderCount ?? '?'} (${p.folder})`);
    if (p.total !== undefined) parts.push(`${p.done ?? 0} of ${p.total}`);
    if (t.state === 'RETRY') parts.push(`retry ${t.attempt} of ${t.max_attempts - 1} at ${t.next_attempt_at}: ${t.error}`);
    if (t.state === 'SUCCESS' && t.result) {
      parts.push(t.result.status);
      if (t.result.email_count !== undefined) parts.push(`${t.result.email_count} new message(s)`);
      if (t.result.failed) parts.push(`${t.result.failed} account(s) failed`);
    }
    if ((t.state === 'FAILURE' || t.state === 'REVOKED') && t.error) parts.push(t.error);
    return parts.join(' · ');
  };

  const follow = (taskId, show, onEnd) => {
    const source = new EventSource(`/tasks/${encodeURIComponent(taskId)}/events`);
    source.addEventListener('progress', (e) => show(JSON.parse(e.data)));
    source.addEventListener('end', (e) => {
      source.close();
      const t = JSON.parse(e.data);
      show(t);
      onEnd?.(t);
    });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED)
        show({ state: 'UNKNOWN', progress: {}, error: 'Lost the connection; reload the page.' });
    };
  };

  document.addEventListener('submit', async (event) => {
    const form = event.target;
    if (form.tagName !== 'FORM' || !(form.hasAttribute('data-sync-account') || form.hasAttribute('data-sync-all'))) return;
    event.preventDefault();
    let out = form.querySelector('output.task-status');
    if (!out) {
      out = document.createElement('output');
      out.className = 'task-status';
      out.setAttribute('aria-live', 'polite');
      form.append(out);
    }
    const button = form.querySelector('button');
    if (button) button.disabled = true;
    out.textContent = 'Queuing…';
    try {
      const res = await fetch(form.action, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': csrf() },
        body: new URLSearchParams(new FormData(form)).toString(),
        credentials: 'same-origin',
      });
      const body = await res.json().catch(() => ({}));
      if (res.status !== 202) {
        out.textContent = body.message || `The server answered ${res.status}.`;
        if (button) button.disabled = false;
        return;
      }
      out.dataset.taskId = body.task_id;
      const link = document.createElement('a');
      link.href = `/tasks/${body.task_id}`;
      link.textContent = body.deduplicated ? 'already running' : 'task';
      out.textContent = '';
      const text = document.createElement('span');
      out.append(text, ' (', link, ')');
      follow(
        body.task_id,
        (t) => (text.textContent = describe(t)),
        () => button && (button.disabled = false),
      );
    } catch (err) {
      out.textContent = `Could not start the sync: ${err}`;
      if (button) button.disabled = false;
    }
  });

  // The task page follows its own task live.
  const dl = document.querySelector('dl.task[data-task-live="true"]');
  if (dl) {
    follow(dl.getAttribute('data-task-id'), (t) => {
      const set = (field, value) => {
        const el = dl.querySelector(`[data-field="${field}"]`);
        if (el) el.textContent = value;
      };
      set('state', t.state);
      set('progress', describe(t));
      set('attempt', `${t.attempt} of ${t.max_attempts}`);
      set('result', t.state === 'SUCCESS' ? JSON.stringify(t.result) : (t.error ?? ''));
    });
  }
})();
