import { useEffect, useState } from 'react';

/**
 * The time, refreshed every `intervalMs`, for "5 min ago" texts that age while shown. `null`: no
 * timer (nothing shown needs the time now), so a view does not re-render for nothing.
 */
export function useNow(intervalMs: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (intervalMs === null) return;
    // The time may be old when a timer starts (nothing needed it until now).
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
