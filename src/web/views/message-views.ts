// Markup for the message list (dashboard) and the message detail page. Everything from a message is
// interpolated through `html`, so it is escaped; the HTML body is never inlined here (see messages route).
import type { MessageDetail, MessagePage } from '../../messages/message-repo.js';
import type { AccountChoice, FolderChoice, ListQuery } from '../message-query.js';
import { html, type SafeHtml } from './html.js';

export function formatDate(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '—' : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "\\Seen" → "seen"; keywords stay as they are. */
export function formatFlags(flags: string[]): string {
  return flags.map((f) => (f.startsWith('\\') ? f.slice(1).toLowerCase() : f)).join(', ');
}

export function formatSize(bytes: number | null): string {
  if (bytes === null) return '—';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function listUrl(filter: ListQuery['filter'], page: number): string {
  const p = new URLSearchParams();
  if (filter.accountId !== undefined) p.set('account', String(filter.accountId));
  if (filter.folderId !== undefined) p.set('folder', String(filter.folderId));
  if (filter.pageSize !== 50) p.set('page_size', String(filter.pageSize));
  p.set('page', String(page));
  return `/?${p.toString()}`;
}

export function filterForm(accounts: AccountChoice[], folders: FolderChoice[], accountId?: number, folderId?: number): SafeHtml {
  return html`<form method="get" action="/" class="filters" aria-label="Filter messages">
    <label
      >Account
      <select name="account">
        <option value="">All accounts</option>
        ${accounts.map((a) => html`<option value="${a.id}" ${a.id === accountId ? html`selected` : ''}>${a.name}</option>`)}
      </select></label
    >
    <label
      >Folder
      <select name="folder">
        <option value="">All folders</option>
        ${folders.map((f) => html`<option value="${f.id}" ${f.id === folderId ? html`selected` : ''}>${f.accountName}: ${f.path}</option>`)}
      </select></label
    >
    <button type="submit">Show</button>
  </form>`;
}

export function messageTable(page: MessagePage, q: ListQuery): SafeHtml {
  const pages = Math.max(1, Math.ceil(page.total / page.pageSize));
  const first = page.total === 0 ? 0 : (page.page - 1) * page.pageSize + 1;
  const last = Math.min(page.total, page.page * page.pageSize);
  const rows = page.rows.map(
    (m) =>
      html`<tr data-message-id="${m.id}" class="${m.flags.includes('\\Seen') ? '' : 'unread'}">
        <td>${formatDate(m.date)}</td>
        <td>${m.from ?? '(no sender)'}</td>
        <td>
          <a href="/messages/${m.id}">${m.subject || '(no subject)'}</a
          >${m.hasAttachments ? html` <span title="has attachments">📎</span>` : ''}
          ${m.parseError ? html` <span class="warn" title="${m.parseError}">parse problem</span>` : ''}
        </td>
        <td>${m.accountName}</td>
        <td>${m.folderPath ?? '—'}</td>
        <td>${formatFlags(m.flags)}</td>
      </tr>`,
  );
  return html`<p class="muted" data-total="${page.total}">
      ${page.total === 0 ? 'No messages.' : `Messages ${first}–${last} of ${page.total}`}
      ${page.rows.length === 0 && page.total > 0 ? ' (this page is past the last one)' : ''}
    </p>
    ${
      page.rows.length
        ? html`<table class="messages">
            <thead>
              <tr>
                <th scope="col">Date</th>
                <th scope="col">From</th>
                <th scope="col">Subject</th>
                <th scope="col">Account</th>
                <th scope="col">Folder</th>
                <th scope="col">Flags</th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>`
        : ''
    }
    ${
      pages > 1
        ? html`<nav class="pager" aria-label="Pages">
            ${page.page > 1 ? html`<a rel="prev" href="${listUrl(q.filter, page.page - 1)}">← Newer</a>` : ''}
            <span>Page ${page.page} of ${pages}</span>
            ${page.page < pages ? html`<a rel="next" href="${listUrl(q.filter, page.page + 1)}">Older →</a>` : ''}
          </nav>`
        : ''
    }`;
}

export function messageDetail(m: MessageDetail, remoteBlocked: number): SafeHtml {
  const header = (label: string, value: string | null | undefined) =>
    value
      ? html`<dt>${label}</dt>
          <dd>${value}</dd>`
      : '';
  return html`<dl class="headers">
      ${header('From', m.from)} ${header('To', m.to.join(', '))} ${header('Cc', m.cc.join(', '))} ${header('Date', formatDate(m.date))}
      ${header('Account', m.accountName)} ${header('Folder', m.folderPath)} ${header('Flags', formatFlags(m.flags) || 'none')}
      ${header('Message-ID', m.messageId)} ${header('Size', formatSize(m.size))}
    </dl>
    ${
      m.parseError
        ? html`<p class="notice" role="status" data-parse-error>
            This message could not be parsed completely (${m.parseError}). What could be read is shown; the raw source is complete.
          </p>`
        : ''
    }
    <p><a href="/messages/${m.id}/raw" download>Download raw source (.eml)</a></p>
    ${
      m.attachments.length
        ? html`<section aria-label="Attachments">
            <h2>Attachments</h2>
            <ul class="attachments">
              ${m.attachments.map(
                (a) =>
                  html`<li>
                    ${
                      a.tooLarge
                        ? html`<span>${a.filename ?? `attachment ${a.idx}`}</span> (${a.mimeType}, ${formatSize(a.size)}) —
                            <em>too large, not stored</em>`
                        : html`<a href="/messages/${m.id}/attachments/${a.idx}" download>${a.filename ?? `attachment ${a.idx}`}</a>
                            (${a.mimeType}, ${formatSize(a.size)})`
                    }
                  </li>`,
              )}
            </ul>
          </section>`
        : ''
    }
    ${
      m.html !== null
        ? html`<section aria-label="HTML body">
            <h2>HTML body</h2>
            ${
              remoteBlocked
                ? html`<p class="notice" data-remote-blocked="${remoteBlocked}">
                    Remote content blocked: ${remoteBlocked} remote image(s) or stylesheet(s) were not loaded.
                  </p>`
                : ''
            }
            <iframe
              class="mail-html"
              title="HTML body of the message"
              sandbox="allow-popups allow-popups-to-escape-sandbox"
              referrerpolicy="no-referrer"
              src="/messages/${m.id}/body"
            ></iframe>
          </section>`
        : ''
    }
    ${
      m.text !== null
        ? html`<section aria-label="Text body">
            <h2>Text body</h2>
            <pre class="mail-text">${m.text}</pre>
          </section>`
        : ''
    }
    ${m.text === null && m.html === null ? html`<p class="muted">This message has no readable body.</p>` : ''}`;
}
