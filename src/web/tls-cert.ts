// HTTPS for `serve --https`: a given certificate/key, or a self-signed one generated on first use,
// kept in the data folder and renewed when it is within 30 days of expiry.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { StartupError } from '../config/startup-error.js';

const RENEW_BEFORE_MS = 30 * 24 * 3600_000;
const VALID_DAYS = 365;

export interface TlsMaterial {
  cert: string;
  key: string;
  /** 'given' | 'generated' (new) | 'reused' (from the data folder) */
  source: 'given' | 'generated' | 'reused';
  certPath: string;
  fingerprint256: string;
  validTo: Date;
}

export class TlsSetupError extends StartupError {}

export function loadGivenTls(certPath: string, keyPath: string): TlsMaterial {
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(certPath, 'utf8');
  } catch (err) {
    throw new TlsSetupError(`Cannot read the TLS certificate ${certPath}: ${(err as Error).message}. Give a PEM file with --cert.`);
  }
  try {
    key = readFileSync(keyPath, 'utf8');
  } catch (err) {
    throw new TlsSetupError(`Cannot read the TLS key ${keyPath}: ${(err as Error).message}. Give a PEM file with --key.`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new TlsSetupError(`${certPath} is not a PEM certificate.`);
  }
  return { cert, key, source: 'given', certPath, fingerprint256: x509.fingerprint256, validTo: new Date(x509.validTo) };
}

/** The data folder's self-signed certificate for localhost/127.0.0.1 (+ extra names), created or renewed as needed. */
export async function ensureSelfSignedTls(dataDir: string, extraNames: string[] = [], now = new Date()): Promise<TlsMaterial> {
  const dir = join(dataDir, 'tls');
  const certPath = join(dir, 'self-signed.crt');
  const keyPath = join(dir, 'self-signed.key');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    const x509 = new X509Certificate(cert);
    const validTo = new Date(x509.validTo);
    if (validTo.getTime() - now.getTime() > RENEW_BEFORE_MS) {
      return { cert, key: readFileSync(keyPath, 'utf8'), source: 'reused', certPath, fingerprint256: x509.fingerprint256, validTo };
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const names = ['localhost', ...extraNames.filter((n) => n && !/^[\d.:]+$/.test(n))];
  const ips = ['127.0.0.1', '::1', ...extraNames.filter((n) => /^[\d.:]+$/.test(n))];
  const notAfter = new Date(now.getTime() + VALID_DAYS * 24 * 3600_000);
  const pems = await generate([{ name: 'commonName', value: 'Mail Helper (self-signed)' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 3600_000),
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...new Set(names)]
          .map((value) => ({ type: 2 as const, value }))
          .concat([...new Set(ips)].map((ip) => ({ type: 7 as const, ip })) as never[]),
      },
    ],
  });
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert, { mode: 0o644 });
  const x509 = new X509Certificate(pems.cert);
  return {
    cert: pems.cert,
    key: pems.private,
    source: 'generated',
    certPath,
    fingerprint256: x509.fingerprint256,
    validTo: new Date(x509.validTo),
  };
}
