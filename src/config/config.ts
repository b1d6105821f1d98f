// The only place that reads process.env: parse once at start-up into a frozen, typed object.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';

export type StoreKind = 'sqlite' | 'postgres';
export type QueueKind = 'local' | 'bullmq';

/** One documented variable: its schema, default and meaning (the README table is built from this). */
interface VarSpec {
  schema: z.ZodType;
  example: string;
  help: string;
  default?: string;
}

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'].includes(v), {
    message: 'must be true or false',
  })
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const port = z.coerce
  .number({ message: 'must be a number' })
  .int('must be a whole number')
  .min(0, 'must be between 0 and 65535')
  .max(65535, 'must be between 0 and 65535');

const positiveInt = z.coerce.number({ message: 'must be a number' }).int('must be a whole number').positive('must be greater than 0');

// Fractions allowed so tests can scale minutes/hours down to milliseconds instead of sleeping.
const positiveNumber = z.coerce.number({ message: 'must be a number' }).positive('must be greater than 0');

const nonNegative = z.coerce.number({ message: 'must be a number' }).min(0, 'must be 0 or more');

const databaseUrl = z
  .string()
  .trim()
  .refine((v) => v === '' || /^postgres(ql)?:\/\/.+/.test(v), {
    message: 'must be a postgres:// URL (leave it empty for SQLite)',
  });

const redisUrl = z
  .string()
  .trim()
  .refine((v) => v === '' || /^rediss?:\/\/.+/.test(v), { message: 'must be a redis:// or rediss:// URL' });

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
  message: 'must be one of fatal, error, warn, info, debug, trace, silent',
});

const secret = z
  .string()
  .trim()
  .refine((v) => v === '' || v.length >= 32, { message: 'must be at least 32 characters (use `openssl rand -hex 32`)' });

