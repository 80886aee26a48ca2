import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';

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
