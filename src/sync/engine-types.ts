// The engine's contract with its callers (CLI, tasks): what goes in, what comes out, progress as data.
import type { Logger } from 'pino';
import type { Store } from '../store/db.js';

export interface AccountSettings {
  id: number;
  userId: number;
  host: string;
  port: number;
  security: 'tls' | 'starttls' | 'none';
  /** Folder include/exclude lists (exact paths; '*' suffix matches a subtree). Empty include = all. */
  includeFolders: string[];
  excludeFolders: string[];
  /** YYYY-MM-DD or null */
  sinceDate: string | null;
  unseenOnly: boolean;
  maxEmails: number;
  /** SHA-256 fingerprint (hex, colon-free) of a certificate the user chose to trust. */
  tlsFingerprint: string | null;
}

export interface Credentials {
  username: string;
  password: string;
}

export type SyncPhase = 'connect' | 'folders' | 'state' | 'fetch' | 'reconcile' | 'done';

export interface SyncProgress {
  phase: SyncPhase;
  folder?: string;
  folderIndex?: number; // 1-based
  folderCount?: number;
  done?: number;
  total?: number;
}

export interface SyncStats {
  foldersScanned: number;
  onServer: number;
  new: number;
  fetched: number;
  moved: number;
  flagChanges: number;
  deleted: number;
  restored: number;
  remaining: number;
  bytesFetched: number;
  parseProblems: number;
  warnings: string[];
  durationsMs: { state: number; fetch: number; reconcile: number; total: number };
}

export interface SyncInput {
  store: Store;
  account: AccountSettings;
  credentials: Credentials;
  /** The user's DEK, unwrapped for this run only. */
  dek: Buffer;
  options?: { maxAttachmentBytes?: number; timeoutMs?: number };
  onProgress?: (p: SyncProgress) => void;
  signal?: AbortSignal;
  logger?: Logger;
}
