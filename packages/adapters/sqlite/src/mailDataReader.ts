import type { AccountKey, ListMessagesQuery, MailDataReader, MailLabel, MailMessage } from '@syncjob/core';
import { clampLimit, LIMITS } from '@syncjob/core/store';
import type { SqliteConnection, SqlRow } from './sqliteConnection';

/** Runs a read on the store's connection (opened, migrated and outside any other call's transaction). */
export type ReadOnConnection = <T>(read: (connection: SqliteConnection) => T) => Promise<T>;

const nullableNumber = (value: unknown): number | null => (value === null ? null : Number(value));
const nullableString = (value: unknown): string | null => (value === null ? null : String(value));

/** Optional fields that were not stored are left out, so a message reads back as it was written. */
function messageFromRow(row: SqlRow): MailMessage {
  const message: MailMessage = {
    id: String(row.id),
    threadId: nullableString(row.thread_id),
    historyId: nullableString(row.history_id),
    internalDate: nullableNumber(row.internal_date),
    labelIds: JSON.parse(String(row.label_ids)) as string[],
    snippet: nullableString(row.snippet),
    sizeEstimate: nullableNumber(row.size_estimate),
    headers: JSON.parse(String(row.headers)) as Record<string, string>,
    category: nullableString(row.category),
  };
  if (row.raw !== null) message.raw = String(row.raw);
  if (row.payload !== null) message.payload = JSON.parse(String(row.payload));
  return message;
}

function labelFromRow(row: SqlRow): MailLabel {
  const label: MailLabel = {
    id: String(row.id),
    name: String(row.name),
    type: row.type === 'system' ? 'system' : 'user',
  };
  if (row.messages_total !== null) label.messagesTotal = Number(row.messages_total);
  if (row.messages_unread !== null) label.messagesUnread = Number(row.messages_unread);
  return label;
}

/** Reads of the default sink's tables. */
export function createMailDataReader(read: ReadOnConnection): MailDataReader {
  return {
    listMessages(key: AccountKey, query: ListMessagesQuery = {}) {
      const limit = clampLimit(query.limit, LIMITS.messagesDefault, LIMITS.messagesMax);
      return read((connection) =>
        connection
          .all(
            `SELECT * FROM messages WHERE source = ? AND account_id = ? AND id > ? ORDER BY id LIMIT ?`,
            key.source,
            key.accountId,
            query.afterId ?? '',
            limit,
          )
          .map(messageFromRow),
      );
    },
    latestMessages(key: AccountKey, limit?: number) {
      const max = clampLimit(limit, LIMITS.messagesDefault, LIMITS.messagesMax);
      return read((connection) =>
        connection
          .all(
            `SELECT * FROM messages WHERE source = ? AND account_id = ?
             ORDER BY internal_date DESC, id DESC LIMIT ?`,
            key.source,
            key.accountId,
            max,
          )
          .map(messageFromRow),
      );
    },
    countMessages(key: AccountKey) {
      return read((connection) =>
        Number(
          connection.get(
            'SELECT COUNT(*) AS n FROM messages WHERE source = ? AND account_id = ?',
            key.source,
            key.accountId,
          )?.n ?? 0,
        ),
      );
    },
    listLabels(key: AccountKey) {
      return read((connection) =>
        connection
          .all(
            'SELECT * FROM labels WHERE source = ? AND account_id = ? ORDER BY id',
            key.source,
            key.accountId,
          )
          .map(labelFromRow),
      );
    },
  };
}
