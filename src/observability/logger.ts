// pino: JSON in production, pretty on a terminal. Redaction is a second line of defence;
// the first is never putting a secret into a log call.
import pino, { type Logger } from 'pino';
import type { Config } from '../config/config.js';

export type { Logger };

export const REDACT_PATHS = [
  'password',
  '*.password',
  'pass',
  '*.pass',
  'auth.pass',
  '*.auth.pass',
  'dek',
  '*.dek',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
];

export function createLogger(config: Pick<Config, 'log'>, destination?: pino.DestinationStream): Logger {
  const pretty = config.log.format === 'pretty' || (config.log.format === 'auto' && process.stdout.isTTY === true);
  const options: pino.LoggerOptions = {
    level: config.log.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (destination) return pino(options, destination);
  if (pretty) return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } });
  return pino(options);
}
