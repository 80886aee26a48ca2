export type { JobSummary } from './jobSummary';
export { jobSummary, jobSummaryText, jobSummaryTitle } from './jobSummary';
export type { MailTransporter, SmtpNotifierOptions, SmtpTransportOptions } from './smtpNotifier';
export { createSmtpNotifier } from './smtpNotifier';
export type {
  JobNotifier,
  VerifyWebhookOptions,
  WebhookNotifierOptions,
  WebhookPayload,
  WebhookRequestHeaders,
} from './webhookNotifier';
export {
  createWebhookNotifier,
  DELIVERY_HEADER,
  SIGNATURE_HEADER,
  signWebhookBody,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
} from './webhookNotifier';
