import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.js';

export function homeRoutes(app: FastifyInstance, _deps: AppDeps): void {
  app.get('/', async (_req, reply) => {
    reply.type('text/html; charset=utf-8');
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Mail Helper</title></head>
<body><main><h1>Mail Helper</h1><p>Self-hosted IMAP synchronisation into an encrypted local store.</p><p><a href="/healthz">Health</a></p></main></body></html>`;
  });
}
