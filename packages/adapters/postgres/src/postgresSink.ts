import type { AccountKey, LabelChange, MailLabel, MailMessage, SinkWrite, SyncSink } from '@syncjob/core';
import type pg from 'pg';
import { DEFAULT_SCHEMA, quoteSchema } from './migrations';

export interface PostgresSinkOptions {
  /** Schema holding the `messages` and `labels` tables (created by `migrate`). Default `'syncjob'`. */
  schema?: string;
}

/**
 * The default sink: writes batches to the store's `messages` and `labels` tables with the
 * transaction's client, so the data commits (or rolls back) with the checkpoint that covers it.
 * Exported so an app can wrap it (e.g. write to its own tables as well).
 */
export function createPostgresSink(options: PostgresSinkOptions = {}): SyncSink<pg.PoolClient> {
  const schema = quoteSchema(options.schema ?? DEFAULT_SCHEMA);
  const messages = `${schema}.messages`;
  const labels = `${schema}.labels`;

  async function upsertLabels(tx: pg.ClientBase, key: AccountKey, items: MailLabel[]): Promise<void> {
    await tx.query(
      `INSERT INTO ${labels} AS t (source, account_id, id, name, type, messages_total, messages_unread)
       SELECT $1, $2, l->>'id', l->>'name', l->>'type', (l->>'messagesTotal')::integer, (l->>'messagesUnread')::integer
       FROM jsonb_array_elements($3::jsonb) AS e(l)
       ON CONFLICT (source, account_id, id) DO UPDATE SET
         name = excluded.name, type = excluded.type,
         messages_total = excluded.messages_total, messages_unread = excluded.messages_unread`,
      [key.source, key.accountId, JSON.stringify(lastById(items))],
    );
  }

  async function upsertMessages(
    tx: pg.ClientBase,
    key: AccountKey,
    items: MailMessage[],
    generation: string | null,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO ${messages} AS t (source, account_id, id, thread_id, history_id, internal_date, label_ids,
         snippet, size_estimate, headers, category, raw, payload, generation)
       SELECT $1, $2, m->>'id', m->>'threadId', m->>'historyId', (m->>'internalDate')::bigint,
         coalesce(m->'labelIds', '[]'::jsonb), m->>'snippet', (m->>'sizeEstimate')::integer,
         coalesce(m->'headers', '{}'::jsonb), m->>'category', m->>'raw', nullif(m->'payload', 'null'::jsonb),
         $4::text
       FROM jsonb_array_elements($3::jsonb) AS e(m)
       ON CONFLICT (source, account_id, id) DO UPDATE SET
         thread_id = excluded.thread_id, history_id = excluded.history_id,
         internal_date = excluded.internal_date, label_ids = excluded.label_ids, snippet = excluded.snippet,
         size_estimate = excluded.size_estimate, headers = excluded.headers, category = excluded.category,
         raw = excluded.raw, payload = excluded.payload, generation = excluded.generation`,
      [key.source, key.accountId, JSON.stringify(lastById(items)), generation],
    );
  }

  async function changeLabels(tx: pg.ClientBase, key: AccountKey, changes: LabelChange[]): Promise<void> {
    const ids = [...new Set(changes.map((change) => change.id))];
    // Lock the rows first: the new label list is computed from the current one.
    const { rows } = await tx.query<{ id: string; label_ids: string[] }>(
      `SELECT id, label_ids FROM ${messages}
       WHERE source = $1 AND account_id = $2 AND id = ANY($3::text[]) FOR UPDATE`,
      [key.source, key.accountId, ids],
    );
    if (rows.length === 0) return;
    const current = new Map(rows.map((row) => [row.id, row.label_ids]));
    for (const change of changes) {
      const labelIds = current.get(change.id);
      if (labelIds) current.set(change.id, applyLabelChange(labelIds, change));
    }
    await tx.query(
      `UPDATE ${messages} AS t SET label_ids = c.value->'labelIds'
       FROM jsonb_array_elements($3::jsonb) AS c(value)
       WHERE t.source = $1 AND t.account_id = $2 AND t.id = c.value->>'id'`,
      [key.source, key.accountId, JSON.stringify([...current].map(([id, labelIds]) => ({ id, labelIds })))],
    );
  }

  return {
    // The same order as the memory store: upserts, label changes, deletes, labels, then the prune.
    async write(tx, key, write: SinkWrite) {
      if (write.upsertMessages?.length) {
        await upsertMessages(tx, key, write.upsertMessages, write.generation ?? null);
      }
      if (write.changeLabels?.length) await changeLabels(tx, key, write.changeLabels);
      if (write.deleteMessages?.length) {
        await tx.query(
          `DELETE FROM ${messages} WHERE source = $1 AND account_id = $2 AND id = ANY($3::text[])`,
          [key.source, key.accountId, write.deleteMessages],
        );
      }
      if (write.upsertLabels?.length) await upsertLabels(tx, key, write.upsertLabels);
      if (write.keepOnlyLabels !== undefined) {
        await tx.query(
          `DELETE FROM ${labels} WHERE source = $1 AND account_id = $2 AND NOT (id = ANY($3::text[]))`,
          [key.source, key.accountId, write.keepOnlyLabels],
        );
      }
      if (write.pruneMessages !== undefined) {
        await tx.query(
          `DELETE FROM ${messages} WHERE source = $1 AND account_id = $2 AND generation IS DISTINCT FROM $3`,
          [key.source, key.accountId, write.pruneMessages.keepGeneration],
        );
      }
    },
  };
}

/**
 * Removes, then adds (keeping the existing order, never duplicating a label); a label both added and
 * removed ends up removed, as in the other stores.
 */
function applyLabelChange(labelIds: readonly string[], change: LabelChange): string[] {
  const removed = new Set(change.remove);
  const next = labelIds.filter((id) => !removed.has(id));
  for (const id of change.add) if (!next.includes(id) && !removed.has(id)) next.push(id);
  return next;
}

/** One row per id (the last wins): `ON CONFLICT DO UPDATE` cannot touch a row twice in one statement. */
function lastById<T extends { id: string }>(items: readonly T[]): T[] {
  return [...new Map(items.map((item) => [item.id, item])).values()];
}
