#!/usr/bin/env -S MALLOC_ARENA_MAX=2 GLIBC_TUNABLES=glibc.malloc.hugetlb=1 node --max-semi-space-size=8 --no-use-osr --single-threaded-gc --max-inlined-bytecode-size-cumulative=150
// Entry point: only wires commands. Run as the installed `mail-helper` command, it starts Node with the
// production flags (README, "Running in production"): without them the engine's 10,000-message first
// sync (as `sync --direct` runs it) peaked at ~252 MB instead of ~212.
// Each command module only defines its options; what it runs is imported when it runs (commands/*-run.ts):
// importing every command's dependencies (web app, BullMQ, the engine) kept `--version` busy for ~1 s.
import { Command } from 'commander';
import { registerMigrate } from './commands/migrate.js';
import { registerServe } from './commands/serve.js';
import { registerWorker } from './commands/worker.js';
import { registerSync } from './commands/sync.js';
import { registerUser } from './commands/user.js';
import { registerHealth } from './commands/health.js';
import { registerIntegrationTest } from './commands/integration-test.js';
import { VERSION } from '../version.js';

const program = new Command();
program.name('mail-helper').description('Self-hosted mail helper: background IMAP sync into an encrypted local store').version(VERSION);
registerServe(program);
registerMigrate(program);
registerWorker(program);
registerSync(program);
registerUser(program);
registerHealth(program);
registerIntegrationTest(program);
await program.parseAsync(process.argv);
