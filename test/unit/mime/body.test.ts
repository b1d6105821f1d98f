import { describe, expect, it } from 'vitest';
import { base64Bytes, base64Size } from '../../../src/mime/body.js';

/** Deterministic pseudo-random bytes (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// Bytes a body may hold besides the alphabet: line breaks, other whitespace, junk, 8-bit bytes.
const OTHER = [0x0d, 0x0a, 0x20, 0x09, 0x0c, 0x2a, 0x21, 0x2e, 0x3a, 0x7b, 0x00, 0x80, 0xe9, 0xff];

/** What Node's decoder writes for raw[start, end) (the bytes base64Bytes returns), or 'declined'. */
function decoded(raw: Buffer, start = 0, end = raw.length): number | 'declined' {
  try {
    return base64Bytes(raw, start, end).length;
  } catch {
    return 'declined';
  }
}
function sized(raw: Buffer, start = 0, end = raw.length): number | 'declined' {
  try {
    return base64Size(raw, start, end);
  } catch {
    return 'declined';
  }
}

describe('base64 sizes without decoding', () => {
  it('equal the length Node’s decoder writes, for any mix of data, line breaks, junk and padding', () => {
    const r = rng(7);
    for (let k = 0; k < 3000; k++) {
      const len = Math.floor(r() * 200);
      const bytes: number[] = [];
      for (let i = 0; i < len; i++) {
        const x = r();
        bytes.push(x < 0.8 ? ALPHABET.charCodeAt(Math.floor(r() * 64)) : OTHER[Math.floor(r() * OTHER.length)]);
      }
      const pads = Math.floor(r() * 3);
      for (let i = 0; i < pads; i++) bytes.push(0x3d);
      if (r() < 0.3) bytes.push(0x0d, 0x0a);
      if (r() < 0.05) bytes.splice(Math.floor(r() * bytes.length), 0, 0x3d); // '=' inside: declined
      const raw = Buffer.from(bytes);
      expect(sized(raw), raw.toString('latin1')).toBe(decoded(raw));
      // Parts start anywhere in a message: any alignment of the range.
      const from = Math.floor(r() * Math.min(8, raw.length + 1));
      expect(sized(raw, from), raw.toString('latin1', from)).toBe(decoded(raw, from));
    }
  });

  it('count a MIME body of 76-character lines as its decoder does', () => {
    const data = Buffer.from(Array.from({ length: 100_003 }, (_, i) => (i * 7919) & 0xff));
    const body = Buffer.from(data.toString('base64').replace(/.{76}/g, '$&\r\n') + '\r\n', 'latin1');
    expect(base64Size(body, 0, body.length)).toBe(data.length);
    expect(base64Size(body, 10, body.length - 5)).toBe(base64Bytes(body, 10, body.length - 5).length);
  });
});
