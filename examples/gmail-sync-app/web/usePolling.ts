import { useEffect, useState } from 'react';

/**
 * Loads `load()` now, again whenever `key` changes, and every `intervalMs` while `intervalMs` is a
 * number (`null` pauses). Keeps the last good value on an error.
 */
export function usePolling<T>(
  load: (signal: AbortSignal) => Promise<T>,
  key: unknown,
  intervalMs: number | null,
): { data: T | null; error: string | null } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` is the reload trigger; `load` is recreated every render.
  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        setData(await load(abort.signal));
        setError(null);
      } catch (caught) {
        if (!abort.signal.aborted) setError(caught instanceof Error ? caught.message : String(caught));
      }
      if (intervalMs !== null && !abort.signal.aborted) timer = setTimeout(tick, intervalMs);
    };
    void tick();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [key, intervalMs]);
  return { data, error };
}
