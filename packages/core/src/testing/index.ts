// The store conformance suite, the deterministic test source and test helpers are added here as they land.

export { runPendingJobs } from './runPendingJobs';
export type { ConformanceTestId, StoreConformanceOptions } from './storeConformance';
export { CONFORMANCE_TEST_IDS, runStoreConformance } from './storeConformance';
export type { SyntheticBatchOptions } from './syntheticBatch';
export { syntheticBatch, syntheticMessage } from './syntheticBatch';
export type { TestCheckpoint, TestSource, TestSourceControl, TestSourceOptions } from './testSource';
export { createTestSource } from './testSource';
