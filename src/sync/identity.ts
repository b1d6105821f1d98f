// Stable message ids. A message keeps its id when it moves between folders or UIDs, so a move is
// recognised without fetching the body again, and the id reveals nothing (a keyed hash under a
// sub-key of the user's DEK, never the raw Message-ID).
//
// Identity base = keyedHash(k, "mid:" + Message-ID + "\n" + RFC822.SIZE). The size is part of it so
// two *different* messages that share a Message-ID (broken mailers, resent mail) get different
// bases. Messages without a Message-ID fall back to "nomid:" + Date + From + Subject + size: the
// headers a copy or move never changes. Two server copies with the same base (the same message in
// two folders) are told apart by an ordinal: the first claim is `base`, later ones `base:2`, `base:3`…
import { deriveSubkey, keyedHash } from '../crypto/aead.js';

export interface IdentityHeaders {
  messageId: string | null;
  date: string | null;
  from: string | null;
  subject: string | null;
}

/**
 * Where the header block of `raw` ends: the start of its first empty line (CRLF or bare LF), or -1
 * when there is none. Works on the bytes, so no message is turned into a string to find it.
 */
export function headerEnd(raw: Buffer): number {
  // The bare-LF search stops where the CRLF one matched: in CRLF mail it would read the whole body.
  const crlf = raw.indexOf('\n\r\n');
  const lf = (crlf < 0 ? raw : raw.subarray(0, crlf + 1)).indexOf('\n\n');
  const nl = lf >= 0 ? lf : crlf;
  if (nl < 0) return -1;
  return nl > 0 && raw[nl - 1] === 0x0d ? nl - 1 : nl;
}

/**
 * The header block of a full message (up to the first empty line), as the server would answer
 * BODY.PEEK[HEADER.FIELDS …] from it: the identity must come out the same from either.
 */
export function headerBlock(raw: Buffer): Buffer {
  const end = headerEnd(raw);
  return end < 0 ? raw : raw.subarray(0, end);
}

/** Parses an RFC 5322 header block (as fetched with BODY.PEEK[HEADER.FIELDS …]); unfolds continuation lines. */
export function parseIdentityHeaders(block: Buffer | string | undefined): IdentityHeaders {
  const out: IdentityHeaders = { messageId: null, date: null, from: null, subject: null };
  if (!block) return out;
  const text = typeof block === 'string' ? block : block.toString('latin1');
  const unfolded = text.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'message-id' && out.messageId === null) out.messageId = normaliseMessageId(value);
    else if (name === 'date' && out.date === null) out.date = value;
    else if (name === 'from' && out.from === null) out.from = value;
    else if (name === 'subject' && out.subject === null) out.subject = value;
  }
  return out;
}

/** `<a@b>` and ` a@b ` name the same message; an empty or whitespace id is no id. */
export function normaliseMessageId(value: string): string | null {
  const v = value.trim();
  const m = /<([^>]*)>/.exec(v);
  const id = (m ? m[1] : v).trim();
  return id.length > 0 ? id : null;
}

export function stableIdKey(dek: Buffer): Buffer {
  return deriveSubkey(dek, 'stable-id');
}

export function identityBase(key: Buffer, h: IdentityHeaders, size: number): string {
  const material = h.messageId ? `mid:${h.messageId}\n${size}` : `nomid:${h.date ?? ''}\n${h.from ?? ''}\n${h.subject ?? ''}\n${size}`;
  return keyedHash(key, material);
}

export function withOrdinal(base: string, ordinal: number): string {
  return ordinal <= 1 ? base : `${base}:${ordinal}`;
}

/** The family of a base: the base itself plus the range of its ordinals (`:` sorts right below `;`). */
export function familyRange(base: string): { base: string; from: string; to: string } {
  return { base, from: `${base}:`, to: `${base};` };
}

/** The base of an id: the id itself, or what precedes its ordinal. */
export function familyBase(id: string): string {
  const colon = id.indexOf(':');
  return colon < 0 ? id : id.slice(0, colon);
}

export function inFamily(id: string, base: string): boolean {
  const { from, to } = familyRange(base);
  return id === base || (id >= from && id < to);
}

/**
 * Picks the lowest ordinal of `base` that no server location claims. A stored message whose old
 * location vanished (a move) is thereby claimed again by its new location.
 */
export function claimStableId(base: string, claimed: ReadonlySet<string>): string {
  for (let n = 1; ; n++) {
    const id = withOrdinal(base, n);
    if (!claimed.has(id)) return id;
  }
}
