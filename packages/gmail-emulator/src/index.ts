export { MAX_BATCH_PARTS } from './batch/multipart.js';
export { type Clock, systemClock } from './clock.js';
export type { DropStage, FaultRule, FaultRuleEntry } from './faults/faultRule.js';
export {
  type AddedMessage,
  createGmailEmulator,
  DEFAULT_USER,
  type EmulatorStats,
  type EmulatorUserOptions,
  type FetchStats,
  GmailEmulator,
  type GmailEmulatorOptions,
  type UserStats,
} from './gmailEmulator.js';
export type { GoogleErrorBody, GoogleErrorItem } from './http/googleError.js';
export { DEFAULT_USER_LABELS, MAX_USER_LABELS, SYSTEM_LABEL_IDS } from './mailbox/labels.js';
export type { HistoryKind, Mailbox, MailboxOptions, NewMessage } from './mailbox/mailbox.js';
export type { CustomContent, MessageHeader } from './mailbox/messageContent.js';
export type { MessageFormat, MessagePart, MessageResource } from './mailbox/messageResource.js';
export {
  DEFAULT_OAUTH_CLIENT,
  defaultRefreshToken,
  type OAuthClientCredentials,
} from './oauth/tokenIssuer.js';
export {
  type ChangedLabels,
  GOOGLE_ISSUER,
  type LabelFilterBehavior,
  type PushBody,
  PushHub,
  type PushOptions,
  type PushStats,
  type Watch,
} from './push/pushHub.js';
export {
  createPushSigningKey,
  type IdTokenClaims,
  type PublicJwk,
  PushSigningKey,
} from './push/signingKey.js';
export {
  GMAIL_METHODS,
  type GmailMethod,
  LEGACY_QUOTA,
  QUOTA_2026,
  QUOTA_PROFILES,
  type QuotaProfile,
  type QuotaSetting,
} from './quota/costTables.js';
export { type RunningGmailEmulator, type StartGmailEmulatorOptions, startGmailEmulator } from './server.js';
export type { CallCounters } from './stats/statsRecorder.js';
