// A worker's own /metrics endpoint (`mail-helper worker --metrics-port`): Prometheus scrapes every worker.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { bearerMatches } from './metrics-auth.js';

export function startMetricsServer(registry: Registry, opts: { port: number; host: string; token: string }): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    if (opts.token && !bearerMatches(req.headers.authorization, opts.token)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer' }).end('a bearer token is required (METRICS_TOKEN)\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      () => res.writeHead(500).end('metrics collection failed\n'),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}
