// The per-user data-encryption key (DEK) and its key slots. The DEK is never stored in clear:
// in the users table it is wrapped by the password-derived KEK, in a session by a key only the
// cookie holds, in a grant by the server secret.
import { createHash, randomBytes } from 'node:crypto';
import { decrypt, encrypt, newKey } from './aead.js';
import { deriveKek, newSalt, type Argon2Params } from './password.js';

export interface KeySlot {
  kekSalt: Buffer;
  wrappedDek: Buffer;
  keyId: string;
}

const DEK_AAD = 'dek-slot';

export function newKeyId(): string {
  return randomBytes(8).toString('hex');
}

/** A fresh DEK and its password slot. */
export async function createKeySlot(password: string, p: Argon2Params): Promise<{ dek: Buffer; slot: KeySlot }> {
  const dek = newKey();
  const kekSalt = newSalt();
  const kek = await deriveKek(password, kekSalt, p);
  return { dek, slot: { kekSalt, wrappedDek: encrypt(kek, dek, DEK_AAD), keyId: newKeyId() } };
}

/** Unwraps the DEK with the password; throws DecryptError when the password does not fit. */
export async function unlockKeySlot(password: string, kekSalt: Buffer, wrappedDek: Buffer, p: Argon2Params): Promise<Buffer> {
  const kek = await deriveKek(password, kekSalt, p);
  return decrypt(kek, wrappedDek, DEK_AAD, 'the account key');
}

/** Same DEK under a new password (password change): nothing else is re-encrypted. */
export async function rewrapKeySlot(dek: Buffer, newPassword: string, p: Argon2Params): Promise<{ kekSalt: Buffer; wrappedDek: Buffer }> {
  const kekSalt = newSalt();
  const kek = await deriveKek(newPassword, kekSalt, p);
  return { kekSalt, wrappedDek: encrypt(kek, dek, DEK_AAD) };
}

/** Wraps a DEK under a 32-byte key with a purpose label (session key, server secret). */
export function wrapDek(key: Buffer, dek: Buffer, purpose: string): Buffer {
  return encrypt(key, dek, `dek:${purpose}`);
}

export function unwrapDek(key: Buffer, wrapped: Buffer, purpose: string): Buffer {
  return decrypt(key, wrapped, `dek:${purpose}`, 'the account key');
}

/** A 32-byte key from any secret string (server secret, session token). */
export function keyFromSecret(secret: string, purpose: string): Buffer {
  return createHash('sha256').update(`mail-helper/${purpose}/`).update(secret).digest();
}

/** Credentials of a mail account, encrypted with the user's DEK. */
export const ACCOUNT_USERNAME_AAD = 'mail-account:username';
export const ACCOUNT_PASSWORD_AAD = 'mail-account:password';
