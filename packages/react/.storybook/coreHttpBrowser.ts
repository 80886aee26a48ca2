// The browser-safe part of `@syncjob/core/http` (the Node adapter needs `node:stream`), for the
// stories' in-browser API behind msw.
export { formatSseFrame, SSE_HEADERS } from '../../core/src/http/sseStream';
export { createSyncHandler } from '../../core/src/http/syncHandler';
