import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node22',
  // `node:sqlite` exists only with its prefix: there is no bare `sqlite` built-in to fall back to.
  removeNodeProtocol: false,
});
