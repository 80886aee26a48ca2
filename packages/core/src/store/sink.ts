import type { AccountKey } from '../job/job';

/**
 * A message as syncjob stores it (the default sink's `messages` table). Sources map their
 * provider's shape onto this one.
 */
export interface MailMessage {
  /** The provider's message id. */
  id: string;
  threadId: string | null;
  /** The provider's change marker for this message (Gmail `historyId`), when it has one. */
  historyId: string | null;
  /** When the provider received the message, epoch milliseconds. */
  internalDate: number | null;
  labelIds: string[];
  snippet: string | null;
  sizeEstimate: number | null;
  /** The selected headers (name → value), e.g. From, To, Subject, Date. */
  headers: Record<string, string>;
  /** The category the classify hook gave it, `null` when none ran. */
  category: string | null;
  /** The raw RFC 822 message (base64url), only when the source fetches `raw`. */
  raw?: string | null;
  /** The provider's full payload, only when the source fetches `full`. */
  payload?: unknown;
}

/** A label (folder) of the mailbox (the default sink's `labels` table). */
export interface MailLabel {
  id: string;
  name: string;
  /** `system` or `user`. */
  type: 'system' | 'user';
  messagesTotal?: number | null;
  messagesUnread?: number | null;
}

/** Labels added to and removed from one stored message (an incremental label change). */
export interface LabelChange {
  id: string;
  add: string[];
  remove: string[];
}

/**
 * What one batch writes. Every part is optional; all parts of one batch are written in the same
 * transaction as the checkpoint that covers them.
 */
export interface SinkWrite {
  /** Upserted by id: writing the same message twice leaves one row. */
  upsertMessages?: MailMessage[];
  /** Deleted by id; ids that are not stored are ignored. */
  deleteMessages?: string[];
  /** Label changes on stored messages; ids that are not stored are ignored. */
  changeLabels?: LabelChange[];
  /** Upserted by id. */
  upsertLabels?: MailLabel[];
  /** When set, every stored label whose id is not in this list is removed (labels gone from the mailbox). */
  keepOnlyLabels?: string[];
  /**
   * Stamps every message of `upsertMessages` with this generation (an opaque id a source picks for
   * one full sync, e.g. its first job id). A message upserted without one gets none (`null`), so a
   * message's generation is always that of the write that last upserted it. Label changes and
   * deletes do not touch it. Together with `pruneMessages` it lets a full sync remove what vanished
   * from the mailbox while no history was available. Only the default sink stores it; an app's sink
   * receives it and may do the same.
   */
  generation?: string;
  /**
   * Removes every stored message of the account whose generation is not `keepGeneration` (a message
   * with no generation included), after this write's upserts, label changes and deletes: the last
   * batch of a full sync sends it so the store holds exactly what that sync listed and stored. An
   * app's sink that ignores it keeps messages deleted from the mailbox for ever.
   */
  pruneMessages?: { keepGeneration: string };
}

/**
 * Where synced data goes. The store's default sink writes the `messages` and `labels` tables; an
 * app that wants the data in its own tables passes its own sink. `write` is called inside the
 * store's transaction for the batch (the same one that saves the checkpoint), with the store's
 * transaction handle: a `node:sqlite` `DatabaseSync` for SQLite, a `pg` `PoolClient` in a
 * transaction for PostgreSQL, a staging object for the memory store. If `write` throws, nothing of
 * the batch is committed.
 */
export interface SyncSink<TTx = unknown> {
  write(tx: TTx, account: AccountKey, write: SinkWrite): void | Promise<void>;
}

/** True when the write changes nothing (a `generation` alone stamps no message). */
export const isEmptySinkWrite = (write: SinkWrite | undefined): boolean =>
  !write ||
  (!write.upsertMessages?.length &&
    !write.deleteMessages?.length &&
    !write.changeLabels?.length &&
    !write.upsertLabels?.length &&
    write.keepOnlyLabels === undefined &&
    write.pruneMessages === undefined);
