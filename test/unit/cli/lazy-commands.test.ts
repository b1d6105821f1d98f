// The mail-helper command defines every command but loads only the one it runs: a command's definition
// module (src/cli/commands/X.ts) imports nothing at run time, its X-run.ts is imported by its action.
// Importing them all (web app, BullMQ, the engine) kept `mail-helper --version` busy for ~0.75 s.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../../../src/cli/', import.meta.url));
const valueImports = (file: string) =>
  [...readFileSync(file, 'utf8').matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]);

describe('command definitions', () => {
  const definitions = readdirSync(join(cli, 'commands')).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('-run.ts') && f !== 'sync-direct.ts',
  );

  it('cover every command the entry point registers', () => {
    expect(definitions.sort()).toEqual(['health.ts', 'integration-test.ts', 'migrate.ts', 'serve.ts', 'sync.ts', 'user.ts', 'worker.ts']);
  });

  it.each(definitions)('%s imports nothing at run time but through its actions', (f) => {
    const src = readFileSync(join(cli, 'commands', f), 'utf8');
    expect(valueImports(join(cli, 'commands', f))).toEqual([]);
    expect(src).toMatch(/import\('\.\/[a-z-]+-run\.js'\)|import\('\.\/sync-direct\.js'\)/);
  });

  it('the entry point imports only commander, the version and the definitions', () => {
    const imports = valueImports(join(cli, 'main.ts'));
    expect(imports.filter((m) => m !== 'commander' && m !== '../version.js' && !/^\.\/commands\/[a-z-]+\.js$/.test(m))).toEqual([]);
    expect(imports.filter((m) => m.endsWith('-run.js') || m.endsWith('sync-direct.js'))).toEqual([]);
  });
});
