import type { SyncMetrics } from './syncMetrics';

/**
 * A Fetch-API handler for `GET /metrics`: the registry in Prometheus text format with its content
 * type. Mount it at any path (Next.js route, Hono, Bun, or `toNodeHandler` from
 * `@syncjob/core/http` for `node:http`). It answers 405 to other methods.
 */
export function metricsHandler(
  metrics: Pick<SyncMetrics, 'registry'>,
): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return new Response('Method Not Allowed\n', { status: 405, headers: { allow: 'GET, HEAD' } });
    }
    const body = await metrics.registry.metrics();
    return new Response(request.method === 'HEAD' ? null : body, {
      status: 200,
      headers: { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' },
    });
  };
}
