export interface ReconnectBackoffOptions {
  /** Delay before the first retry, in ms (default 1,000). */
  initialDelayMs?: number;
  /** Longest delay, in ms (default 30,000). */
  maxDelayMs?: number;
}

/**
 * Exponential back-off with "equal jitter": half of the exponential delay is fixed, half random, so
 * many clients dropped at once (a deploy) do not reconnect in lockstep. `attempt` starts at 0.
 */
export function reconnectDelay(
  attempt: number,
  options: ReconnectBackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 30_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
