import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startPgInstance } from '../../fixtures/pg-instance.js';
import { runCli, startServe, type RunningProcess } from '../../fixtures/processes.js';
import { createPgDatabase, storeKinds } from '../../fixtures/stores.js';

const running: RunningProcess[] = [];
afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL');
});

const kinds = await storeKinds();

describe('serve', () => {
  it('with no configuration creates ./data/mail-helper.db and answers /healthz and /readyz', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'mh-cwd-'));
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../../fixtures/processes.js');
    const { freePort } = await import('../../fixtures/dovecot.js');
    const port = await freePort();
    const p = spawn(process.execPath, [CLI, 'serve', '--port', String(port)], {
      cwd,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent' },
      stdio: 'ignore',
    });
    try {
      let body: unknown;
      for (let i = 0; i < 100; i++) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/healthz`);
          body = await r.json();
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(body).toMatchObject({ status: 'ok' });
      expect(existsSync(join(cwd, 'data', 'mail-helper.db'))).toBe(true);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', checks: { sqlite: 'ok' } });
      const home = await fetch(`http://127.0.0.1:${port}/`);
      expect(home.headers.get('x-request-id')).toMatch(/[0-9a-f-]{36}/);
    } finally {
      p.kill('SIGKILL');
    }
  });

  it.runIf(kinds.includes('postgres'))('on PostgreSQL answers /readyz, then 503 naming postgresql when the server is gone', async () => {
    const inst = await startPgInstance();
    try {
      const db = await createPgDatabase(inst.url);
      const dataDir = mkdtempSync(join(tmpdir(), 'mh-data-'));
      const app = await startServe({ DATABASE_URL: db.url, DATA_DIR: dataDir });
      running.push(app);
      const ok = await fetch(`${app.url}/readyz`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ checks: { postgresql: 'ok' } });
      inst.stop('immediate');
      const bad = await fetch(`${app.url}/readyz`);
      expect(bad.status).toBe(503);
      const body = (await bad.json()) as { failing: string[] };
      expect(body.failing).toEqual(['postgresql']);
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
      inst.start();
      let back = 0;
      for (let i = 0; i < 50 && back !== 200; i++) {
        back = (await fetch(`${app.url}/readyz`)).status;
        if (back !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(back).toBe(200);
    } finally {
      await inst.destroy();
    }
  });

  it('exits 0 within 10 s on SIGTERM after finishing requests in flight', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mh-data-'));
    const app = await startServe({ DATA_DIR: dataDir });
    // A request whose body is still arriving when the signal comes: it must still get its answer.
    const { connect } = await import('node:net');
    const sock = connect(app.port, '127.0.0.1');
    let response = '';
    sock.on('data', (d) => (response += d));
    await new Promise((r) => sock.once('connect', r));
    sock.write('POST /no-such-route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n');
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const exit = app.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    sock.end('{}');
    const code = await exit;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(response).toMatch(/^HTTP\/1\.1 404/);
    expect(app.output()).toMatch(/"msg":"stopped"/);
    await expect(fetch(`${app.url}/healthz`)).rejects.toThrow();
  });

  it('with an unreachable PostgreSQL prints where and why, and exits 2', async () => {
    const { freePort } = await import('../../fixtures/dovecot.js');
    const port = await freePort();
    const r = await runCli(['serve'], { DATABASE_URL: `postgres://mh:secretpw@127.0.0.1:${port}/mh`, LOG_LEVEL: 'silent' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`Cannot reach the store \\(PostgreSQL at 127\\.0\\.0\\.1:${port}/mh\\): .*ECONNREFUSED`));
    expect(r.stderr).not.toContain('secretpw');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('with a bad configuration prints every problem and exits 2, no stack trace', async () => {
    const r = await runCli(['serve'], { PORT: 'eighty', QUEUE: 'kafka' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/PORT: "eighty" must be a number/);
    expect(r.stderr).toMatch(/QUEUE: "kafka" must be local or bullmq/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('with BullMQ configured and Redis unreachable exits 2 naming Redis', async () => {
    const { freePort } = await import('../../fixtures/dovecot.js');
    const r = await runCli(['serve'], {
      QUEUE: 'bullmq',
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'mh-data-')),
      LOG_LEVEL: 'silent',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/);
  });

  it('migrate applies once, then says there is nothing to do', async () => {
    const env = { DATA_DIR: mkdtempSync(join(tmpdir(), 'mh-data-')), LOG_LEVEL: 'silent' };
    const a = await runCli(['migrate'], env);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/Applied \d+ migration/);
    const b = await runCli(['migrate'], env);
    expect(b.stdout).toMatch(/Nothing to do/);
  });

  it('every command has --help', async () => {
    for (const cmd of [[], ['serve'], ['migrate']]) {
      const r = await runCli([...cmd, '--help'], {});
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: mail-helper/);
    }
  });
});
