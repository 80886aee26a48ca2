/** The CLI's exit codes (documented in the README). */
export const EXIT = {
  ok: 0,
  /** The sync ended without completing (failed, cancelled, interrupted), or an unexpected error. */
  failed: 1,
  /** Bad arguments or missing configuration. */
  usage: 2,
  /** The database cannot be reached or opened. */
  storeUnavailable: 3,
  /** The job asked for does not exist. */
  notFound: 4,
  /** Stopped by SIGINT/SIGTERM before the sync ended (it resumes from its checkpoint). */
  interrupted: 130,
} as const;

/** An error the CLI reports as one line on stderr, with its exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly exitCode: number,
    message: string,
    /** A stable name of the refusal (e.g. `INSECURE_GMAIL_URL`); the message shows it too. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export const usageError = (message: string, code?: string) =>
  new CliError(EXIT.usage, `${message}${code ? ` (${code})` : ''}\nRun "syncjob help" for usage.`, code);
