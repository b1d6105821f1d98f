import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureSelfSignedTls } from '../../../src/web/tls-cert.js';
import { selfSignedCert } from '../../fixtures/dovecot.js';
import { runCli, startServe, type RunningProcess } from '../../fixtures/processes.js';

const running: RunningProcess[] = [];
afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL');
});

function getTls(port: number, ca: string, path = '/healthz'): Promise<{ status: number; body: string; peerFingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost', checkServerIdentity: () => undefined }, (res) => {
      const peerFingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peerFingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serve --https', () => {
  it('generates a self-signed certificate in the data folder on first use and answers over verified TLS', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mh-data-'));
    const app = await startServe({ DATA_DIR: dataDir }, ['--https']).catch(async () => {
      throw new Error('serve --https did not come up');
    });
    running.push(app);
    const certPem = readFileSync(join(dataDir, 'tls', 'self-signed.crt'), 'utf8');
    expect((statSync(join(dataDir, 'tls', 'self-signed.key')).mode & 0o777).toString(8)).toBe('600');
    // The certificate itself is the trust anchor: a real TLS client that verifies the chain.
    const r = await getTls(app.port, certPem);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ status: 'ok' });
    expect(r.peerFingerprint).toBe(new X509Certificate(certPem).fingerprint256);
    // An untrusting client is refused: it really is TLS with this certificate.
    await expect(
      new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port: app.port, servername: 'localhost' }, () => resolve(s.authorized));
        s.on('error', reject);
      }),
    ).rejects.toThrow(/self.signed|unable to verify/i);
  });

  it('keeps the certificate across restarts and renews it when close to expiry', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mh-data-'));
    const a = await ensureSelfSignedTls(dataDir);
    expect(a.source).toBe('generated');
    const b = await ensureSelfSignedTls(dataDir);
    expect(b.source).toBe('reused');
    expect(b.fingerprint256).toBe(a.fingerprint256);
    const later = new Date(a.validTo.getTime() - 10 * 24 * 3600_000);
    const c = await ensureSelfSignedTls(dataDir, [], later);
    expect(c.source).toBe('generated');
    expect(c.fingerprint256).not.toBe(a.fingerprint256);
    expect(c.validTo.getTime()).toBeGreaterThan(a.validTo.getTime());
  });

  it('serves a given certificate and key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mh-cert-'));
    const { cert, key } = selfSignedCert(dir);
    const app = await startServe({ DATA_DIR: mkdtempSync(join(tmpdir(), 'mh-data-')) }, ['--cert', cert, '--key', key]);
    running.push(app);
    const r = await getTls(app.port, readFileSync(cert, 'utf8'));
    expect(r.status).toBe(200);
  });

  it('a missing certificate file is a clear error, exit 2', async () => {
    const r = await runCli(['serve', '--cert', '/nonexistent/c.pem', '--key', '/nonexistent/k.pem'], {
      DATA_DIR: mkdtempSync(join(tmpdir(), 'mh-data-')),
      LOG_LEVEL: 'silent',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Cannot read the TLS certificate \/nonexistent\/c\.pem/);
  });
});
