import type { DatabaseSync } from 'node:sqlite';
import type { AccountKey, LabelChange, MailLabel, MailMessage, SinkWrite, SyncSink } from '@syncjob/core';
import { SqliteConnection } from './sqliteConnection';

/** Statement caches per connection, so a sink used on many batches prepares each statement once. */
const connections = new WeakMap<DatabaseSync, SqliteConnection>();
const connectionOf = (db: DatabaseSync): SqliteConnection => {
  let connection = connections.get(db);
  if (!connection) {
    connection = new SqliteConnection(db);
    connections.set(db, connection);
  }
  return connection;
};

const UPSERT_MESSAGE = `
  INSERT INTO messages (source, account_id, id, thread_id, history_id, internal_date, label_ids, snippet,
    size_estimate, headers, category, raw, payload, generation)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (source, account_id, id) DO UPDATE SET
    thread_id = excluded.thread_id, history_id = excluded.history_id,
    internal_date = excluded.internal_date, label_ids = excluded.label_ids, snippet = excluded.snippet,
    size_estimate = excluded.size_estimate, headers = excluded.headers, category = excluded.category,
    raw = excluded.raw, payload = excluded.payload, generation = excluded.generation`;

const UPSERT_LABEL = `
  INSERT INTO labels (source, account_id, id, name, type, messages_total, messages_unread)
  VALUES (?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (source, account_id, id) DO UPDATE SET
    name = excluded.name, type = excluded.type,
    messages_total = excluded.messages_total, messages_unread = excluded.messages_unread`;

function upsertMessage(
  connection: SqliteConnection,
  account: AccountKey,
  message: MailMessage,
  generation: string | null,
): void {
  connection.run(
    UPSERT_MESSAGE,
    account.source,
    account.accountId,
    message.id,
    message.threadId,
    message.historyId,
    message.internalDate,
    JSON.stringify(message.labelIds),
    message.snippet,
    message.sizeEstimate,
    JSON.stringify(message.headers),
    message.category,
    message.raw ?? null,
    message.payload === undefined ? null : JSON.stringify(message.payload),
    generation,
  );
}

function changeLabels(connection: SqliteConnection, account: AccountKey, change: LabelChange): void {
  const row = connection.get(
    'SELECT label_ids FROM messages WHERE source = ? AND account_id = ? AND id = ?',
    account.source,
    account.accountId,
    change.id,
  );
  if (!row) return;
  const removed = new Set(change.remove);
  const labelIds = (JSON.parse(String(row.label_ids)) as string[]).filter((id) => !removed.has(id));
  for (const id of change.add) {
    if (!removed.has(id) && !labelIds.includes(id)) labelIds.push(id);
  }
  connection.run(
    'UPDATE messages SET label_ids = ? WHERE source = ? AND account_id = ? AND id = ?',
    JSON.stringify(labelIds),
    account.source,
    account.accountId,
    change.id,
  );
}

function upsertLabel(connection: SqliteConnection, account: AccountKey, label: MailLabel): void {
  connection.run(
    UPSERT_LABEL,
    account.source,
    account.accountId,
    label.id,
    label.name,
    label.type,
    label.messagesTotal ?? null,
    label.messagesUnread ?? null,
  );
}

/**
 * The sink a store uses when it is given none: it writes the `messages` and `labels` tables of the
 * same database. Every write is an idempotent upsert, so a batch fetched again after a crash leaves
 * one row per message. Labels are written first, then messages, label changes and deletes, so a
 * batch that upserts and deletes one message ends with it deleted; the prune comes last, so it keeps
 * the batch's own upserts.
 *
 * Exported so an app sink can also keep the default tables: call `defaultSqliteSink.write(tx, …)`
 * from its own `write`.
 */
export const defaultSqliteSink: SyncSink<DatabaseSync> = {
  write(tx, account, write: SinkWrite) {
    const connection = connectionOf(tx);
    for (const label of write.upsertLabels ?? []) upsertLabel(connection, account, label);
    if (write.keepOnlyLabels !== undefined) {
      connection.run(
        'DELETE FROM labels WHERE source = ? AND account_id = ? AND id NOT IN (SELECT value FROM json_each(?))',
        account.source,
        account.accountId,
        JSON.stringify(write.keepOnlyLabels),
      );
    }
    const generation = write.generation ?? null;
    for (const message of write.upsertMessages ?? []) upsertMessage(connection, account, message, generation);
    for (const change of write.changeLabels ?? []) changeLabels(connection, account, change);
    for (const id of write.deleteMessages ?? []) {
      connection.run(
        'DELETE FROM messages WHERE source = ? AND account_id = ? AND id = ?',
        account.source,
        account.accountId,
        id,
      );
    }
    if (write.pruneMessages !== undefined) {
      connection.run(
        'DELETE FROM messages WHERE source = ? AND account_id = ? AND generation IS NOT ?',
        account.source,
        account.accountId,
        write.pruneMessages.keepGeneration,
      );
    }
  },
};
