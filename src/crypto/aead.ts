// AES-256-GCM with a versioned envelope: [version=1][12-byte nonce][16-byte tag][ciphertext].
// Associated data binds a ciphertext to its purpose/row so it cannot be swapped into another column.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const VERSION = 1;
const NONCE_LEN = 12;
const TAG_LEN = 16;
const HEADER_LEN = 1 + NONCE_LEN + TAG_LEN;

/** Decryption failed: wrong key, tampered data or not our format. Never returns garbage. */
export class DecryptError extends Error {
  readonly kind = 'permanent' as const;
  constructor(what = 'data') {
    super(`Cannot decrypt ${what}: the key is wrong or the data was changed.`);
    this.name = 'DecryptError';
  }
}

export function newKey(): Buffer {
  return randomBytes(32);
}

// Nonces come from the CSPRNG in bulk: one randomBytes call per message part cost more than the
// AES itself when a sync seals hundreds of thousands of parts.
const NONCE_POOL = 4096 * NONCE_LEN;
let noncePool = Buffer.alloc(0);
let nonceAt = 0;

function freshNonce(): Buffer {
  if (nonceAt + NONCE_LEN > noncePool.length) {
    noncePool = randomBytes(NONCE_POOL);
    nonceAt = 0;
  }
  const nonce = noncePool.subarray(nonceAt, nonceAt + NONCE_LEN);
  nonceAt += NONCE_LEN;
  return nonce;
}

/**
 * The envelope in two pieces, [version][nonce][tag] and the ciphertext, whose concatenation is what
 * encrypt() returns: a writer that takes pieces (the pack files' writev) spares copying a large
 * message's ciphertext once more only to join them.
 */
export function encryptPieces(key: Buffer, plaintext: Buffer | string, aad?: string): [Buffer, Buffer] {
  if (key.length !== 32) throw new Error('encryption key must be 32 bytes');
  const nonce = freshNonce();
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  if (aad) cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext);
  cipher.final(); // GCM is a stream mode: final() adds no bytes, it computes the tag
  const head = Buffer.allocUnsafe(HEADER_LEN);
  head[0] = VERSION;
  nonce.copy(head, 1);
  cipher.getAuthTag().copy(head, 1 + NONCE_LEN);
  return [head, body];
}

export function encrypt(key: Buffer, plaintext: Buffer | string, aad?: string): Buffer {
  return Buffer.concat(encryptPieces(key, plaintext, aad));
}

/** An envelope from its pieces, copied only if there are several. */
export function joinPieces(pieces: readonly Buffer[]): Buffer {
  return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
}

export function decrypt(key: Buffer, envelope: Buffer, aad?: string, what?: string): Buffer {
  if (envelope.length < HEADER_LEN || envelope[0] !== VERSION || key.length !== 32) throw new DecryptError(what);
  const nonce = envelope.subarray(1, 1 + NONCE_LEN);
  const tag = envelope.subarray(1 + NONCE_LEN, HEADER_LEN);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    if (aad) decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(envelope.subarray(HEADER_LEN)), decipher.final()]);
  } catch {
    throw new DecryptError(what);
  }
}

export function encryptJson(key: Buffer, value: unknown, aad?: string): Buffer {
  return encrypt(key, JSON.stringify(value), aad);
}

export function decryptJson<T>(key: Buffer, envelope: Buffer, aad?: string, what?: string): T {
  return JSON.parse(decrypt(key, envelope, aad, what).toString('utf8')) as T;
}

export function decryptText(key: Buffer, envelope: Buffer, aad?: string, what?: string): string {
  return decrypt(key, envelope, aad, what).toString('utf8');
}

/** A sub-key for one purpose (e.g. the stable-id hash key), so the DEK itself is used only for AEAD. */
export function deriveSubkey(key: Buffer, purpose: string): Buffer {
  return createHmac('sha256', key).update(`mail-helper/${purpose}`).digest();
}

/** Keyed hash (HMAC-SHA-256, hex): equal inputs give equal ids without revealing the input. */
export function keyedHash(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}
