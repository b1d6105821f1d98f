import type { Migration } from './types.js';

/**
 * The message list counts and pages a user's live messages. On SQLite a message row holds its sealed
 * raw source (~30 KB: a leaf page and an overflow page each), and deleted_at lies behind it, so counting
 * through (user_id, sent_at) read the whole store: 13,000 messages took 330 ms from disk, every page
 * view. These indexes hold every column the count and the page's id query touch, so neither reads a
 * row; the list then reads only the rows it shows.
 */
export const messageListIndexes: Migration = {
  name: '0040-message-list-indexes',
  async up(db) {
    await db.schema
      .createIndex('messages_user_live')
      .on('messages')
      .columns(['user_id', 'deleted_at', 'sent_at', 'account_id', 'folder_id'])
      .execute();
    await db.schema
      .createIndex('messages_folder_live')
      .on('messages')
      .columns(['folder_id', 'deleted_at', 'sent_at', 'user_id', 'account_id'])
      .execute();
    // Its every use is served by messages_user_live, which starts with the same column.
    await db.schema.dropIndex('messages_user_sent').execute();
  },
};
