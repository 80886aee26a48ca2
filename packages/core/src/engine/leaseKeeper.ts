import type { Clock, TimerHandle } from '../clock';
import { SyncError } from '../errors';
import type { Lease, SyncStore } from '../store/syncStore';

export interface LeaseKeeperOptions {
  store: Pick<SyncStore, 'renewLease'>;
  lease: Lease;
  clock: Clock;
  /** Lease time-to-live requested on each heartbeat, in ms. */
  leaseMs: number;
  /** Time between heartbeats, in ms. */
  heartbeatMs: number;
  /** Time between two `tick`s, in ms. */
  tickMs: number;
  /** Between batches: the run's own periodic work (the ETA counting down in the store). */
  tick: () => Promise<void>;
  /** A heartbeat saw a cancel requested (possibly by another process). */
  onCancelRequested: () => void;
  /** The lease belongs to another worker now: the run must write nothing more. */
  onLeaseLost: () => void;
}

export interface LeaseKeeper {
  /** Clears both timers; nothing runs afterwards (a heartbeat in flight does not reschedule). */
  stop(): void;
}

/**
 * Keeps a claimed job's lease while it runs: renews it every `heartbeatMs` (which is also how a
 * cancel from another process is noticed) and calls the run's `tick` every `tickMs`. A store outage
 * is survived (the lease outlives several heartbeats); a lost lease is not.
 */
export function startLeaseKeeper(options: LeaseKeeperOptions): LeaseKeeper {
  const { clock } = options;
  let stopped = false;
  let heartbeatTimer: TimerHandle | null = null;
  let tickTimer: TimerHandle | null = null;

  const heartbeat = async () => {
    heartbeatTimer = null;
    try {
      const renewed = await options.store.renewLease(options.lease, options.leaseMs);
      if (renewed.cancelRequested) options.onCancelRequested();
    } catch (error) {
      if (isLeaseLost(error)) options.onLeaseLost();
    }
    if (!stopped) heartbeatTimer = clock.setTimeout(heartbeat, options.heartbeatMs);
  };

  const tick = async () => {
    tickTimer = null;
    await options.tick();
    if (!stopped) tickTimer = clock.setTimeout(tick, options.tickMs);
  };

  heartbeatTimer = clock.setTimeout(heartbeat, options.heartbeatMs);
  tickTimer = clock.setTimeout(tick, options.tickMs);

  return {
    stop() {
      stopped = true;
      if (heartbeatTimer !== null) clock.clearTimeout(heartbeatTimer);
      if (tickTimer !== null) clock.clearTimeout(tickTimer);
      heartbeatTimer = null;
      tickTimer = null;
    },
  };
}

/** True when a store write failed because this worker no longer holds the lease. */
export const isLeaseLost = (error: unknown): boolean => SyncError.fromUnknown(error).code === 'LEASE_LOST';
