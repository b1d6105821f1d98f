// The logical schema, identical on SQLite and PostgreSQL.
// Conventions (chosen so both dialects return the same JS values):
// timestamps are epoch milliseconds (BIGINT on PostgreSQL, parsed to number),
// booleans are 0/1 integers, JSON is text, encrypted data is BLOB/BYTEA (Buffer).
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  is_admin: number;
  /** argon2id salt for the key-encryption key; the DEK is stored only wrapped by that KEK. */
  kek_salt: Buffer;
  wrapped_dek: Buffer;
  /** Random id of the current DEK: changes when an admin reset creates a new key. */
  key_id: string;
  failed_logins: number;
  locked_until: number | null;
  created_at: number;
  updated_at: number;
}

export interface SessionsTable {
  /** SHA-256 of the session token; the token itself lives only in the cookie. */
  id: string;
  user_id: number;
  /** The DEK wrapped by a key derived from the cookie token. */
  wrapped_dek: Buffer | null;
  csrf_secret: string;
  flash: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

export interface MailAccountsTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  /** Host and port stay clear: the worker's connection errors and the UI need them without the key. */
  host: string;
  port: number;
  security: 'tls' | 'starttls' | 'none';
  username_enc: Buffer;
  password_enc: Buffer;
  include_folders: string;
  exclude_folders: string;
  since_date: string | null;
  unseen_only: number;
  max_emails: number;
  enabled: number;
  /** SHA-256 fingerprint of a certificate the user chose to trust for this account. */
  tls_fingerprint: string | null;
  /** Set when an admin reset replaced the user's key: credentials must be re-entered. */
  needs_password: number;
  sync_interval_minutes: number | null;
  last_sync_at: number | null;
  last_success_at: number | null;
  last_status: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface FoldersTable {
  id: Generated<number>;
  account_id: number;
  path: string;
  delimiter: string | null;
  special_use: string | null;
  uidvalidity: number | null;
  uidnext: number | null;
  /** Text: MODSEQ is a 63-bit number, beyond JavaScript's safe integers. */
  highestmodseq: string | null;
  status: 'active' | 'gone';
  last_synced_at: number | null;
}

/** Step 1's mirror of what the server holds, per folder and UID. */
export interface ServerMessagesTable {
  folder_id: number;
  uid: number;
  account_id: number;
  stable_id: string;
  flags: string;
  internal_date: number | null;
  size: number | null;
}

/** Stored messages: one row per stable id and account, wherever the message lives now. */
export interface MessagesTable {
  id: Generated<number>;
  user_id: number;
  account_id: number;
  stable_id: string;
  folder_id: number | null;
  uid: number | null;
  flags: string;
  /** Sent date (clear, for ordering); everything readable is in the encrypted columns. */
  sent_at: number | null;
  size: number | null;
  meta_enc: Buffer;
  body_enc: Buffer | null;
  raw_enc: Buffer | null;
  /**
   * Where the sealed raw source is instead of raw_enc: a pack file range on SQLite (src/store/blob-packs.ts),
   * a range of blob_chunks on PostgreSQL (src/store/blob-chunks.ts).
   */
  raw_ref: string | null;
  parse_error: string | null;
  has_skipped_attachments: number;
  deleted_at: number | null;
  created_at: number;
  updated_at: number;
}

/** Sync bookkeeping per account: 1 while state changes are not yet reconciled or messages remain to fetch. */
export interface SyncAccountStateTable {
  account_id: number;
  dirty: number;
  /** Hash of the filters the last clean run used: other filters may select other messages. */
  settings_hash: string | null;
  updated_at: number;
}

export interface AttachmentsTable {
  id: Generated<number>;
  message_id: number;
  idx: number;
  size: number;
  too_large: number;
  content_enc: Buffer | null;
}

export type TaskState = 'PENDING' | 'STARTED' | 'RETRY' | 'SUCCESS' | 'FAILURE' | 'REVOKED';

/** Task records: the history and state of every task in both queue modes. */
export interface TasksTable {
  id: string;
  type: string;
  user_id: number | null;
  account_id: number | null;
  parent_id: string | null;
  queue: 'local' | 'bullmq';
  state: TaskState;
  payload: string;
  progress: string | null;
  result: string | null;
  error: string | null;
  error_kind: string | null;
  error_stack: string | null;
  attempt: number;
  max_attempts: number;
  next_attempt_at: number | null;
  /** Set while a task is PENDING/STARTED/RETRY so that a unique index allows one live sync per account. */
  dedupe_key: string | null;
  grant_id: string | null;
  worker_id: string | null;
  lease_until: number | null;
  cancel_requested: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
}

export interface TaskAttemptsTable {
  id: Generated<number>;
  task_id: string;
  attempt: number;
  worker_id: string | null;
  started_at: number;
  finished_at: number | null;
  outcome: string | null;
  error: string | null;
  error_stack: string | null;
}

/** Sync grants: the DEK wrapped under the server secret, for jobs that run without the user. */
export interface GrantsTable {
  id: string;
  user_id: number;
  account_id: number | null;
  kind: 'task' | 'schedule';
  key_id: string;
  wrapped_dek: Buffer;
  expires_at: number;
  revoked_at: number | null;
  created_at: number;
}

export interface WorkersTable {
  id: string;
  host: string;
  pid: number;
  queue: string;
  concurrency: number;
  version: string;
  current_jobs: string;
  /** JSON list of the task types this worker has handlers for. */
  task_types: string;
  started_at: number;
  last_heartbeat_at: number;
}

/** Instance-wide settings changed at run time by an admin (key → text value). */
export interface AppSettingsTable {
  key: string;
  value: string;
  updated_at: number;
}

/** Sealed raw sources in page-sized pieces, on PostgreSQL (src/store/blob-chunks.ts; empty on SQLite). */
export interface BlobChunksTable {
  account_id: number;
  pack: number;
  seq: number;
  data: Buffer;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  mail_accounts: MailAccountsTable;
  folders: FoldersTable;
  server_messages: ServerMessagesTable;
  messages: MessagesTable;
  attachments: AttachmentsTable;
  blob_chunks: BlobChunksTable;
  sync_account_state: SyncAccountStateTable;
  tasks: TasksTable;
  task_attempts: TaskAttemptsTable;
  grants: GrantsTable;
  workers: WorkersTable;
  app_settings: AppSettingsTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type Session = Selectable<SessionsTable>;
export type MailAccount = Selectable<MailAccountsTable>;
export type NewMailAccount = Insertable<MailAccountsTable>;
export type MailAccountUpdate = Updateable<MailAccountsTable>;
export type Folder = Selectable<FoldersTable>;
export type Message = Selectable<MessagesTable>;
export type Task = Selectable<TasksTable>;
export type Grant = Selectable<GrantsTable>;
export type Worker = Selectable<WorkersTable>;
