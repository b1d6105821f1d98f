import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.js';
import { wantsJson } from '../auth/request-kind.js';
import { requireUser } from '../auth/session.js';
import { sendBadRequest } from '../forms.js';
import { resolveListQuery } from '../message-query.js';
import { errorSummary } from '../views/form-fields.js';
import { html } from '../views/html.js';
import { sendPage } from '../views/layout.js';
import { filterForm, messageTable } from '../views/message-views.js';
import { listAccounts } from '../../accounts/account-repo.js';
import { listMessages } from '../../messages/message-repo.js';

/** The dashboard: the user's stored messages, newest first, filterable by account and folder (?account=&folder=&page=). */
export function homeRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/', { preHandler: requireUser }, async (req, reply) => {
    const db = deps.store.db;
    const userId = req.user!.id;
    const q = await resolveListQuery(db, userId, req.query);
    if (!q.ok) {
      if (wantsJson(req)) return sendBadRequest(reply, q.errors);
      return sendPage(req, reply, 'Dashboard', html`${errorSummary(q.errors)}${filterForm(q.accounts, q.folders)}`, 400);
    }
    const accounts = await listAccounts(db, userId);
    const needs = accounts.filter((a) => a.needs_password === 1).length;
    const dek = req.dek();
    let page;
    try {
      page = await listMessages(db, dek, userId, q.value.filter);
    } finally {
      dek.fill(0);
    }
    const { filter } = q.value;
    return sendPage(
      req,
      reply,
      'Dashboard',
      html`<p>
          Signed in as <strong>${req.user!.username}</strong>${req.user!.isAdmin ? ' (administrator)' : ''}. You have ${accounts.length}
          mail account${accounts.length === 1 ? '' : 's'}. <a href="/settings/accounts">Manage mail accounts</a>
        </p>
        ${needs ? html`<p class="notice">${needs} account(s) need their password re-entered.</p>` : ''}
        <h2>Messages</h2>
        ${filterForm(q.value.accounts, q.value.folders, filter.accountId, filter.folderId)} ${messageTable(page, q.value)}`,
    );
  });
}
