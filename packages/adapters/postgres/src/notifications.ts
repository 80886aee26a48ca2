import type { StoreNotice } from '@syncjob/core';
import type pg from 'pg';

/** A notice plus what identifies this version of the job, so the polling fallback can de-duplicate. */
export interface VersionedNotice extends StoreNotice {
  /** Changes on every write of the job (its `updated_at` in epoch microseconds). */
  version: string;
}

export interface NoticeChannelOptions {
  /** Channel name for LISTEN/NOTIFY (quoted as an identifier). */
  channel: string;
  /** This store instance's id, carried in each NOTIFY payload so it skips its own notices. */
  origin: string;
  /** A new, unconnected client for the dedicated listener connection. */
  createClient: () => pg.Client;
  /**
   * Jobs changed since `sinceMs` (database clock) and the database's "now"; used while the listener
   * connection is down. `sinceMs` is `null` on the first poll of an outage.
   */
  poll: (sinceMs: number | null) => Promise<{ now: number; notices: VersionedNotice[] }>;
  pollIntervalMs: number;
  onError: (error: unknown) => void;
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 10_000;
/** Polls look back this far before the previous poll: a transaction that started earlier may commit late. */
const POLL_OVERLAP_MS = 5_000;

/**
 * Delivers store notices to this process's subscribers: its own writes directly (after they
 * commit), other processes' writes through a dedicated LISTEN connection. The listener is opened
 * on the first subscriber; when it drops, it reconnects with exponential back-off and, meanwhile,
 * polls the jobs table so no change goes unnoticed.
 */
export class NoticeChannel {
  private readonly listeners = new Set<(notice: StoreNotice) => void>();
  /** job id → last delivered version, to drop duplicates between direct, NOTIFY and polled notices. */
  private readonly delivered = new Map<string, { key: string; at: number }>();
  private client: pg.Client | null = null;
  private listening = false;
  private closed = false;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private pollSince: number | null = null;

  constructor(private readonly options: NoticeChannelOptions) {}

  /** True while the LISTEN connection is up (exposed for tests and health checks). */
  get isListening(): boolean {
    return this.listening;
  }

  subscribe(listener: (notice: StoreNotice) => void): () => void {
    this.listeners.add(listener);
    if (!this.client && !this.reconnectTimer && !this.closed) this.connect();
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Delivers a change made by this store instance (called after its transaction committed). */
  deliverLocal(notice: VersionedNotice): void {
    this.deliver(notice);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.reconnectTimer = null;
    this.pollTimer = null;
    const client = this.client;
    this.client = null;
    this.listening = false;
    if (client) await client.end().catch(() => {});
  }

  private deliver(notice: VersionedNotice): void {
    if (this.listeners.size === 0) return;
    const key = `${notice.status}:${notice.lastLogSeq}:${notice.version}`;
    if (this.delivered.get(notice.jobId)?.key === key) return;
    this.delivered.set(notice.jobId, { key, at: Date.now() });
    this.prune();
    const plain: StoreNotice = { jobId: notice.jobId, status: notice.status, lastLogSeq: notice.lastLogSeq };
    for (const listener of [...this.listeners]) {
      try {
        listener(plain);
      } catch (error) {
        this.options.onError(error);
      }
    }
  }

  private prune(): void {
    if (this.delivered.size < 10_000) return;
    const cutoff = Date.now() - 60_000;
    for (const [jobId, entry] of this.delivered) if (entry.at < cutoff) this.delivered.delete(jobId);
  }

  private connect(): void {
    const client = this.options.createClient();
    this.client = client;
    let failed = false;
    const onDown = (error?: unknown) => {
      if (failed) return;
      failed = true;
      if (error) this.options.onError(error);
      if (this.client === client) this.client = null;
      this.listening = false;
      client.end().catch(() => {});
      if (this.closed) return;
      this.startPolling();
      this.scheduleReconnect();
    };
    client.on('error', onDown);
    client.on('end', () => onDown());
    client.on('notification', (message) => {
      if (message.channel !== this.options.channel || !message.payload) return;
      const notice = parsePayload(message.payload);
      if (notice && notice.origin !== this.options.origin) this.deliver(notice);
    });
    client
      .connect()
      .then(() => client.query(`LISTEN "${this.options.channel}"`))
      .then(async () => {
        if (this.closed) {
          await client.end().catch(() => {});
          return;
        }
        this.listening = true;
        this.reconnectDelay = RECONNECT_MIN_MS;
        // One last poll covers what changed between the outage and the LISTEN taking effect.
        if (this.pollTimer || this.pollSince !== null) {
          this.stopPolling();
          await this.pollOnce();
          this.pollSince = null;
        }
      })
      .catch(onDown);
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closed && !this.client) this.connect();
    }, delay);
    this.reconnectTimer.unref?.();
  }

  private startPolling(): void {
    if (this.pollTimer || this.closed) return;
    const tick = async () => {
      await this.pollOnce();
      if (this.closed || this.listening) {
        this.pollTimer = null;
        return;
      }
      this.pollTimer = setTimeout(tick, this.options.pollIntervalMs);
      this.pollTimer.unref?.();
    };
    this.pollTimer = setTimeout(tick, 0);
    this.pollTimer.unref?.();
  }

  private stopPolling(): void {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  private async pollOnce(): Promise<void> {
    try {
      const since = this.pollSince === null ? null : this.pollSince - POLL_OVERLAP_MS;
      const { now, notices } = await this.options.poll(since);
      this.pollSince = now;
      for (const notice of notices) this.deliver(notice);
    } catch (error) {
      this.options.onError(error);
    }
  }
}

interface NotifyPayload extends VersionedNotice {
  origin: string;
}

/** Payload written by `pg_notify` in the store's statements: `{ o, j, s, q, v }`. */
function parsePayload(payload: string): NotifyPayload | null {
  try {
    const value = JSON.parse(payload) as { o?: unknown; j?: unknown; s?: unknown; q?: unknown; v?: unknown };
    if (typeof value.j !== 'string' || typeof value.s !== 'string') return null;
    return {
      origin: String(value.o),
      jobId: value.j,
      status: value.s as StoreNotice['status'],
      lastLogSeq: Number(value.q),
      version: String(value.v),
    };
  } catch {
    return null;
  }
}
