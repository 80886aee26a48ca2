// Prints how long the emulator takes from a change to its push arriving at an endpoint (signing
// an RS256 token and one local HTTP POST), the emulator's share of an app's change-to-row latency.
// Run after a build:
//   npx turbo run build --filter=@syncjob/gmail-emulator && node packages/gmail-emulator/bench/pushLatency.ts
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GmailEmulator } from '../dist/index.js';

const ADDRESS = 'bench@example.com';
const ADDITIONS = 50;

let arrived: (() => void) | undefined;
const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(204).end();
    arrived?.();
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`;

const emulator = new GmailEmulator({ users: [{ address: ADDRESS, messages: 1000 }], push: { endpoint } });
emulator.push.watch(ADDRESS, {
  topicName: 'projects/p/topics/t',
  labelIds: [],
  labelBits: 0,
  labelFilterBehavior: 'include',
});

const sample = async (change: () => void): Promise<number> => {
  const received = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const started = performance.now();
  change();
  await received;
  return performance.now() - started;
};

// Warm-up: the first POST opens the connection and compiles the paths.
for (let i = 0; i < 5; i++) await sample(() => emulator.addMessage(ADDRESS));
const latencies: number[] = [];
for (let i = 0; i < ADDITIONS; i++) latencies.push(await sample(() => emulator.addMessage(ADDRESS)));

const signings = 200;
const signStarted = performance.now();
for (let i = 0; i < signings; i++) emulator.push.idToken(endpoint);
const signMs = (performance.now() - signStarted) / signings;

const sorted = [...latencies].sort((a, b) => a - b);
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
console.table([
  {
    additions: ADDITIONS,
    'p50 change → push (ms)': at(0.5).toFixed(2),
    'p95 (ms)': at(0.95).toFixed(2),
    'max (ms)': sorted[sorted.length - 1]!.toFixed(2),
    'RS256 token (ms)': signMs.toFixed(2),
  },
]);
await emulator.pushesSettled();
server.close();
