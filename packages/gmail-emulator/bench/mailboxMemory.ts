// Prints memory and time to generate mailboxes of growing size. Run after a build:
//   npx turbo run build --filter=@syncjob/gmail-emulator && node --expose-gc packages/gmail-emulator/bench/mailboxMemory.ts
import { GmailEmulator } from '../dist/index.js';

declare const gc: (() => void) | undefined;

function used(): number {
  gc?.();
  const memory = process.memoryUsage();
  return memory.heapUsed + memory.arrayBuffers;
}

const rows: Array<Record<string, string>> = [];
// Kept alive so a freed earlier mailbox does not hide part of the next one's growth.
const kept: GmailEmulator[] = [];
for (const messages of [10_000, 100_000, 500_000, 1_000_000]) {
  const before = used();
  const started = performance.now();
  const emulator = new GmailEmulator({ users: [{ address: 'bench@example.com', messages, seed: 1 }] });
  const generatedMs = performance.now() - started;
  kept.push(emulator);
  const mailbox = emulator.mailbox('bench@example.com');
  const grown = used() - before;
  const fetchStarted = performance.now();
  const token = emulator.issueAccessToken('bench@example.com').accessToken;
  for (let i = 0; i < 1000; i++) {
    const id = mailbox.idOf(Math.floor((i * messages) / 1000));
    const response = await emulator.handle(
      new Request(`http://bench.invalid/gmail/v1/users/me/messages/${id}?format=full`, {
        headers: { authorization: `Bearer ${token}` },
      }),
    );
    await response.text();
  }
  rows.push({
    messages: messages.toLocaleString('en'),
    'generate (s)': (generatedMs / 1000).toFixed(2),
    'memory growth (MB)': (grown / 1e6).toFixed(1),
    'bytes/message': (grown / messages).toFixed(1),
    // 1,000 calls, so total milliseconds read as microseconds per call.
    'messages.get full (µs)': (performance.now() - fetchStarted).toFixed(0),
  });
}
console.table(rows);
