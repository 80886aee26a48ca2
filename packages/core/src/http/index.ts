export type { SyncLogger } from '../logger';
export type {
  ActionRateLimiterOptions,
  RateLimit,
  RateLimitVerdict,
  SyncAction,
} from './actionRateLimiter';
export { createActionRateLimiter } from './actionRateLimiter';
export type { HttpErrorBody, HttpErrorCode } from './httpError';
export { HttpError, STATUS_BY_CODE, STORE_RETRY_AFTER_SECONDS, toHttpError } from './httpError';
export type { FetchHandler, NodeHandler, NodeHandlerOptions } from './nodeAdapter';
export { toNodeHandler } from './nodeAdapter';
export type { PubSubTokenOptions } from './pubsubToken';
export { GOOGLE_CERTS_URL } from './pubsubToken';
export type { PushRouteOptions } from './pushRoute';
export type { AllowedOrigins } from './requestOrigin';
export { MAX_BODY_BYTES } from './requestValidation';
export type { SseStreamOptions } from './sseStream';
export { createSseStream, formatSseFrame, SSE_HEADERS } from './sseStream';
export type { SyncEngineSource, SyncHandler, SyncHandlerOptions } from './syncHandler';
export { createSyncHandler } from './syncHandler';
export { DEFAULT_MAX_WORK_MS } from './workRoute';
