// The page frame every server-rendered page uses: head (CSP-safe, local assets), nav, flash, main.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { csrfToken } from '../auth/csrf.js';
import { takeFlash } from '../auth/session.js';
import { html, type SafeHtml } from './html.js';

export interface PageContext {
  user?: { id: number; username: string; isAdmin: boolean };
  csrfToken: string;
  flash?: string;
  /** Path of the current page, to mark the active nav entry. */
  path: string;
}

/** Everything a page needs from the request: user, CSRF token (sets the pre-session cookie if needed), flash. */
export async function pageContext(req: FastifyRequest, reply: FastifyReply): Promise<PageContext> {
  return { user: req.user, csrfToken: csrfToken(req, reply), flash: await takeFlash(req), path: req.url.split('?')[0] };
}

/** Hidden CSRF field for a form. */
export function csrfField(ctx: PageContext): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrfToken}" />`;
}

function navLink(ctx: PageContext, href: string, label: string): SafeHtml {
  const active = ctx.path === href || (href !== '/' && ctx.path.startsWith(href));
  return html`<a href="${href}" ${active ? html` aria-current="page"` : ''}>${label}</a>`;
}

export function renderPage(ctx: PageContext, title: string, body: SafeHtml): string {
  const nav = ctx.user
    ? html`<nav aria-label="Main">
        ${navLink(ctx, '/', 'Dashboard')} ${navLink(ctx, '/settings/accounts', 'Accounts')} ${navLink(ctx, '/tasks', 'Tasks')}
        ${ctx.user.isAdmin ? html`${navLink(ctx, '/admin/users', 'Admin')} ${navLink(ctx, '/admin/monitor', 'Monitor')}` : ''}
        <span class="spacer"></span>
        ${navLink(ctx, '/settings/password', ctx.user.username)}
        <form method="post" action="/logout" class="inline">${csrfField(ctx)}<button type="submit" class="link">Log out</button></form>
      </nav>`
    : html`<nav aria-label="Main"><a href="/login">Log in</a> <a href="/register">Register</a></nav>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="csrf-token" content="${ctx.csrfToken}" />
        <title>${title} · Mail Helper</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/static/style.css" />
        <script src="/static/app.js" defer></script>
        <script src="/static/tasks.js" defer></script>
      </head>
      <body>
        <header><a href="/" class="brand">Mail Helper</a>${nav}</header>
        <main>
          ${ctx.flash ? html`<p class="flash" role="status">${ctx.flash}</p>` : ''}
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`.value;
}

/** Sends a full page as UTF-8 HTML (Chromium shows mojibake without the charset). */
export async function sendPage(
  req: FastifyRequest,
  reply: FastifyReply,
  title: string,
  body: SafeHtml | ((ctx: PageContext) => SafeHtml),
  status = 200,
) {
  const ctx = await pageContext(req, reply);
  const content = typeof body === 'function' ? body(ctx) : body;
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(renderPage(ctx, title, content));
}
