// Until i13-server lands: a `createSyncHandler` that also takes the engine getter, creating the
// real handler on the first request. Used only when the packed core lacks `defineSyncEngine`.
import type { SyncEngine } from '@syncjob/core';
import { createSyncHandler as createEagerHandler, type SyncHandlerOptions } from '@syncjob/core/http';

export * from '@syncjob/core/http';

export function createSyncHandler<TPrincipal>(
  engine: SyncEngine | (() => SyncEngine),
  options: SyncHandlerOptions<TPrincipal>,
): (request: Request) => Promise<Response> {
  let handler: ((request: Request) => Promise<Response>) | undefined;
  return (request) => {
    handler ??= createEagerHandler(typeof engine === 'function' ? engine() : engine, options);
    return handler(request);
  };
}
