import { runStoreConformance } from '../testing/storeConformance';
import { createMemoryStore } from './memoryStore';

runStoreConformance({
  skip: {
    'null-lease-expired':
      'the memory store keeps its state private: no row can lose its lease expiry behind its back',
  },
  name: 'memory',
  createStore: async ({ sink }) => createMemoryStore(sink === undefined ? {} : { sink }),
});
