import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    client: 'src/client/index.ts',
    http: 'src/http/index.ts',
    testing: 'src/testing/index.ts',
    metrics: 'src/metrics/index.ts',
    notifications: 'src/notifications/index.ts',
    store: 'src/store/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node22',
  // Optional peers: loaded from the app's node_modules, never bundled.
  external: ['vitest', 'prom-client', 'nodemailer'],
});
