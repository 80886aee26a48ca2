import { copyFile } from 'node:fs/promises';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  external: ['react', 'react-dom', '@syncjob/core'],
  // Every export is a hook or a component: React Server Components must treat the bundle as client code.
  banner: { js: '"use client";' },
  async onSuccess() {
    await copyFile('src/styles.css', 'dist/styles.css');
  },
});
