import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.js';
import { requireUser } from '../auth/session.js';
import { html } from '../views/html.js';
import { sendPage } from '../views/layout.js';
import { listAccounts } from '../../accounts/account-repo.js';

/** The dashboard: a placeholder overview until mail views exist. */
export function homeRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/', { preHandler: requireUser }, async (req, reply) => {
    const accounts = await listAccounts(deps.store.db, req.user!.id);
    const needs = accounts.filter((a) => a.needs_password === 1).length;
    return sendPage(
      req,
      reply,
      'Dashboard',
      html`<p>Signed in as <strong>${req.user!.username}</strong>${req.user!.isAdmin ? ' (administrator)' : ''}.</p>
        <p>
          You have ${accounts.length} mail account${accounts.length === 1 ? '' : 's'}. <a href="/settings/accounts">Manage mail accounts</a>
        </p>
        ${needs ? html`<p class="notice">${needs} account(s) need their password re-entered.</p>` : ''}`,
    );
  });
}
