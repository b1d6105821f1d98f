// The server secret wraps sync grants. It lives in the environment or in DATA_DIR/server-secret,
// never in the store or Redis, so a copy of the database alone cannot open a grant.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { keyFromSecret } from '../crypto/keys.js';
import { StartupError } from '../config/startup-error.js';

export class ServerSecretMissingError extends StartupError {
  constructor(path: string) {
    super(
      `No server secret: SERVER_SECRET is empty and ${path} does not exist. ` +
        'A worker must use the same secret as the web server: set SERVER_SECRET to the same value everywhere ' +
        "(generate one with `openssl rand -hex 32`), or copy the web server's DATA_DIR/server-secret file.",
    );
    this.name = 'ServerSecretMissingError';
  }
}

export function serverSecretPath(config: Pick<Config, 'dataDir'>): string {
  return join(config.dataDir, 'server-secret');
}

/**
 * The secret from SERVER_SECRET, else from DATA_DIR/server-secret. With `create` (embedded mode)
 * a missing file is generated once (mode 0600); without it a missing secret is an error.
 */
export function resolveServerSecret(config: Pick<Config, 'dataDir' | 'serverSecret'>, opts: { create: boolean }): string {
  if (config.serverSecret) return config.serverSecret;
  const path = serverSecretPath(config);
  const existing = readSecretFile(path);
  if (existing) return existing;
  if (!opts.create) throw new ServerSecretMissingError(path);
  mkdirSync(config.dataDir, { recursive: true });
  try {
    // 'wx': two processes starting at once must not overwrite each other's secret.
    writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const created = readSecretFile(path);
  if (!created) throw new ServerSecretMissingError(path);
  return created;
}

function readSecretFile(path: string): string | undefined {
  try {
    const value = readFileSync(path, 'utf8').trim();
    return value.length > 0 ? value : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The 32-byte key that wraps grants. */
export function grantKey(secret: string): Buffer {
  return keyFromSecret(secret, 'grant');
}
