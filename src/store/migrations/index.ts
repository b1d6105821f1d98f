// Migrations in order. Append only: a released migration never changes.
import { initial } from './0001-initial.js';
import { appSettings } from './0002-app-settings.js';
import { syncUniqueStableId } from './0010-sync-unique-stable-id.js';
import { syncAccountState } from './0011-sync-account-state.js';
import { workerTaskTypes } from './0030-worker-task-types.js';
import { messageListIndexes } from './0040-message-list-indexes.js';
import { messageRawRef } from './0050-message-raw-ref.js';
import { sealedColumnsUncompressed } from './0060-sealed-columns-uncompressed.js';
import { blobChunks } from './0070-blob-chunks.js';
import type { Migration } from './types.js';

export const migrations: readonly Migration[] = [
  initial,
  appSettings,
  syncUniqueStableId,
  syncAccountState,
  workerTaskTypes,
  messageListIndexes,
  messageRawRef,
  sealedColumnsUncompressed,
  blobChunks,
];
