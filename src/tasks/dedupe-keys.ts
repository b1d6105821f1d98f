// Dedupe keys: the store's unique index allows one live task per key.
/** One live sync per account, whoever started it (button, sync-all child, schedule, CLI). */
export function syncDedupeKey(accountId: number): string {
  return `sync:account:${accountId}`;
}

/** One live sync-all per user. */
export function syncAllDedupeKey(userId: number): string {
  return `sync:user:${userId}:all`;
}
