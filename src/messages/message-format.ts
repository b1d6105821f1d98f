// What a stored message holds once decrypted, and the associated data that binds each ciphertext
// to its account, message and column (a ciphertext copied into another row or column fails to decrypt).

export interface AttachmentMeta {
  idx: number;
  filename: string | null;
  mimeType: string;
  size: number;
  /** Above the account's size limit: only this metadata is kept, not the content. */
  tooLarge: boolean;
}

export interface MessageMeta {
  subject: string | null;
  from: string | null;
  to: string[];
  cc: string[];
  /** Date header as ISO 8601 when it parses, else the raw header text. */
  date: string | null;
  messageId: string | null;
  attachments: AttachmentMeta[];
}

export interface MessageBody {
  text: string | null;
  html: string | null;
}

export const metaAad = (accountId: number, stableId: string) => `message-meta:${accountId}:${stableId}`;
export const bodyAad = (accountId: number, stableId: string) => `message-body:${accountId}:${stableId}`;
export const rawAad = (accountId: number, stableId: string) => `message-raw:${accountId}:${stableId}`;
export const attachmentAad = (accountId: number, stableId: string, idx: number) => `message-attachment:${accountId}:${stableId}:${idx}`;
