import type { Output } from './progressView';

/** What a command may touch: its arguments, streams, environment and a shutdown signal. */
export interface CliContext {
  args: string[];
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM: long-running commands stop gracefully. */
  signal: AbortSignal;
}

/** Resolves when the signal aborts. */
export const whenAborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
