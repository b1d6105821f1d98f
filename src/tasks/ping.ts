// A side-effect-free task: proves that a worker takes jobs and reports back (integration-test command).
import { z } from 'zod';
import { hostname } from 'node:os';
import { defineTask } from './define-task.js';
import { TaskName } from './task-names.js';

const payload = z.object({ echo: z.string().max(200).optional(), delay_ms: z.number().int().min(0).max(60_000).optional() });

export type PingPayload = z.infer<typeof payload>;

export const pingTask = defineTask({
  name: TaskName.Ping,
  payload,
  async perform(p, ctx) {
    const started = Date.now();
    if (p.delay_ms) {
      ctx.progress({ phase: 'waiting', done: 0, total: p.delay_ms });
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, p.delay_ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(ctx.signal.reason as Error);
        });
      });
    }
    return {
      result: {
        status: 'success',
        pong: true,
        echo: p.echo ?? null,
        worker_id: ctx.workerId,
        host: hostname(),
        waited_ms: Date.now() - started,
      },
    };
  },
});
