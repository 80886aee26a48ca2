export type { HttpErrorBody, HttpErrorCode } from './httpError';
export { HttpError, isConnectionError, STORE_RETRY_AFTER_SECONDS, toHttpError } from './httpError';
export type { FetchHandler, NodeHandler, NodeHandlerOptions } from './nodeAdapter';
export { toNodeHandler } from './nodeAdapter';
export { MAX_BODY_BYTES } from './requestValidation';
export type { SseStreamOptions } from './sseStream';
export { createSseStream, formatSseFrame, SSE_HEADERS } from './sseStream';
export type { SyncHandler, SyncHandlerOptions } from './syncHandler';
export { createSyncHandler } from './syncHandler';
