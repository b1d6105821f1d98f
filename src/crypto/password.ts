// Passwords and key-encryption keys, both argon2id (@node-rs/argon2: prebuilt, no compile).
import { hash, hashRaw, verify, type Algorithm } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';

export interface Argon2Params {
  /** KiB */
  memoryCost: number;
  timeCost: number;
}

const ARGON2ID = 2 as Algorithm; // const enum in the typings, absent at run time

export function hashPassword(password: string, p: Argon2Params): Promise<string> {
  return hash(password, { algorithm: ARGON2ID, memoryCost: p.memoryCost, timeCost: p.timeCost, parallelism: 1 });
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

export function newSalt(): Buffer {
  return randomBytes(16);
}

/** KEK = argon2id(password, per-user salt): it exists only while a request holds the password. */
export function deriveKek(password: string, salt: Buffer, p: Argon2Params): Promise<Buffer> {
  return hashRaw(password, { algorithm: ARGON2ID, memoryCost: p.memoryCost, timeCost: p.timeCost, parallelism: 1, salt, outputLen: 32 });
}
