import { describe, expect, it } from 'vitest';
import { reconnectDelay } from './reconnectBackoff';
import { createSseParser, type SseMessage } from './sseParser';

describe('createSseParser', () => {
  it('parses frames split anywhere, with CRLF, CR or LF line ends, comments and multi-line data', () => {
    const messages: SseMessage[] = [];
    const feed = createSseParser((message) => messages.push(message));
    const text =
      'retry: 1000\r\n\r\n: keep-alive\n\nid: 3\revent: log\r\ndata: {"a":\ndata: 1}\r\n\r\nevent: x\n\n';
    for (const char of text) feed(char);
    expect(messages).toEqual([{ event: 'log', data: '{"a":\n1}', id: '3', retry: undefined }]);
  });
});

describe('reconnectDelay', () => {
  it('grows exponentially with jitter in [ceiling/2, ceiling], capped', () => {
    expect(reconnectDelay(0, {}, () => 0)).toBe(500);
    expect(reconnectDelay(0, {}, () => 1)).toBe(1000);
    expect(reconnectDelay(3, {}, () => 1)).toBe(8000);
    expect(reconnectDelay(20, { maxDelayMs: 30_000 }, () => 0.5)).toBe(22_500);
  });
});
