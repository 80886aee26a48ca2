import type { Preview } from '@storybook/react-vite';
import type { RequestHandler } from 'msw';
import { setupWorker } from 'msw/browser';
import '../src/styles.css';

const worker = setupWorker();
let started: Promise<unknown> | null = null;

/**
 * Each story names the API it talks to in `parameters.api` (handlers, or a function making them on
 * first view): msw answers with those.
 */
const preview: Preview = {
  loaders: [
    async ({ parameters }) => {
      started ??= worker.start({
        serviceWorker: { url: 'mockServiceWorker.js' },
        onUnhandledRequest: 'bypass',
        quiet: true,
      });
      await started;
      const api = parameters.api as RequestHandler[] | (() => RequestHandler[]) | undefined;
      worker.resetHandlers(...((typeof api === 'function' ? api() : api) ?? []));
      return {};
    },
  ],
  parameters: { layout: 'fullscreen' },
};

export default preview;
