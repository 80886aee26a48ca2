import { fileURLToPath } from 'node:url';
import type { StorybookConfig } from '@storybook/react-vite';
import { msw } from 'msw/vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

const config: StorybookConfig = {
  framework: '@storybook/react-vite',
  stories: ['../stories/**/*.stories.tsx'],
  core: { disableTelemetry: true },
  async viteFinal(viteConfig) {
    return {
      ...viteConfig,
      // Serves (dev) and emits (build) msw's worker script; the stories start the worker themselves.
      plugins: [...(viteConfig.plugins ?? []), msw({ mode: 'worker-only' })],
      resolve: {
        ...viteConfig.resolve,
        // The stories run the core from source; `@syncjob/core/http` without its Node adapter.
        alias: [
          { find: /^@syncjob\/core$/, replacement: here('../../core/src/index.ts') },
          { find: /^@syncjob\/core\/client$/, replacement: here('../../core/src/client/index.ts') },
          { find: /^@syncjob\/core\/http$/, replacement: here('./coreHttpBrowser.ts') },
        ],
      },
    };
  },
};

export default config;
