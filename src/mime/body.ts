// Body decoding for the MIME fast path (parse-fast.ts): the bytes and text postal-mime 4 produces for a
// part (pass-through-decoder.ts, qp-decoder.ts, base64-decoder.ts, MimeNode.getTextContent), computed
// with native operations instead of line by line. A part's body is raw[start, end): whole lines, each
// ending in LF except possibly the last line of the message.
import { TextDecoder } from 'node:util';
import { decline } from './headers.js';

const LF = 0x0a;
const CR = 0x0d;
const EQ = 0x3d;

/** Pass-through (7bit, 8bit, binary): every line without its trailing CRs, plus LF. */
export function passThroughBytes(raw: Buffer, start: number, end: number): Uint8Array {
  if (start >= end) return new Uint8Array(0);
  const endsInLf = raw[end - 1] === LF;
  const body = raw.subarray(start, end);
  if (body.indexOf(CR) < 0) {
    const out = new Uint8Array(end - start + (endsInLf ? 0 : 1));
    out.set(body);
    if (!endsInLf) out[out.length - 1] = LF;
    return out;
  }
  const out = new Uint8Array(end - start + 1);
  let o = 0;
  let pos = start;
  while (pos < end) {
    let lf = raw.indexOf(LF, pos);
    if (lf < 0 || lf >= end) lf = end;
    let e = lf;
    while (e > pos && raw[e - 1] === CR) e--;
    out.set(raw.subarray(pos, e), o);
    o += e - pos;
    out[o++] = LF;
    pos = lf + 1;
  }
  return out.subarray(0, o);
}

/**
 * Pass-through text: decoded first, line ends fixed after. Equal to decoding the fixed bytes because
 * every accepted charset is ASCII-compatible, so CR and LF bytes always decode to themselves and never
 * join a neighbouring byte sequence.
 */
export function passThroughText(raw: Buffer, start: number, end: number, decoder: TextDecoder): string {
  if (start >= end) return '';
  let text = decoder.decode(raw.subarray(start, end));
  if (text.includes('\r')) {
    // the plain CRLF pattern first: several times faster than the general one below
    text = text.replace(/\r\n/g, '\n');
    if (text.includes('\r')) text = text.replace(/\r+(\n|$)/g, '$1');
  }
  return raw[end - 1] === LF ? text : text + '\n';
}

function hexNibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Quoted-printable exactly as postal-mime's QPDecoder: `=` at a line end is a soft break, bad escapes stay literal. */
export function quotedPrintableBytes(raw: Buffer, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start + 1);
  let o = 0;
  let pos = start;
  // The next `=` at or after pos, found once per `=` rather than once per line.
  let nextEq = -1;
  const copy = (a: number, b: number): void => {
    if (b - a < 16) for (let k = a; k < b; k++) out[o++] = raw[k];
    else {
      out.set(raw.subarray(a, b), o);
      o += b - a;
    }
  };
  while (pos < end) {
    let lf = raw.indexOf(LF, pos);
    if (lf < 0 || lf >= end) lf = end;
    let e = lf;
    while (e > pos && raw[e - 1] === CR) e--;
    const soft = e > pos && raw[e - 1] === EQ;
    if (soft) e--;
    let literal = pos;
    for (;;) {
      if (nextEq < pos) {
        nextEq = raw.indexOf(EQ, pos);
        if (nextEq < 0) nextEq = raw.length;
      }
      const i = nextEq;
      if (i >= e) break;
      nextEq = -1;
      pos = i + 1;
      if (i + 2 >= e) continue;
      const hi = hexNibble(raw[i + 1]);
      const lo = hexNibble(raw[i + 2]);
      if (hi < 0 || lo < 0) continue;
      copy(literal, i);
      out[o++] = (hi << 4) | lo;
      literal = pos = i + 3;
    }
    copy(literal, e);
    if (!soft) out[o++] = LF;
    pos = lf + 1;
  }
  return out.subarray(0, o);
}

const B64_DATA = /[A-Za-z0-9+/]/;

/**
 * Base64 via Buffer. postal-mime drops every character outside the alphabet and `=`, and decodes each
 * `=`-terminated run on its own; Node skips the same characters (whitespace by its documentation, the
 * rest as observed in the equivalence tests) but stops at the first `=` and reads `-` and `_` as
 * base64url. So this takes bodies without `-` or `_` whose `=` are padding at the end, checked with
 * native byte searches rather than a scan in JavaScript.
 */
export function base64Bytes(raw: Buffer, start: number, end: number): Uint8Array {
  const text = base64Text(raw, start, end);
  // 3/4 of the text (line breaks counted as data) is room enough; its own ArrayBuffer, so it can be transferred.
  const out = Buffer.allocUnsafeSlow(Math.ceil(((end - start) * 3) / 4));
  return out.subarray(0, out.write(text, 'base64'));
}

/** The body as text for Buffer's base64 decoder, or a decline where it would decode otherwise than postal-mime. */
function base64Text(raw: Buffer, start: number, end: number): string {
  base64Data(raw, start, end);
  return raw.toString('latin1', start, end);
}

/** Where the body's base64 data ends (its first `=`, else its end), after base64Text's declines. */
function base64Data(raw: Buffer, start: number, end: number): number {
  const body = raw.subarray(start, end);
  if (body.indexOf(0x2d) >= 0 || body.indexOf(0x5f) >= 0) decline();
  const pad = body.indexOf(EQ);
  if (pad >= 0 && B64_DATA.test(raw.toString('latin1', start + pad, end))) decline();
  return pad >= 0 ? start + pad : end;
}

