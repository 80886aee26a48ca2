// Until i13-server lands: a `createSyncHandler` that also takes the engine getter, creating the
// real handler on the first request. Used only when the packed core lacks `defineSyncEngine`.
import type { SyncEngine } from '@syncjob/core';
import {
  createSyncHandler as createEagerHandler,
  type SyncHandler,
  type SyncHandlerOptions,
} from '@syncjob/core/http';

export * from '@syncjob/core/http';

export function createSyncHandler<TPrincipal>(
  engine: SyncEngine | (() => SyncEngine),
  options: SyncHandlerOptions<TPrincipal>,
): SyncHandler {
  let handler: SyncHandler | undefined;
  const lazy = (request: Request) => {
    handler ??= createEagerHandler(typeof engine === 'function' ? engine() : engine, options);
    return handler(request);
  };
  // `toNodeHandler` reads `basePath` to pass other paths to Express's `next`.
  const trimmed = (options.basePath ?? '').trim().replace(/\/+$/, '');
  const basePath = trimmed === '' || trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
  return Object.assign(lazy, { basePath });
}