export const VARIABLES = {
  HOST: {
    schema: z.string().trim().min(1, 'must not be empty'),
    default: '127.0.0.1',
    example: '0.0.0.0',
    help: 'Address the web server listens on.',
  },
  PORT: { schema: port, default: '5003', example: '5003', help: 'Port the web server listens on.' },
  DATA_DIR: {
    schema: z.string().trim().min(1, 'must not be empty'),
    default: './data',
    example: '/var/lib/mail-helper',
    help: 'Folder for the SQLite file, generated secrets and certificates (created if missing).',
  },
  DATABASE_URL: {
    schema: databaseUrl,
    default: '',
    example: 'postgres://mail:secret@127.0.0.1:5432/mail_helper',
    help: 'Empty: SQLite at DATA_DIR/mail-helper.db. A postgres:// URL selects PostgreSQL.',
  },
  SQLITE_PATH: {
    schema: z.string().trim(),
    default: '',
    example: './data/mail-helper.db',
    help: 'Overrides the SQLite file location (only when DATABASE_URL is empty).',
  },
  QUEUE: {
    schema: z.enum(['local', 'bullmq'], { message: 'must be local or bullmq' }),
    default: 'local',
    example: 'bullmq',
    help: 'local: jobs in the store, run inside the web process. bullmq: jobs in Redis, run by `mail-helper worker` processes.',
  },
  REDIS_URL: {
    schema: redisUrl,
    default: '',
    example: 'redis://127.0.0.1:6379',
    help: 'Redis for QUEUE=bullmq (default redis://127.0.0.1:6379 in that mode).',
  },
  REDIS_PREFIX: {
    schema: z.string().trim().min(1, 'must not be empty'),
    default: 'mail-helper',
    example: 'mh-prod',
    help: 'Key prefix for everything Mail Helper keeps in Redis.',
  },
  LOG_LEVEL: { schema: logLevel, default: 'info', example: 'debug', help: 'pino log level.' },
  LOG_FORMAT: {
    schema: z.enum(['auto', 'json', 'pretty'], { message: 'must be auto, json or pretty' }),
    default: 'auto',
    example: 'json',
    help: 'auto: pretty on a terminal, JSON otherwise.',
  },
  SERVER_SECRET: {
    schema: secret,
    default: '',
    example: '3f9c…(64 hex chars)',
    help: 'Wraps sync grants for background jobs. Empty: generated once into DATA_DIR/server-secret. Every worker needs the same value.',
  },
  SESSION_IDLE_MINUTES: { schema: positiveNumber, default: '30', example: '60', help: 'A session ends after this long without a request.' },
  SESSION_MAX_HOURS: {
    schema: positiveNumber,
    default: '12',
    example: '24',
    help: 'A session ends this long after login, whatever happens.',
  },
  REGISTRATION_OPEN: { schema: bool, default: 'false', example: 'true', help: 'Allow anyone to register after the first (admin) user.' },
  LOGIN_MAX_FAILURES: { schema: positiveInt, default: '5', example: '10', help: 'Failed logins before an account is locked.' },
  LOGIN_LOCK_MINUTES: { schema: positiveNumber, default: '15', example: '30', help: 'How long a locked account stays locked.' },
  // Measured on the 2-core test box (see README "Users, keys and sessions"): a login runs argon2id twice
  // (hash check + KEK). 64 MiB × 2 passes cost 70–130 ms per login there; 19 MiB × 2 was only ~25 ms.
  ARGON2_MEMORY_KIB: {
    schema: positiveInt,
    default: '65536',
    example: '131072',
    help: 'argon2id memory cost in KiB (password hashes and the key-encryption key). A login runs argon2id twice.',
  },
  ARGON2_ITERATIONS: { schema: positiveInt, default: '2', example: '3', help: 'argon2id time cost (passes over the memory).' },
  SECURE_COOKIES: {
    schema: z.enum(['auto', 'true', 'false'], { message: 'must be auto, true or false' }),
    default: 'auto',
    example: 'true',
    help: 'auto: Secure cookies under HTTPS only.',
  },
  TRUST_PROXY: { schema: bool, default: 'false', example: 'true', help: 'Trust X-Forwarded-* headers (behind a reverse proxy).' },
  WORKER_CONCURRENCY: {
    schema: positiveInt,
    default: '2',
    example: '4',
    help: 'Jobs one worker (or the embedded local worker) runs at once.',
  },
  RETRY_BASE_MS: {
    schema: positiveInt,
    default: '60000',
    example: '60000',
    help: 'First retry delay; later ones double (60 s, 120 s, 240 s).',
  },
  RETRY_ATTEMPTS: { schema: nonNegative, default: '3', example: '3', help: 'Retries after the first attempt for transient errors.' },
  WORKER_LEASE_MS: {
    schema: positiveInt,
    default: '30000',
    example: '30000',
    help: "How long a running job stays claimed without a renewal; a crashed worker's jobs are picked up again after this.",
  },
  GRANT_TTL_HOURS: { schema: positiveInt, default: '24', example: '24', help: 'Lifetime of a sync grant handed to background jobs.' },
  IMAP_TIMEOUT_MS: { schema: positiveInt, default: '15000', example: '30000', help: 'Connection/greeting/socket timeout for IMAP.' },
  MAX_ATTACHMENT_MB: { schema: nonNegative, default: '25', example: '50', help: 'Attachments above this keep metadata only.' },
  MAIL_HELPER_PASSWORD: {
    schema: z.string(),
    default: '',
    example: 'correct horse battery staple',
    help: "The user's password for CLI commands that unlock the user's key (sync --direct). Empty: asked for at the prompt.",
  },
} satisfies Record<string, VarSpec>;

export type VarName = keyof typeof VARIABLES;

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  store: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };
  queue: { kind: QueueKind; redisUrl: string; prefix: string };
  log: { level: string; format: 'auto' | 'json' | 'pretty' };
  serverSecret: string;
  session: { idleMs: number; maxMs: number; secureCookies: 'auto' | 'true' | 'false' };
  auth: { registrationOpen: boolean; maxFailures: number; lockMs: number; argon2: { memoryCost: number; timeCost: number } };
  trustProxy: boolean;
  worker: { concurrency: number; retryBaseMs: number; retryAttempts: number; grantTtlMs: number; leaseMs: number };
  imap: { timeoutMs: number };
  sync: { maxAttachmentBytes: number };
  /** Secrets a CLI command may take from the environment instead of a prompt. */
  cli: { password: string };
}

