/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists */
import { sql, type Kysely } from 'kysely';
import { columnTypes, type Migration } from './types.js';

export const initial: Migration = {
  name: '0001-initial',
  async up(db: Kysely<any>, dialect) {
    const t = columnTypes(dialect);
    const id = (c: import('kysely').ColumnDefinitionBuilder) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement());

    await db.schema
      .createTable('users')
      .addColumn('id', t.id, id)
      .addColumn('username', 'text', (c) => c.notNull().unique())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('kek_salt', t.blob, (c) => c.notNull())
      .addColumn('wrapped_dek', t.blob, (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('locked_until', t.bigint)
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('updated_at', t.bigint, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', t.bigint, (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('wrapped_dek', t.blob)
      .addColumn('csrf_secret', 'text', (c) => c.notNull())
      .addColumn('flash', 'text')
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('last_seen_at', t.bigint, (c) => c.notNull())
      .addColumn('expires_at', t.bigint, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();

    await db.schema
      .createTable('mail_accounts')
      .addColumn('id', t.id, id)
      .addColumn('user_id', t.bigint, (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('host', 'text', (c) => c.notNull())
      .addColumn('port', 'integer', (c) => c.notNull())
      .addColumn('security', 'text', (c) => c.notNull())
      .addColumn('username_enc', t.blob, (c) => c.notNull())
      .addColumn('password_enc', t.blob, (c) => c.notNull())
      .addColumn('include_folders', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('exclude_folders', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('since_date', 'text')
      .addColumn('unseen_only', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('max_emails', 'integer', (c) => c.notNull().defaultTo(50))
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('tls_fingerprint', 'text')
      .addColumn('needs_password', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('sync_interval_minutes', 'integer')
      .addColumn('last_sync_at', t.bigint)
      .addColumn('last_success_at', t.bigint)
      .addColumn('last_status', 'text')
      .addColumn('last_error', 'text')
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('updated_at', t.bigint, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('mail_accounts_user').on('mail_accounts').column('user_id').execute();

    await db.schema
      .createTable('folders')
      .addColumn('id', t.id, id)
      .addColumn('account_id', t.bigint, (c) => c.notNull().references('mail_accounts.id').onDelete('cascade'))
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('delimiter', 'text')
      .addColumn('special_use', 'text')
      .addColumn('uidvalidity', t.bigint)
      .addColumn('uidnext', t.bigint)
      .addColumn('highestmodseq', 'text')
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
      .addColumn('last_synced_at', t.bigint)
      .addUniqueConstraint('folders_account_path', ['account_id', 'path'])
      .execute();

    await db.schema
      .createTable('server_messages')
      .addColumn('folder_id', t.bigint, (c) => c.notNull().references('folders.id').onDelete('cascade'))
      .addColumn('uid', t.bigint, (c) => c.notNull())
      .addColumn('account_id', t.bigint, (c) => c.notNull().references('mail_accounts.id').onDelete('cascade'))
      .addColumn('stable_id', 'text', (c) => c.notNull())
      .addColumn('flags', 'text', (c) => c.notNull())
      .addColumn('internal_date', t.bigint)
      .addColumn('size', t.bigint)
      .addPrimaryKeyConstraint('server_messages_pk', ['folder_id', 'uid'])
      .execute();
    await db.schema.createIndex('server_messages_stable').on('server_messages').columns(['account_id', 'stable_id']).execute();

    await db.schema
      .createTable('messages')
      .addColumn('id', t.id, id)
      .addColumn('user_id', t.bigint, (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('account_id', t.bigint, (c) => c.notNull().references('mail_accounts.id').onDelete('cascade'))
      .addColumn('stable_id', 'text', (c) => c.notNull())
      .addColumn('folder_id', t.bigint, (c) => c.references('folders.id').onDelete('set null'))
      .addColumn('uid', t.bigint)
      .addColumn('flags', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('sent_at', t.bigint)
      .addColumn('size', t.bigint)
      .addColumn('meta_enc', t.blob, (c) => c.notNull())
      .addColumn('body_enc', t.blob)
      .addColumn('raw_enc', t.blob)
      .addColumn('parse_error', 'text')
      .addColumn('has_skipped_attachments', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('deleted_at', t.bigint)
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('updated_at', t.bigint, (c) => c.notNull())
      .addUniqueConstraint('messages_account_stable', ['account_id', 'stable_id'])
      .execute();
    await db.schema.createIndex('messages_user_sent').on('messages').columns(['user_id', 'sent_at']).execute();
    await db.schema.createIndex('messages_folder_uid').on('messages').columns(['folder_id', 'uid']).execute();

    await db.schema
      .createTable('attachments')
      .addColumn('id', t.id, id)
      .addColumn('message_id', t.bigint, (c) => c.notNull().references('messages.id').onDelete('cascade'))
      .addColumn('idx', 'integer', (c) => c.notNull())
      .addColumn('size', t.bigint, (c) => c.notNull())
      .addColumn('too_large', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('content_enc', t.blob)
      .addUniqueConstraint('attachments_message_idx', ['message_id', 'idx'])
      .execute();

    await db.schema
      .createTable('tasks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('user_id', t.bigint, (c) => c.references('users.id').onDelete('cascade'))
      .addColumn('account_id', t.bigint)
      .addColumn('parent_id', 'text')
      .addColumn('queue', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('progress', 'text')
      .addColumn('result', 'text')
      .addColumn('error', 'text')
      .addColumn('error_kind', 'text')
      .addColumn('error_stack', 'text')
      .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('max_attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', t.bigint)
      .addColumn('dedupe_key', 'text')
      .addColumn('grant_id', 'text')
      .addColumn('worker_id', 'text')
      .addColumn('lease_until', t.bigint)
      .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('started_at', t.bigint)
      .addColumn('finished_at', t.bigint)
      .addColumn('updated_at', t.bigint, (c) => c.notNull())
      .execute();
    // One live task per dedupe key (one sync per account): the store enforces it, not a race-prone check.
    await db.schema
      .createIndex('tasks_dedupe')
      .on('tasks')
      .column('dedupe_key')
      .unique()
      .where(sql.ref('dedupe_key'), 'is not', null)
      .execute();
    await db.schema.createIndex('tasks_user_created').on('tasks').columns(['user_id', 'created_at']).execute();
    await db.schema.createIndex('tasks_state_next').on('tasks').columns(['state', 'next_attempt_at']).execute();
    await db.schema.createIndex('tasks_parent').on('tasks').column('parent_id').execute();

    await db.schema
      .createTable('task_attempts')
      .addColumn('id', t.id, id)
      .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('worker_id', 'text')
      .addColumn('started_at', t.bigint, (c) => c.notNull())
      .addColumn('finished_at', t.bigint)
      .addColumn('outcome', 'text')
      .addColumn('error', 'text')
      .addColumn('error_stack', 'text')
      .execute();
    await db.schema.createIndex('task_attempts_task').on('task_attempts').column('task_id').execute();

    await db.schema
      .createTable('grants')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', t.bigint, (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('account_id', t.bigint)
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('wrapped_dek', t.blob, (c) => c.notNull())
      .addColumn('expires_at', t.bigint, (c) => c.notNull())
      .addColumn('revoked_at', t.bigint)
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('workers')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('host', 'text', (c) => c.notNull())
      .addColumn('pid', 'integer', (c) => c.notNull())
      .addColumn('queue', 'text', (c) => c.notNull())
      .addColumn('concurrency', 'integer', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('current_jobs', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('started_at', t.bigint, (c) => c.notNull())
      .addColumn('last_heartbeat_at', t.bigint, (c) => c.notNull())
      .execute();
  },
};
