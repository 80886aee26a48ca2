import { HttpError } from './httpError';

/** Defaults of the stream limits of `createSyncHandler`. */
export const STREAM_LIMIT_DEFAULTS = { maxStreams: 1000, maxStreamsPerPrincipal: 8 } as const;

/** Seconds a client refused a stream should wait (its tabs close, or the streams reach their lifetime). */
export const STREAM_RETRY_AFTER_SECONDS = 10;

/** A string or number principal as it is, anything else as its JSON. */
export function defaultPrincipalKey(principal: unknown): string {
  if (typeof principal === 'string') return principal;
  if (typeof principal === 'number' || typeof principal === 'bigint') return String(principal);
  try {
    return JSON.stringify(principal) ?? String(principal);
  } catch {
    return String(principal);
  }
}

export interface StreamSlots {
  /** Takes a slot for the principal or throws 429 `TOO_MANY_STREAMS`; the function releases it (idempotent). */
  acquire(key: string): () => void;
  /** Open streams: in total, and of one principal. */
  count(key?: string): number;
}

/** Counts open event streams, per principal and in total. */
export function createStreamSlots(limits: {
  maxStreams: number;
  maxStreamsPerPrincipal: number;
}): StreamSlots {
  let total = 0;
  const byKey = new Map<string, number>();
  const tooMany = (message: string) =>
    new HttpError(429, 'TOO_MANY_STREAMS', message, { 'retry-after': String(STREAM_RETRY_AFTER_SECONDS) });
  return {
    acquire(key) {
      const mine = byKey.get(key) ?? 0;
      if (mine >= limits.maxStreamsPerPrincipal) {
        throw tooMany(
          `You already have ${mine} live progress streams open (the limit is ${limits.maxStreamsPerPrincipal}). Close other tabs, or retry in ${STREAM_RETRY_AFTER_SECONDS} seconds.`,
        );
      }
      if (total >= limits.maxStreams) {
        throw tooMany(
          `The server has too many live progress streams open. Retry in ${STREAM_RETRY_AFTER_SECONDS} seconds.`,
        );
      }
      total += 1;
      byKey.set(key, mine + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        total -= 1;
        const left = (byKey.get(key) ?? 1) - 1;
        if (left <= 0) byKey.delete(key);
        else byKey.set(key, left);
      };
    },
    count(key) {
      return key === undefined ? total : (byKey.get(key) ?? 0);
    },
  };
}
