// Every task type's name, in one place (the seed's Celery task names, kept).
export const TaskName = {
  SyncUserEmails: 'sync_user_emails',
  SyncAllAccounts: 'sync_all_accounts',
  Ping: 'ping',
} as const;

export type TaskName = (typeof TaskName)[keyof typeof TaskName];
