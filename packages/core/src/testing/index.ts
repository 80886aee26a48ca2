export type { StoreConformanceOptions } from './storeConformance';
export { runStoreConformance } from './storeConformance';
export type { TestSourceOptions, TestSourceControl } from './testSource';
export { createTestSource } from './testSource';