/** 1 for the bytes of the base64 alphabet (`-` and `_`, base64url's, are declined before any count). */
const ALPHABET = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') ALPHABET[c.charCodeAt(0)] = 1;
const EMPTY_WORDS = new Uint32Array(0);
/** How many of a pair of bytes (a 16-bit value, either byte order) are in the alphabet. */
const PAIRS = new Uint8Array(65536);
for (let i = 0; i < 65536; i++) PAIRS[i] = ALPHABET[i & 0xff] + ALPHABET[i >> 8];

/**
 * The length of base64Bytes(raw, start, end), with the same declines, counted instead of decoded:
 * Node's decoder skips every byte outside the alphabet (line breaks, other whitespace, junk) and
 * stops at the first `=`, so n alphabet bytes before it make 3 bytes per 4, plus 1 for 2 left over
 * and 2 for 3 (1 makes none). A sync wants only the size of an attachment: decoding it first made a
 * string of every body (copied, then collected); counting four bytes a step (two pair lookups) is
 * ~3× faster than a byte at a time.
 */
export function base64Size(raw: Buffer, start: number, end: number): number {
  const stop = base64Data(raw, start, end);
  let n = 0;
  let i = start;
  while (i < stop && (raw.byteOffset + i) & 3) n += ALPHABET[raw[i++]];
  const words = (stop - i) >> 2;
  // No view of no words: its offset may be unaligned then (a range that ends before a word boundary).
  const u = words > 0 ? new Uint32Array(raw.buffer, raw.byteOffset + i, words) : EMPTY_WORDS;
  for (let k = 0; k < words; k++) {
    const w = u[k];
    n += PAIRS[w & 0xffff] + PAIRS[w >>> 16];
  }
  for (i += words * 4; i < stop; i++) n += ALPHABET[raw[i]];
  const rest = n & 3;
  return (n >> 2) * 3 + (rest === 0 ? 0 : rest - 1);
}

// Charset labels taken as they are: each is a WHATWG label that postal-mime's getDecoder hands to
// TextDecoder unchanged, for an ASCII-compatible encoding (so line ends survive decoding, see
// passThroughText). UTF-16, ISO-2022-JP, replacement and x-user-defined are left to postal-mime, as is
// every other spelling (its normalisation and aliases are not copied), and iso-8859-16, which Node's
// TextDecoder does not know.
export const CHARSETS: ReadonlySet<string> = new Set(
  [
    'unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8',
    '866 cp866 csibm866 ibm866',
    'csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2',
    'csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3',
    'csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4',
    'csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5 iso_8859-5:1988',
    'arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e',
    'iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987',
    'csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7 iso88597 iso_8859-7',
    'iso_8859-7:1987 sun_eu_greek',
    'csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8 iso88598 iso_8859-8',
    'iso_8859-8:1988 visual csiso88598i iso-8859-8-i logical',
    'csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6',
    'iso-8859-13 iso8859-13 iso885913 iso-8859-14 iso8859-14 iso885914',
    'csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9',
    'cskoi8r koi koi8 koi8-r koi8_r koi8-ru koi8-u',
    'csmacintosh mac macintosh x-mac-roman x-mac-cyrillic x-mac-ukrainian',
    'dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874',
    'cp1250 windows-1250 x-cp1250 cp1251 windows-1251 x-cp1251',
    'ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 iso88591',
    'iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252',
    'cp1253 windows-1253 x-cp1253',
    'cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 iso_8859-9:1989 l5 latin5',
    'windows-1254 x-cp1254 cp1255 windows-1255 x-cp1255 cp1256 windows-1256 x-cp1256',
    'cp1257 windows-1257 x-cp1257 cp1258 windows-1258 x-cp1258',
    'chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk gb18030',
    'big5 big5-hkscs cn-big5 csbig5 x-x-big5',
    'cseucpkdfmtjapanese euc-jp x-euc-jp',
    'csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis',
    'cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601',
    'windows-949',
  ]
    .join(' ')
    .split(' '),
);

const decoders = new Map<string, TextDecoder>();

/** The decoder postal-mime's getDecoder picks for this charset parameter, or decline. */
export function textDecoderFor(charset: string | undefined): TextDecoder {
  const label = (charset || 'utf8').trim().toLowerCase();
  let d = decoders.get(label);
  if (!d) {
    if (!CHARSETS.has(label)) decline();
    try {
      d = new TextDecoder(label);
    } catch {
      decline();
    }
    decoders.set(label, d);
  }
  return d;
}

/** RFC 3676 format=flowed, copied from postal-mime's MimeNode.decodeFlowedText so the output matches. */
export function decodeFlowedText(str: string, delSp: boolean): string {
  const parts: string[] = [];
  let lineStart = 0;
  let lineLength = 0;
  const lines = str.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.charAt(0) === ' ') line = line.slice(1);
    if (i) {
      const last = parts.length ? parts[parts.length - 1] : '';
      const isSignature = lineLength === 3 && parts.slice(lineStart).join('') === '-- ';
      if (last.endsWith(' ') && !isSignature) {
        if (delSp) {
          if (last.length > 1) parts[parts.length - 1] = last.slice(0, -1);
          else parts.pop();
          lineLength--;
        }
      } else {
        parts.push('\n');
        lineStart = parts.length;
        lineLength = 0;
      }
    }
    if (line) {
      parts.push(line);
      lineLength += line.length;
    }
  }
  return parts.join('');
}
