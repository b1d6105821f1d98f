import type { FastifyRequest } from 'fastify';

/** API and script requests get JSON answers (401/403/404 as JSON); browsers navigating get pages and redirects. */
export function wantsJson(req: FastifyRequest): boolean {
  if (req.url.startsWith('/api/')) return true;
  const ct = req.headers['content-type'] ?? '';
  if (ct.includes('application/json')) return true;
  const accept = req.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}
