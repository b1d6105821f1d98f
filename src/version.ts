import { readFileSync } from 'node:fs';

/**
 * This package's version, from the nearest package.json named mail-helper above this module: tsc's
 * dist/version.js and the bundled CLI (dist/cli/) sit at different depths.
 */
function ownVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'mail-helper') return pkg.version;
    } catch {
      // none here (or unreadable): look further up
    }
    if (dir.pathname === '/') throw new Error('mail-helper: its package.json was not found above ' + import.meta.url);
  }
}

export const VERSION: string = ownVersion();
