import type { Command } from 'commander';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the web server (and, with the local queue, the embedded worker)')
    .option('--host <host>', 'address to listen on (overrides HOST)')
    .option('--port <port>', 'port to listen on (overrides PORT)')
    .option('--https', 'serve HTTPS (self-signed certificate in DATA_DIR/tls unless --cert/--key are given)')
    .option('--cert <file>', 'PEM certificate for HTTPS')
    .option('--key <file>', 'PEM private key for HTTPS')
    .action(async (opts: { host?: string; port?: string; https?: boolean; cert?: string; key?: string }) =>
      (await import('./serve-run.js')).serveCommand(opts),
    );
}
