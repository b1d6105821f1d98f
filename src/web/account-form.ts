// Validation of the account form (and JSON): every field checked, messages that say how to fix it.
import { z } from 'zod';
import { checkbox, parseInput, text } from './forms.js';
import { MAX_EMAILS_DEFAULT, MAX_EMAILS_LIMIT, type AccountFields } from '../accounts/account-repo.js';

const HOST_RE =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?$|^\[?[0-9A-Fa-f:.]+\]?$/;

function validDate(v: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) return false;
  const d = new Date(`${v}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v;
}

const intField = (name: string, min: number, max: number, fallback?: number) =>
  text(20).transform((v, ctx) => {
    const s = v.trim();
    if (s === '' && fallback !== undefined) return fallback;
    if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return Number(s);
  });

/** Builds the schema; `requireCredentials` on create or when the key was reset (needs_password). */
export function accountSchema(requireCredentials: boolean) {
  const cred = (label: string) =>
    requireCredentials ? text(500).pipe(z.string().min(1, `is required (the ${label} you use to log in to this mail server)`)) : text(500);
  return z
    .object({
      name: text(100)
        .transform((v) => v.trim())
        .pipe(z.string().min(1, 'is required (any name you like, e.g. "Work mail")')),
      host: text(253)
        .transform((v) => v.trim())
        .pipe(
          z
            .string()
            .min(1, 'is required (e.g. imap.example.com)')
            .regex(HOST_RE, 'must be a host name like imap.example.com or an IP address'),
        ),
      security: z.enum(['tls', 'starttls', 'none'], { message: 'must be TLS, STARTTLS or none' }),
      port: text(20).refine((p) => p.trim() === '' || (/^\d+$/.test(p.trim()) && Number(p) >= 1 && Number(p) <= 65535), {
        message: 'must be a whole number from 1 to 65535 (993 for TLS, 143 for STARTTLS)',
      }),
      allow_insecure: checkbox,
      username: cred('user name'),
      password: cred('password'),
      since_date: text(20)
        .transform((v) => v.trim())
        .refine((v) => v === '' || validDate(v), 'must be a date as YYYY-MM-DD (e.g. 2024-01-31) or empty'),
      unseen_only: checkbox,
      max_emails: intField('max_emails', 1, MAX_EMAILS_LIMIT, MAX_EMAILS_DEFAULT),
      enabled: checkbox,
    })
    .transform((v) => ({
      fields: {
        name: v.name,
        host: v.host.replace(/^\[|\]$/g, ''),
        port: v.port.trim() === '' ? (v.security === 'tls' ? 993 : 143) : Number(v.port.trim()),
        security: v.security,
        sinceDate: v.since_date === '' ? null : v.since_date,
        unseenOnly: v.unseen_only,
        maxEmails: v.max_emails,
        enabled: v.enabled,
      } satisfies AccountFields,
      username: v.username.trim(),
      password: v.password,
    }));
}

const INSECURE_MESSAGE =
  'security "none" sends your password and mail unencrypted over the network: tick the confirmation to allow it, or choose TLS/STARTTLS';

/**
 * Parses the account form. The "none needs confirmation" rule is checked beside the schema so that its
 * message appears together with every other field's, not only once the rest is valid.
 */
export function parseAccountForm(body: unknown, requireCredentials: boolean) {
  const parsed = parseInput(accountSchema(requireCredentials), body);
  const b = (body ?? {}) as Record<string, unknown>;
  if (
    b.security === 'none' &&
    !(b.allow_insecure === 'on' || b.allow_insecure === '1' || b.allow_insecure === 'true' || b.allow_insecure === true)
  ) {
    const errors = parsed.ok ? {} : parsed.errors;
    return { ok: false as const, errors: { ...errors, allow_insecure: INSECURE_MESSAGE } };
  }
  return parsed;
}

/** Folder filter form: repeated `include` / `exclude` fields (one per ticked folder). */
export const folderFilterSchema = z.object({
  include: z.preprocess((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]), z.array(z.string().min(1).max(500)).max(2000)),
  exclude: z.preprocess((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]), z.array(z.string().min(1).max(500)).max(2000)),
});

export const trustSchema = z.object({
  fingerprint: z.string().regex(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 fingerprint'),
});
