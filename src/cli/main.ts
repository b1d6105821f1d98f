#!/usr/bin/env node
// Entry point: only wires commands.
import { Command } from 'commander';
import { registerMigrate } from './commands/migrate.js';
import { registerServe } from './commands/serve.js';
import { registerSync } from './commands/sync.js';
import { VERSION } from '../version.js';

const program = new Command();
program.name('mail-helper').description('Self-hosted mail helper: background IMAP sync into an encrypted local store').version(VERSION);
registerServe(program);
registerMigrate(program);
registerSync(program);
await program.parseAsync(process.argv);
