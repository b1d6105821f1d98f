import type { Command } from 'commander';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('Run background jobs from Redis (QUEUE=bullmq); start as many as you like, on any machine')
    .option('--concurrency <n>', 'jobs this worker runs at once (overrides WORKER_CONCURRENCY)')
    .option('--metrics-port <port>', "serve this worker's Prometheus /metrics on this port (bearer METRICS_TOKEN)")
    .option('--metrics-host <host>', 'address for --metrics-port', '127.0.0.1')
    .action(async (opts: { concurrency?: string; metricsPort?: string; metricsHost: string }) =>
      (await import('./worker-run.js')).workerCommand(opts),
    );
}
