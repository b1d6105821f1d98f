// The sealed envelope ([version][nonce][tag][ciphertext]): whole or in pieces it is the same format,
// opened by the one decrypt(), and bound to its associated data.
import { describe, expect, it } from 'vitest';
import { decrypt, DecryptError, encrypt, encryptPieces, joinPieces, newKey } from '../../../src/crypto/aead.js';

describe('aead', () => {
  const key = newKey();
  const plain = Buffer.alloc(100_000, 'x');

  it('an envelope in pieces is the head and the ciphertext of an envelope, opened as one', () => {
    const [head, body] = encryptPieces(key, plain, 'message-raw:1:a');
    expect(head.length).toBe(29);
    expect(head[0]).toBe(1);
    expect(body.length).toBe(plain.length);
    expect(decrypt(key, joinPieces([head, body]), 'message-raw:1:a').equals(plain)).toBe(true);
    // The same layout as encrypt(): each opens the other's way, and nonces are fresh each time.
    const whole = encrypt(key, plain, 'message-raw:1:a');
    expect(whole.length).toBe(head.length + body.length);
    expect(whole.subarray(1, 13).equals(head.subarray(1, 13))).toBe(false);
    expect(decrypt(key, whole, 'message-raw:1:a').equals(plain)).toBe(true);
  });

  it('a changed byte, other associated data or another key does not open', () => {
    const sealed = joinPieces(encryptPieces(key, 'secret', 'message-meta:1:a'));
    expect(decrypt(key, sealed, 'message-meta:1:a').toString()).toBe('secret');
    expect(() => decrypt(key, sealed, 'message-meta:1:b')).toThrow(DecryptError);
    expect(() => decrypt(newKey(), sealed, 'message-meta:1:a')).toThrow(DecryptError);
    for (const at of [5, 20, sealed.length - 1]) {
      const bent = Buffer.from(sealed);
      bent[at] ^= 1;
      expect(() => decrypt(key, bent, 'message-meta:1:a')).toThrow(DecryptError);
    }
  });

  it('joining one piece returns it as it is', () => {
    const one = Buffer.from('only');
    expect(joinPieces([one])).toBe(one);
  });
});
