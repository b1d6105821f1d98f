// Bull Board (BullMQ mode only) under /admin/queues: Redis's view of the job queue, next to our monitor.
// Admins only on every route it adds (page, static assets, API): a 404 for everyone else, answered in
// onRequest before Bull Board sees the request. Read-only: the store's tasks table is the record of a
// task, so retrying or removing jobs behind its back would only make the two disagree.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { QUEUE_NAME } from '../../queue/bullmq/queue-name.js';
import type { AppDeps } from '../app.js';
import { adminOnly } from './monitor.js';

export const BULL_BOARD_PATH = '/admin/queues';

/**
 * Our CSP with one relaxation, for this prefix only: Bull Board's page carries inline style attributes
 * and a <style> block (its loading screen) and its React UI sets inline styles, so style-src needs
 * 'unsafe-inline'. Scripts stay 'self' only (its config is a JSON data block, which CSP does not run).
 */
const BULL_BOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export async function bullBoardRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { redisUrl, prefix } = deps.config.queue;
  // Its own connection: a read-only view that must not hold up the producer's.
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: (n) => Math.min(200 * n, 2000) });
  connection.on('error', () => {});
  const queue = new Queue(QUEUE_NAME, { connection, prefix });
  queue.on('error', () => {});

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(queue, { readOnlyMode: true })],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Mail Helper queues' } },
  });

  await app.register(
    async (scope) => {
      scope.addHook('onRequest', adminOnly);
      scope.addHook('onSend', async (_req, reply, payload) => {
        reply.header('content-security-policy', BULL_BOARD_CSP);
        // Its page links Google Fonts: a self-hosted admin page should not tell Google who opens it (the UI
        // falls back to local fonts).
        if (typeof payload === 'string' && String(reply.getHeader('content-type') ?? '').includes('text/html'))
          return payload.replace(/<link[^>]+fonts\.googleapis\.com[^>]*>/g, '');
        return payload;
      });
      await scope.register(serverAdapter.registerPlugin());
    },
    { prefix: BULL_BOARD_PATH },
  );
  app.addHook('onClose', async () => {
    // With Redis down, close() could wait for a connection that never comes: give it a moment, then drop it.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([queue.close().catch(() => {}), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    connection.disconnect();
  });
}
