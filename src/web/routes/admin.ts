// Admin: manage users (not their mail): registration switch, password reset (new key), delete.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { requireAdmin, setFlash } from '../auth/session.js';
import { idParams, parseInput, text } from '../forms.js';
import { errorSummary, field } from '../views/form-fields.js';
import { html } from '../views/html.js';
import { csrfField, sendPage } from '../views/layout.js';
import { listUsers } from '../../users/user-repo.js';
import { adminResetPassword, deleteUser, registrationSetting, setRegistrationOpen, UserInputError } from '../../users/user-service.js';

const registrationSchema = z.object({ open: z.enum(['0', '1'], { message: 'must be 0 or 1' }) });
const resetSchema = z.object({
  password: text(1024).pipe(z.string().min(1, 'is required')),
  confirm: z.literal('on', { message: 'must be ticked to confirm that the old key is lost' }),
});

export function adminRoutes(app: FastifyInstance, deps: AppDeps): void {
  const db = deps.store.db;
  const guard = { preHandler: requireAdmin };

  const usersPage = async (req: FastifyRequest, reply: FastifyReply, o: { errors?: Record<string, string>; status?: number } = {}) => {
    const users = await listUsers(db);
    const open = await registrationSetting(db);
    return sendPage(
      req,
      reply,
      'Users',
      (ctx) =>
        html`${errorSummary(o.errors ?? {})}
          <div class="card">
            <h2>Registration</h2>
            <p>
              ${deps.config.auth.registrationOpen ? 'Open to anyone (REGISTRATION_OPEN=true in the configuration).' : open ? 'Open to anyone.' : 'Closed: only an admin creates accounts (CLI: mail-helper user add).'}
            </p>
            ${deps.config.auth.registrationOpen ? '' : html`<form method="post" action="/admin/registration">${csrfField(ctx)}<input type="hidden" name="open" value="${open ? '0' : '1'}" /><button type="submit">${open ? 'Close registration' : 'Open registration'}</button></form>`}
          </div>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Role</th>
                  <th scope="col">Mail accounts</th>
                  <th scope="col">Created</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                ${users.map(
                  (u) =>
                    html`<tr>
                      <th scope="row">${u.username}</th>
                      <td>${u.isAdmin ? 'admin' : 'user'}${u.lockedUntil && u.lockedUntil > Date.now() ? ' (locked)' : ''}</td>
                      <td>${u.accounts}</td>
                      <td>${new Date(u.createdAt).toISOString().slice(0, 10)}</td>
                      <td>
                        <details>
                          <summary>Reset password</summary>
                          <form method="post" action="/admin/users/${u.id}/reset-password">
                            ${csrfField(ctx)}
                            <p class="notice">
                              Without the old password the user's encryption key cannot be recovered. A reset creates a NEW key: the
                              credentials of all their mail accounts must be re-entered and their stored mail is removed (it is fetched
                              again on the next sync).
                            </p>
                            ${field({ name: 'password', label: `New password for ${u.username}`, type: 'password', autocomplete: 'new-password', required: true })}
                            <div class="field check">
                              <input type="checkbox" id="confirm-${u.id}" name="confirm" value="on" required /><label for="confirm-${u.id}"
                                >I understand the old key is lost</label
                              >
                            </div>
                            <button type="submit" class="danger">Reset password</button>
                          </form>
                        </details>
                        ${u.id !== req.user!.id ? html`<form method="post" action="/admin/users/${u.id}/delete" class="inline">${csrfField(ctx)}<button type="submit" class="danger">Delete user</button></form>` : ''}
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`,
      o.status ?? 200,
    );
  };

  app.get('/admin/users', guard, async (req, reply) => usersPage(req, reply));

  app.post('/admin/registration', guard, async (req, reply) => {
    const parsed = parseInput(registrationSchema, req.body);
    if (!parsed.ok) return usersPage(req, reply, { errors: parsed.errors, status: 400 });
    await setRegistrationOpen(db, parsed.data.open === '1');
    await setFlash(req, parsed.data.open === '1' ? 'Registration is now open.' : 'Registration is now closed.');
    return reply.redirect('/admin/users', 303);
  });

  app.post('/admin/users/:id/reset-password', guard, async (req, reply) => {
    const p = parseInput(idParams, req.params);
    if (!p.ok) return usersPage(req, reply, { errors: p.errors, status: 400 });
    const parsed = parseInput(resetSchema, req.body);
    if (!parsed.ok) return usersPage(req, reply, { errors: parsed.errors, status: 400 });
    try {
      const outcome = await adminResetPassword(db, deps.config.auth.argon2, p.data.id, parsed.data.password);
      await setFlash(req, outcome.notice);
    } catch (err) {
      if (err instanceof UserInputError) {
        if (err.fields.user) return reply.callNotFound();
        return usersPage(req, reply, { errors: err.fields, status: 400 });
      }
      throw err;
    }
    if (p.data.id === req.user!.id) return reply.redirect('/login?reason=invalid', 303);
    return reply.redirect('/admin/users', 303);
  });

  app.post('/admin/users/:id/delete', guard, async (req, reply) => {
    const p = parseInput(idParams, req.params);
    if (!p.ok) return usersPage(req, reply, { errors: p.errors, status: 400 });
    if (p.data.id === req.user!.id) return usersPage(req, reply, { errors: { user: 'you cannot delete yourself' }, status: 400 });
    if (!(await deleteUser(db, p.data.id))) return reply.callNotFound();
    await setFlash(req, 'The user and all their data were deleted.');
    return reply.redirect('/admin/users', 303);
  });
}
