// Bundles the mail-helper command into dist/cli/, in place of tsc's files there (npm run build runs it
// after tsc). Loaded from tsc's output, the CLI resolved and read ~900 module files (ImapFlow's,
// Kysely's and zod's ESM trees): `mail-helper sync --direct` spent ~0.7 s before its first step. The
// bundle is main.js, a chunk per lazily imported command and per shared part, and the parse thread's
// entry, parse-worker.js: one folder, so that whichever chunk starts the threads finds it beside itself.
// tsc's other files stay, for the programmatic API (dist/index.js) and the benchmarks.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const out = `${root}dist/cli/`;

// Left to node_modules: native addons; packages that read their own files at run time (BullMQ's Lua
// scripts, Bull Board's UI, pino's transport threads); packages whose objects another external one
// checks (ioredis for BullMQ, fastify for its plugins); pg, loaded only for a PostgreSQL store
// (store/db.ts); and what only `serve` uses.
const EXTERNAL = [
  'better-sqlite3',
  '@node-rs/argon2',
  'bullmq',
  'ioredis',
  '@bull-board/*',
  'pino',
  'pino-pretty',
  'fastify',
  '@fastify/*',
  'pg',
  'prom-client',
  'selfsigned',
  'eta',
];

// tsc's files for the CLI are replaced by the bundle (nothing else imports them).
rmSync(out, { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts', 'parse-worker': 'src/sync/parse-worker.ts' },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // CommonJS packages inside an ES module bundle call require(); give them Node's.
  banner: { js: "import { createRequire as __mhCreateRequire } from 'node:module'; const require = __mhCreateRequire(import.meta.url);" },
  sourcemap: true, // as tsc's files have
  // Without comments or indentation: a third less to read and parse, and no JSDoc's non-ASCII
  // characters, which made V8 read whole chunks as two-byte strings (bench:cli: -50 ms, 11 of 12).
  minifyWhitespace: true,
  logLevel: 'warning',
});
