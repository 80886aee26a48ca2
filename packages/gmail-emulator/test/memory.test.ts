import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { GmailEmulator } from '../src/index.js';
import { messageResource } from '../src/mailbox/messageResource.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function used(): number {
  gc();
  const memory = process.memoryUsage();
  return memory.heapUsed + memory.arrayBuffers;
}

describe('a 500,000-message mailbox', () => {
  it('is generated in bounded memory and serves messages on demand', () => {
    const before = used();
    const started = performance.now();
    const emulator = new GmailEmulator({
      users: [{ address: 'big@example.com', messages: 500_000, seed: 9 }],
    });
    const seconds = (performance.now() - started) / 1000;
    const mailbox = emulator.mailbox('big@example.com');
    const grown = used() - before;
    console.info(
      `500,000 messages: ${(grown / 1e6).toFixed(1)} MB heap+arrayBuffers growth, typed arrays ${(mailbox.compactBytes / 1e6).toFixed(1)} MB, generated in ${seconds.toFixed(2)} s`,
    );
    expect(grown).toBeLessThan(200e6);
    const last = messageResource(mailbox, 499_999, 'raw');
    expect(Buffer.from(last.raw!, 'base64url').toString()).toMatch(/^MIME-Version: 1\.0/);
    expect(mailbox.messagesTotal).toBe(500_000);
  });
});
