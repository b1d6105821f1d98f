import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.js';

const load = (env: Record<string, string>) => loadConfig({ env, envFile: false });

describe('configuration', () => {
  it('with nothing set uses SQLite in ./data, the local queue and 127.0.0.1:5003', () => {
    const c = load({});
    expect(c.store.kind).toBe('sqlite');
    expect(c.store.kind === 'sqlite' && c.store.path).toMatch(/data\/mail-helper\.db$/);
    expect(c.queue.kind).toBe('local');
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(5003);
    expect(Object.isFrozen(c) && Object.isFrozen(c.store)).toBe(true);
  });

  it('selects PostgreSQL from DATABASE_URL', () => {
    const c = load({ DATABASE_URL: 'postgres://u:p@db:5432/mh' });
    expect(c.store).toEqual({ kind: 'postgres', url: 'postgres://u:p@db:5432/mh' });
  });

  it('selects BullMQ with a default Redis URL', () => {
    const c = load({ QUEUE: 'bullmq' });
    expect(c.queue).toMatchObject({ kind: 'bullmq', redisUrl: 'redis://127.0.0.1:6379' });
  });

  it('flags override the environment', () => {
    const c = loadConfig({ env: { PORT: '7000' }, envFile: false, overrides: { PORT: '8000', HOST: '0.0.0.0' } });
    expect(c.port).toBe(8000);
    expect(c.host).toBe('0.0.0.0');
  });

  const bad: [string, string, RegExp][] = [
    ['PORT', 'abc', /PORT: "abc" must be a number \(example: PORT=5003\)/],
    ['PORT', '70000', /between 0 and 65535/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL: .*postgres:\/\//],
    ['QUEUE', 'rabbit', /QUEUE: "rabbit" must be local or bullmq/],
    ['REDIS_URL', 'http://x', /REDIS_URL: .*redis:\/\//],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL: "loud" must be one of/],
    ['REGISTRATION_OPEN', 'maybe', /REGISTRATION_OPEN: "maybe" must be true or false/],
    ['SERVER_SECRET', 'short', /SERVER_SECRET: .*at least 32 characters/],
    ['SESSION_IDLE_MINUTES', '0', /greater than 0/],
    ['WORKER_CONCURRENCY', '1.5', /whole number/],
    ['RETRY_BASE_MS', '-1', /greater than 0/],
    ['MAX_ATTACHMENT_MB', '-3', /0 or more/],
    ['LOG_FORMAT', 'xml', /auto, json or pretty/],
    ['SECURE_COOKIES', 'sometimes', /auto, true or false/],
  ];
  for (const [name, value, pattern] of bad) {
    it(`rejects ${name}=${value} with a message naming it and an example`, () => {
      expect(() => load({ [name]: value })).toThrow(ConfigError);
      expect(() => load({ [name]: value })).toThrow(pattern);
    });
  }

  it('names every offending variable in one message', () => {
    try {
      load({ PORT: 'x', QUEUE: 'y', LOG_LEVEL: 'z' });
      expect.unreachable();
    } catch (err) {
      const e = err as ConfigError;
      expect(e.problems.map((p) => p.variable)).toEqual(['PORT', 'QUEUE', 'LOG_LEVEL']);
      expect(e.message).toMatch(/^Mail Helper cannot start: the configuration is invalid\./);
      expect(e.message).not.toMatch(/at .*\.ts:\d+/);
    }
  });

  it('reads a .env file, and the real environment wins over it', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'mh-env-'));
    writeFileSync(join(dir, '.env'), 'PORT=6001\nHOST=0.0.0.0\n');
    const c = loadConfig({ env: { HOST: '127.0.0.2' }, envFile: join(dir, '.env') });
    expect(c.port).toBe(6001);
    expect(c.host).toBe('127.0.0.2');
  });
});
