/**
 * Where syncjob reports what no job log holds: the cause of every 5xx answer of the HTTP handler, a
 * worker loop that cannot reach its store, a failing `onJobFinished` hook, scheduler cycles.
 *
 * `console`, a pino logger and a winston logger fit as they are. syncjob calls each method with ONE
 * string that says everything (what failed, where, and the cause's message): the only call shape
 * all three print in full. pino drops a second argument unless the message has a `%` placeholder,
 * and winston turns an object first argument (pino's `logger.error(obj, msg)`) into its `message`.
 * The optional `data` repeats facts of the message for loggers that keep fields (console, winston);
 * nothing is lost where it is ignored.
 */
export interface SyncLogger {
  error(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  /** Routine events (scheduler cycles, recovery after a failure). Optional. */
  info?(message: string, data?: Record<string, unknown>): void;
}

/**
 * The message and cause chain of anything thrown, on one line (`SyncError: x; caused by Error: y`),
 * plus the stack of the innermost error when `stack` is set (for bugs, where the stack is the news).
 */
export function describeError(cause: unknown, options: { stack?: boolean } = {}): string {
  const parts: string[] = [];
  let current: unknown = cause;
  let innermost: unknown = cause;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth += 1) {
    parts.push(describeOne(current));
    innermost = current;
    current = current instanceof Error ? current.cause : undefined;
  }
  const text = parts.join('; caused by ') || String(cause);
  const stack = options.stack && innermost instanceof Error ? innermost.stack : undefined;
  return stack ? `${text}\n${stack}` : text;
}

function describeOne(error: unknown): string {
  if (!(error instanceof Error)) return typeof error === 'string' ? error : safeString(error);
  const code = (error as { code?: unknown }).code;
  const codeText = typeof code === 'string' || typeof code === 'number' ? ` [${code}]` : '';
  return `${error.name}${codeText}: ${error.message}`;
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
