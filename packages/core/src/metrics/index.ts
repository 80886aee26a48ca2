export { metricsHandler } from './metricsHandler';
export type { SyncMetrics, SyncMetricsOptions } from './syncMetrics';
export { createSyncMetrics } from './syncMetrics';
