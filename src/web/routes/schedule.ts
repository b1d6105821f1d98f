// Scheduled sync settings: per account an interval, turned on knowingly (the page explains the grant)
// and off with one click (the grant is revoked).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { disableSchedule, enableSchedule, liveScheduleGrant, MAX_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES } from '../../tasks/schedule.js';
import { NotFoundError } from '../../tasks/sync-service.js';
import type { TaskSystem } from '../../tasks/task-system.js';
import type { AppDeps } from '../app.js';
import { requireUser, setFlash } from '../auth/session.js';
import { html } from '../views/html.js';
import { csrfField, sendPage } from '../views/layout.js';

const accountParam = z.object({ id: z.coerce.number().int().positive() });
const scheduleBody = z.object({
  interval_minutes: z.string().trim().optional(),
  confirm: z.string().optional(),
  _csrf: z.string().optional(),
});

export function scheduleRoutes(app: FastifyInstance, deps: AppDeps & { tasks: TaskSystem }): void {
  const guard = { preHandler: requireUser };
  const { tasks } = deps;

  app.get('/settings/schedules', guard, async (req, reply) => {
    const accounts = await deps.store.db
      .selectFrom('mail_accounts')
      .selectAll()
      .where('user_id', '=', req.user!.id)
      .orderBy('name')
      .execute();
    const grants = new Map<number, number>();
    for (const a of accounts) {
      const g = await liveScheduleGrant(tasks.deps, Number(a.id));
      if (g) grants.set(Number(a.id), g.expires_at);
    }
    return sendPage(req, reply, 'Scheduled sync', (ctx) => {
      const rows = accounts.map((a) => {
        const on = a.sync_interval_minutes !== null && grants.has(Number(a.id));
        return html`<tr>
          <th scope="row">${a.name}</th>
          <td>
            ${on ? html`every ${a.sync_interval_minutes} min (grant valid until ${new Date(grants.get(Number(a.id))!).toISOString().slice(0, 10)})` : 'off'}
          </td>
          <td>
            <form method="post" action="/mail-account/${a.id}/schedule" class="inline">
              ${csrfField(ctx)}
              <label
                >Every
                <input
                  name="interval_minutes"
                  type="number"
                  min="${MIN_INTERVAL_MINUTES}"
                  max="${MAX_INTERVAL_MINUTES}"
                  value="${a.sync_interval_minutes ?? 60}"
                  required
                />
                minutes</label
              >
              <label><input type="checkbox" name="confirm" value="yes" required /> I allow background syncs while I am logged out</label>
              <button type="submit">${on ? 'Change' : 'Turn on'}</button>
            </form>
            ${
              on
                ? html`<form method="post" action="/mail-account/${a.id}/schedule" class="inline">
                    ${csrfField(ctx)}<input type="hidden" name="interval_minutes" value="off" /><button type="submit" class="secondary">
                      Turn off
                    </button>
                  </form>`
                : ''
            }
          </td>
        </tr>`;
      });
      return html`<p>
          A schedule syncs an account every few minutes, also while you are logged out. To do that without your password, Mail Helper keeps
          a <strong>schedule grant</strong>: your account key, encrypted under the server's secret. Whoever holds both the database and that
          secret could read your synced mail while a schedule is on. Turning a schedule off revokes its grant at once; it is off by default.
        </p>
        ${
          accounts.length
            ? html`<div class="table-wrap">
                <table>
                  <tbody>
                    ${rows}
                  </tbody>
                </table>
              </div>`
            : html`<p>No mail accounts yet. <a href="/settings/accounts/new">Add one</a>.</p>`
        }`;
    });
  });

  app.post('/mail-account/:id/schedule', guard, async (req, reply) => {
    const p = accountParam.safeParse(req.params);
    const b = scheduleBody.safeParse(req.body ?? {});
    const fail = async (message: string) => {
      await setFlash(req, message);
      return reply.redirect('/settings/schedules', 303);
    };
    if (!p.success || !b.success) return fail('The schedule form was incomplete; try again.');
    const raw = b.data.interval_minutes ?? '';
    try {
      if (raw === 'off' || raw === '' || raw === '0') {
        await disableSchedule(tasks.deps, { userId: req.user!.id, accountId: p.data.id });
        return fail('Scheduled sync turned off; its grant was revoked.');
      }
      const minutes = Number(raw);
      if (!Number.isInteger(minutes) || minutes < MIN_INTERVAL_MINUTES || minutes > MAX_INTERVAL_MINUTES)
        return fail(`The interval must be a whole number of minutes from ${MIN_INTERVAL_MINUTES} to ${MAX_INTERVAL_MINUTES}.`);
      if (b.data.confirm !== 'yes')
        return fail('Tick the box that allows background syncs while you are logged out to turn a schedule on.');
      const dek = req.dek();
      try {
        await enableSchedule(tasks.deps, { userId: req.user!.id, accountId: p.data.id, intervalMinutes: minutes, dek });
      } finally {
        dek.fill(0);
      }
      return fail(`Scheduled sync on: every ${minutes} minutes.`);
    } catch (err) {
      if (err instanceof NotFoundError) return reply.callNotFound();
      throw err;
    }
  });
}