export class ConfigError extends Error {
  readonly problems: { variable: string; problem: string; example: string }[];
  constructor(problems: { variable: string; problem: string; example: string }[]) {
    super(formatProblems(problems));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function formatProblems(problems: { variable: string; problem: string; example: string }[]): string {
  const lines = problems.map((p) => `  - ${p.variable}: ${p.problem} (example: ${p.variable}=${p.example})`);
  return `Mail Helper cannot start: the configuration is invalid.\n${lines.join('\n')}\nFix these in the environment or in .env, then start again.`;
}

/** Reads `.env` from the working directory (if any); real environment variables win. */
export function readEnvFile(path = resolve(process.cwd(), '.env')): Record<string, string> {
  if (!existsSync(path)) return {};
  return parseDotenv(readFileSync(path));
}

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  envFile?: string | false;
  overrides?: Partial<Record<VarName, string | number | undefined>>;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const fileVars = opts.envFile === false ? {} : readEnvFile(opts.envFile);
  const env = { ...fileVars, ...(opts.env ?? process.env) };
  const raw: Record<string, unknown> = {};
  const problems: { variable: string; problem: string; example: string }[] = [];
  for (const [name, spec] of Object.entries(VARIABLES) as [VarName, VarSpec][]) {
    const override = opts.overrides?.[name];
    const given = override !== undefined ? String(override) : env[name];
    const value = given === undefined || (given.trim() === '' && spec.default !== '') ? (spec.default ?? '') : given;
    const parsed = spec.schema.safeParse(value);
    if (parsed.success) raw[name] = parsed.data;
    else
      problems.push({
        variable: name,
        problem: `${JSON.stringify(value)} ${parsed.error.issues[0]?.message ?? 'is invalid'}`,
        example: spec.example,
      });
  }
  if (problems.length === 0 && raw.QUEUE === 'bullmq' && raw.REDIS_URL === '') raw.REDIS_URL = 'redis://127.0.0.1:6379';
  if (problems.length > 0) throw new ConfigError(problems);

  const v = raw as Record<VarName, never>;
  const dataDir = resolve(v.DATA_DIR as string);
  const dbUrl = v.DATABASE_URL as string;
  const config: Config = {
    host: v.HOST,
    port: v.PORT,
    dataDir,
    store: dbUrl
      ? { kind: 'postgres', url: dbUrl }
      : { kind: 'sqlite', path: (v.SQLITE_PATH as string) ? resolve(v.SQLITE_PATH as string) : resolve(dataDir, 'mail-helper.db') },
    queue: { kind: v.QUEUE, redisUrl: v.REDIS_URL, prefix: v.REDIS_PREFIX },
    log: { level: v.LOG_LEVEL, format: v.LOG_FORMAT },
    serverSecret: v.SERVER_SECRET,
    session: {
      idleMs: Math.round((v.SESSION_IDLE_MINUTES as number) * 60_000),
      maxMs: Math.round((v.SESSION_MAX_HOURS as number) * 3_600_000),
      secureCookies: v.SECURE_COOKIES,
    },
    auth: {
      registrationOpen: v.REGISTRATION_OPEN,
      maxFailures: v.LOGIN_MAX_FAILURES,
      lockMs: Math.round((v.LOGIN_LOCK_MINUTES as number) * 60_000),
      argon2: { memoryCost: v.ARGON2_MEMORY_KIB, timeCost: v.ARGON2_ITERATIONS },
    },
    trustProxy: v.TRUST_PROXY,
    worker: {
      concurrency: v.WORKER_CONCURRENCY,
      retryBaseMs: v.RETRY_BASE_MS,
      retryAttempts: v.RETRY_ATTEMPTS,
      grantTtlMs: (v.GRANT_TTL_HOURS as number) * 3_600_000,
      leaseMs: v.WORKER_LEASE_MS,
    },
    imap: { timeoutMs: v.IMAP_TIMEOUT_MS },
    sync: { maxAttachmentBytes: Math.round((v.MAX_ATTACHMENT_MB as number) * 1024 * 1024) },
    cli: { password: v.MAIL_HELPER_PASSWORD },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const value of Object.values(o)) deepFreeze(value);
    Object.freeze(o);
  }
  return o;
}

/** Where a postgres URL points, without its password: for error messages. */
export function describeStore(config: Config): string {
  if (config.store.kind === 'sqlite') return `SQLite at ${config.store.path}`;
  try {
    const u = new URL(config.store.url);
    return `PostgreSQL at ${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'PostgreSQL (unparseable DATABASE_URL)';
  }
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * The password for non-interactive CLI use (`mail-helper user add` in scripts). Read here because this
 * module is the only reader of the environment; it is a one-off input, not part of Config.
 */
export function passwordFromEnv(env: Record<string, string | undefined> = process.env): string | undefined {
  const v = env.MAIL_HELPER_PASSWORD;
  return v === undefined || v === '' ? undefined : v;
}
