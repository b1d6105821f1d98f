// Header handling for the MIME fast path (parse-fast.ts). Mirrors postal-mime 4's MimeNode.processHeaders
// and parseStructuredHeader for the inputs it accepts; anything outside the simple grammar below
// declines, so that postal-mime's intricate rules (comments, escapes, RFC 2231) never need copying.
import { isAscii } from 'node:buffer';

/** Thrown to abandon the fast path; parseFast turns it into null. One instance: declining must be cheap. */
export const DECLINED = new Error('outside the MIME fast path');

export function decline(): never {
  throw DECLINED;
}

// postal-mime decodes each header line with this decoder; ignoreBOM keeps a U+FEFF inside the key.
const headerDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * The header lines in raw[start, end) as postal-mime reads them: split at LF, trailing CRs dropped,
 * UTF-8 decoded. Decoding the block at once equals decoding line by line because CR and LF are ASCII,
 * which never continue a UTF-8 sequence.
 */
export function headerLines(raw: Buffer, start: number, end: number): string[] {
  if (start >= end) return [];
  const bytes = raw.subarray(start, end);
  const text = isAscii(bytes) ? raw.toString('latin1', start, end) : headerDecoder.decode(bytes);
  const lines = text.split('\n');
  if (raw[end - 1] === 0x0a) lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.charCodeAt(l.length - 1) === 0x0d) lines[i] = l.replace(/\r+$/, '');
  }
  return lines;
}

/** Strips only SP and HT, as postal-mime does (String.prototype.trim also strips Unicode spaces). */
export function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

export interface HeaderField {
  /** Lowercased field name. */
  key: string;
  unfolded: string;
  sep: number;
}

/** Groups folded lines (continuations start with SP or HT) into fields, in document order. */
export function headerFields(lines: string[]): HeaderField[] {
  const fields: HeaderField[] = [];
  let i = 0;
  while (i < lines.length) {
    let unfolded = lines[i++];
    while (i < lines.length && (lines[i].charCodeAt(0) === 0x20 || lines[i].charCodeAt(0) === 0x09)) unfolded += lines[i++];
    const sep = unfolded.indexOf(':');
    fields.push({ key: trimWsp(sep < 0 ? unfolded : unfolded.slice(0, sep)).toLowerCase(), unfolded, sep });
  }
  return fields;
}

export function fieldValue(f: HeaderField): string {
  if (f.sep < 0) return '';
  const v = f.unfolded.slice(f.sep + 1);
  return trimWsp(v.includes('\r') ? v.replace(/[\r\n]+/g, ' ') : v);
}

/** The value of the first field with this key, as postal-mime's "first occurrence wins". */
export function firstValue(fields: HeaderField[], key: string): string | undefined {
  for (const f of fields) if (f.key === key) return fieldValue(f);
  return undefined;
}

export interface Structured {
  /** Lowercased main value, e.g. `text/plain` or `attachment`. */
  value: string;
  /** Parameters by lowercased name; the first of duplicates wins. */
  params: Map<string, string>;
}

const NO_PARAMS: Structured = { value: '', params: new Map() };

// A parameter name: an RFC 2045 token without `*`, so RFC 2231 sections never reach us.
const NAME = /^[!#$%&'+.^_`{|}~0-9A-Za-z-]+$/;

function isWsp(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

// Ends an unquoted value: whitespace, `;`, a quote, and the characters postal-mime gives comment or
// escape meaning to.
function endsToken(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x3b || c === 0x22 || c === 0x5c || c === 0x28 || c === 0x29;
}

/**
 * `type/subtype; name=token; name="quoted"` as postal-mime parses it. Declines comments, backslashes,
 * RFC 2231 names, junk after a value and anything else its grammar treats specially.
 */
export function parseStructured(str: string | undefined): Structured {
  if (!str) return NO_PARAMS;
  const n = str.length;
  let i = 0;
  while (i < n && isWsp(str.charCodeAt(i))) i++;
  let start = i;
  while (i < n && !endsToken(str.charCodeAt(i))) i++;
  const value = str.slice(start, i).toLowerCase();
  const params = new Map<string, string>();
  for (;;) {
    while (i < n && isWsp(str.charCodeAt(i))) i++;
    if (i >= n) break;
    if (str.charCodeAt(i) !== 0x3b) decline();
    i++;
    while (i < n && isWsp(str.charCodeAt(i))) i++;
    if (i >= n || str.charCodeAt(i) === 0x3b) continue; // an empty parameter: postal-mime skips it
    start = i;
    while (i < n && !endsToken(str.charCodeAt(i)) && str.charCodeAt(i) !== 0x3d) i++;
    const name = str.slice(start, i);
    if (!NAME.test(name)) decline();
    while (i < n && isWsp(str.charCodeAt(i))) i++;
    let v = '';
    if (i < n && str.charCodeAt(i) === 0x3d) {
      i++;
      while (i < n && isWsp(str.charCodeAt(i))) i++;
      if (i < n && str.charCodeAt(i) === 0x22) {
        const close = str.indexOf('"', i + 1);
        if (close < 0) decline();
        v = str.slice(i + 1, close);
        if (v.includes('\\')) decline();
        i = close + 1;
      } else {
        start = i;
        while (i < n && !endsToken(str.charCodeAt(i))) i++;
        v = str.slice(start, i);
      }
    } else if (i < n && str.charCodeAt(i) !== 0x3b) decline();
    const key = name.toLowerCase();
    if (!params.has(key)) params.set(key, v);
  }
  return { value, params };
}
