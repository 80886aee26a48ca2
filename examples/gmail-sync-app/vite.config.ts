import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The page lives in `web/` and builds to `dist/web`, which the app server serves. `vite dev`
 * proxies the API and the Google callback to the app server (`npm start`, port 3000).
 */
export default defineConfig({
  root: 'web',
  plugins: [react()],
  build: { outDir: '../dist/web', emptyOutDir: true },
  server: {
    proxy: {
      '/api': 'http://localhost:3000',
      '/auth': 'http://localhost:3000',
    },
  },
});
