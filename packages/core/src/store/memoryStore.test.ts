import { runStoreConformance } from '../testing/storeConformance';
import { createMemoryStore } from './memoryStore';

runStoreConformance({
  name: 'memory',
  createStore: async ({ sink }) => createMemoryStore(sink === undefined ? {} : { sink }),
});
