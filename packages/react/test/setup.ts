import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { version as reactVersion } from 'react';
import { version as reactDomVersion } from 'react-dom';
import { afterEach } from 'vitest';

// `npm run test:react18` says which React major must be running: fail loudly if an alias missed.
const expected = process.env.SYNCJOB_REACT_MAJOR;
if (expected && (!reactVersion.startsWith(`${expected}.`) || !reactDomVersion.startsWith(`${expected}.`)))
  throw new Error(
    `expected React ${expected}, running react ${reactVersion} and react-dom ${reactDomVersion}`,
  );

// React warns about updates outside act() unless the environment says it is a test.
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

/*
 * The tests run a real engine in jsdom. jsdom replaces the global EventTarget, so p-queue's queue
 * (an EventTarget) is a jsdom one, which Node's `setMaxListeners` (called by p-queue when it finds
 * Node) rejects. Only the listener-count warning is at stake: skip it for targets Node cannot take.
 */
const events = process.getBuiltinModule('node:events');
const setMaxListeners = events.setMaxListeners;
events.setMaxListeners = (count?: number, ...targets: Parameters<typeof setMaxListeners>[1][]) => {
  try {
    setMaxListeners(count, ...targets);
  } catch {
    // A jsdom EventTarget: nothing to configure.
  }
};

afterEach(() => {
  cleanup();
});
