import { SyncError } from '../errors';
import type { TerminalJobStatus } from '../job/job';
import { TERMINAL_STATUSES } from '../job/job';
import type { JobSummary } from './jobSummary';
import { jobSummary, jobSummaryText, jobSummaryTitle } from './jobSummary';
import type { JobNotifier } from './webhookNotifier';

/**
 * nodemailer's SMTP transport options (the subset most apps set; any other nodemailer option passes
 * through). Declared here so core's types do not need `@types/nodemailer`.
 */
export interface SmtpTransportOptions {
  host?: string;
  /** Default 587, or 465 when `secure`. */
  port?: number;
  /** TLS from the first byte (port 465). `false` (default) upgrades with STARTTLS when the server offers it. */
  secure?: boolean;
  /** Refuse to send unless STARTTLS succeeds (default `false`). */
  requireTLS?: boolean;
  /** Never use STARTTLS (default `false`; a local test server, not production). */
  ignoreTLS?: boolean;
  auth?: { user: string; pass: string };
  /** Node TLS options, e.g. `{ servername, minVersion: 'TLSv1.2' }` or `{ rejectUnauthorized: false }` for a self-signed test server. */
  tls?: Record<string, unknown>;
  [option: string]: unknown;
}

/** Anything with nodemailer's `sendMail` (a transporter made by the app, or a test double). */
export interface MailTransporter {
  sendMail(mail: { from: string; to: string | string[]; subject: string; text: string }): Promise<unknown>;
}

export interface SmtpNotifierOptions {
  /** nodemailer transport options or a connection URL (`smtps://user:pass@smtp.example.com`). Ignored when `transporter` is given. */
  transport?: SmtpTransportOptions | string;
  /** A ready transporter (`nodemailer.createTransport(...)`), used instead of `transport`. */
  transporter?: MailTransporter;
  /** Sender address. */
  from: string;
  /** Recipient address(es). */
  to: string | string[];
  /** Subject line (default "[syncjob] Sync completed: alice@example.com (gmail)"). */
  subject?: (summary: JobSummary) => string;
  /** Statuses that are mailed (default every terminal status; `['failed', 'interrupted']` for alerts only). */
  statuses?: readonly TerminalJobStatus[];
}

/**
 * E-mails a plain-text summary of each finished job: counts, duration, error. Never message content.
 * nodemailer (an optional peer dependency) is imported on the first mail only, so apps that do not
 * use this notifier do not need it installed.
 */
export function createSmtpNotifier(options: SmtpNotifierOptions): JobNotifier {
  if (!options.transporter && !options.transport) {
    throw new SyncError(
      'INVALID_INPUT',
      'createSmtpNotifier needs `transport` (options or URL) or a `transporter`.',
    );
  }
  if (!options.from || !options.to || (Array.isArray(options.to) && options.to.length === 0)) {
    throw new SyncError('INVALID_INPUT', 'createSmtpNotifier needs a `from` and at least one `to` address.');
  }
  const statuses: readonly string[] = options.statuses ?? TERMINAL_STATUSES;
  const subject = options.subject ?? ((summary: JobSummary) => `[syncjob] ${jobSummaryTitle(summary)}`);
  let transporter: Promise<MailTransporter> | null = options.transporter
    ? Promise.resolve(options.transporter)
    : null;

  const getTransporter = (): Promise<MailTransporter> => {
    transporter ??= loadNodemailer().then((nodemailer) => nodemailer.createTransport(options.transport));
    return transporter;
  };

  return async (job) => {
    if (!statuses.includes(job.status)) return;
    const summary = jobSummary(job);
    await (await getTransporter()).sendMail({
      from: options.from,
      to: options.to,
      subject: subject(summary),
      text: jobSummaryText(summary),
    });
  };
}

interface NodemailerApi {
  createTransport(options: unknown): MailTransporter;
}

async function loadNodemailer(): Promise<NodemailerApi> {
  let module: Partial<NodemailerApi> & { default?: NodemailerApi };
  try {
    module = (await import('nodemailer')) as unknown as typeof module;
  } catch (cause) {
    throw new SyncError(
      'INTERNAL',
      'createSmtpNotifier needs the nodemailer package: npm install nodemailer (it is an optional peer of @syncjob/core).',
      { cause },
    );
  }
  // ESM builds export `createTransport` by name, the CommonJS one only as the default export.
  return module.createTransport ? (module as NodemailerApi) : module.default!;
}
