// Admin monitor, live: polls /admin/api/monitor every 2 s (with the page's filters) and redraws the
// live tables from the rows the server rendered. Without this script the page is a snapshot at load.
(() => {
  const tables = document.querySelectorAll('table[data-live]');
  if (tables.length === 0) return;
  const status = document.querySelector('[data-live-status]');
  const url = `/admin/api/monitor${window.location.search}`;

  const cell = (c) => {
    const td = document.createElement('td');
    if (c.cls) td.className = c.cls;
    if (c.href) {
      const a = document.createElement('a');
      a.href = c.href;
      a.textContent = c.text;
      td.append(a);
    } else td.textContent = c.text;
    return td;
  };

  const redraw = (table, rows) => {
    const body = document.createElement('tbody');
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      const td = cell({ text: table.dataset.empty ?? '', cls: 'muted' });
      td.colSpan = Number(table.dataset.cols ?? 1);
      tr.append(td);
      body.append(tr);
    }
    for (const r of rows) {
      const tr = document.createElement('tr');
      tr.append(...r.map(cell));
      body.append(tr);
    }
    table.tBodies[0].replaceWith(body);
  };

  const poll = async () => {
    try {
      const res = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) throw new Error(`the server answered ${res.status}`);
      const data = await res.json();
      for (const t of tables) if (data.tables[t.dataset.live]) redraw(t, data.tables[t.dataset.live]);
      if (status) status.textContent = `Updated ${new Date(data.generated_at).toLocaleTimeString()}.`;
    } catch (err) {
      if (status) status.textContent = `Live update paused: ${err.message}.`;
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
})();
