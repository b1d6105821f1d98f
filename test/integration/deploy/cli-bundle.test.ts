// The mail-helper command runs from a bundle (scripts/bundle-cli.mjs, built by npm run build): the
// libraries that took most of its start-up as hundreds of module files are inside it.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { describe, expect, it } from 'vitest';

const cliDir = new URL('../../../dist/cli/', import.meta.url);

/** The packages the bundle's files still load from node_modules (bare specifiers, Node's own left out). */
function loadedPackages(): Set<string> {
  const builtins = new Set(builtinModules);
  const found = new Set<string>();
  for (const f of readdirSync(cliDir).filter((n) => n.endsWith('.js'))) {
    const text = readFileSync(new URL(f, cliDir), 'utf8');
    // esbuild's output (minified whitespace: statements follow each other on a line): import and
    // export statements, import("x"), and require("x") of the CommonJS parts (the banner's require).
    const specs = [
      ...text.matchAll(/(?:^|;)(?:import|export)\b[^;"]*?\bfrom\s*"([^"]+)"/gm),
      ...text.matchAll(/(?:^|;)import\s*"([^"]+)"/gm),
      ...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
      ...text.matchAll(/\b__require\(\s*"([^"]+)"\s*\)/g),
    ];
    for (const m of specs) {
      const spec = m[1];
      if (spec.startsWith('.')) continue;
      if (spec.startsWith('node:') || builtins.has(spec)) continue;
      const parts = spec.split('/');
      found.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
    }
  }
  return found;
}

describe('the bundled CLI', () => {
  it('holds the sync path’s libraries and loads only the listed externals from node_modules', () => {
    const files = readdirSync(cliDir);
    expect(files).toContain('main.js');
    expect(files).toContain('parse-worker.js');
    // Only bundle files: no tsc output (unbundled modules) left beside them.
    expect(files.filter((f) => !/^(main|parse-worker|[\w-]+-[A-Z0-9]{8})\.js(\.map)?$/.test(f))).toEqual([]);
    const loaded = loadedPackages();
    for (const lib of ['imapflow', 'kysely', 'zod', 'commander', 'postal-mime', 'cli-progress', 'dotenv'])
      expect(loaded).not.toContain(lib);
    const script = readFileSync(new URL('../../../scripts/bundle-cli.mjs', import.meta.url), 'utf8');
    const external = new Set([...script.matchAll(/^ {2}'([^']+)',$/gm)].map((m) => m[1].replace(/\/\*$/, '')));
    for (const p of loaded)
      expect(external.has(p) || external.has(p.split('/')[0]), `${p} is loaded but not listed as external`).toBe(true);
  });
});
