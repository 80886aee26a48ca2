export type { BatchRequestPart, BatchResponsePart } from './batchCodec';
export { BatchCodecError, boundaryOf, encodeBatch, MAX_BATCH_PARTS, parseBatchResponse } from './batchCodec';
export type { FetchPlanOptions, FetchUnit } from './fetchPlanner';
export { planCost, planFetches, threadThreshold } from './fetchPlanner';
export type { GmailTransport } from './gmailApi';
export type { AccessToken, GmailAuth, GmailAuthOption, GmailOAuthCredentials } from './gmailAuth';
export { GmailAuthSession } from './gmailAuth';
export { errorOfResponse, parseRetryAfter } from './gmailErrors';
export type { ClassifyResult, GmailCheckpoint, GmailSource, GmailSourceOptions } from './gmailSource';
export { gmailSource, historyChanges } from './gmailSource';
export type {
  GmailLabelFilterBehavior,
  GmailPushOptions,
  GmailWatch,
  GmailWatchRenewal,
  GmailWatchStore,
} from './gmailWatches';
export type { QuotaLimiterOptions, QuotaLimiterStats } from './quotaLimiter';
export { QuotaLimiter } from './quotaLimiter';
export type { GmailMethod, GmailQuotaProfile, GmailQuotaSetting } from './quotaProfiles';
export { LEGACY_QUOTA_PROFILE, QUOTA_2026_PROFILE, resolveQuotaProfile } from './quotaProfiles';
export type { GmailMessageFormat, GmailMessageResource } from './toMailMessage';
export { toMailMessage } from './toMailMessage';
