import { timingSafeEqual } from 'node:crypto';

/** Constant-time check of an `Authorization: Bearer …` header against the configured token. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!token || !header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7).trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}
