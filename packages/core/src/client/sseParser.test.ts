import { describe, expect, it } from 'vitest';
import { reconnectDelay } from './reconnectBackoff';
import {
  createSseParser,
  DEFAULT_SSE_MAX_LINE_LENGTH,
  SseLineTooLongError,
  type SseMessage,
} from './sseParser';

describe('createSseParser', () => {
  it('parses frames split anywhere, with CRLF, CR or LF line ends, comments and multi-line data', () => {
    const messages: SseMessage[] = [];
    const feed = createSseParser((message) => messages.push(message));
    const text =
      'retry: 1000\r\n\r\n: keep-alive\n\nid: 3\revent: log\r\ndata: {"a":\ndata: 1}\r\n\r\nevent: x\n\n';
    for (const char of text) feed(char);
    expect(messages).toEqual([{ event: 'log', data: '{"a":\n1}', id: '3', retry: undefined }]);
  });

  const collect = (options?: Parameters<typeof createSseParser>[1]) => {
    const messages: SseMessage[] = [];
    return { messages, feed: createSseParser((message) => messages.push(message), options) };
  };

  it('treats a CRLF split across chunks as one line break, and a lone CR at a chunk end as one', () => {
    const split = collect();
    for (const chunk of ['data: a\r', '\ndata: b\r', '\n\r', '\n']) split.feed(chunk);
    expect(split.messages.map((m) => m.data)).toEqual(['a\nb']);

    // CR then a chunk that does not start with LF: the CR alone ended the line (no blank line lost).
    const lone = collect();
    for (const chunk of ['data: a\r', 'data: b\r', '\r', 'id: 7\r', '', '\n', 'data: c\n\n'])
      lone.feed(chunk);
    expect(lone.messages.map((m) => [m.data, m.id])).toEqual([
      ['a\nb', undefined],
      ['c', '7'],
    ]);
  });

  it('drops a BOM at the start of the stream only', () => {
    const bom = collect();
    for (const chunk of ['\uFEFF', 'data: x\n\n', '\uFEFFdata: y\n\n']) bom.feed(chunk);
    // The first BOM is dropped; a later one makes the field "\uFEFFdata", which is ignored.
    expect(bom.messages.map((m) => m.data)).toEqual(['x']);
    const inline = collect();
    inline.feed('\uFEFFevent: e\ndata: z\n\n');
    expect(inline.messages).toEqual([{ event: 'e', data: 'z', id: undefined, retry: undefined }]);
  });

  it('refuses a line over maxLineLength, whether it arrives in pieces or at once', () => {
    const pieces = collect({ maxLineLength: 100 });
    pieces.feed(`data: ${'x'.repeat(94)}\n\n`);
    expect(pieces.messages.map((m) => m.data.length)).toEqual([94]);
    pieces.feed('data: ');
    for (let i = 0; i < 9; i++) pieces.feed('x'.repeat(10));
    expect(() => pieces.feed('x'.repeat(10))).toThrow(SseLineTooLongError);

    const whole = collect({ maxLineLength: 100 });
    expect(() => whole.feed(`data: ${'x'.repeat(95)}\n\n`)).toThrow(/longer than 100 characters/);
    expect(whole.messages).toEqual([]);

    // The default is 1 MiB.
    const big = collect();
    big.feed(`data: ${'x'.repeat(DEFAULT_SSE_MAX_LINE_LENGTH - 6)}\n\n`);
    expect(big.messages).toHaveLength(1);
    expect(() => big.feed('x'.repeat(DEFAULT_SSE_MAX_LINE_LENGTH + 1))).toThrow(SseLineTooLongError);
  });

  it('keeps the pieces of a long line apart until its end: a 2 MB line in 1 KB chunks is one event', () => {
    const { messages, feed } = collect({ maxLineLength: 4 * 1024 * 1024 });
    feed('id: 9\ndata: ');
    const chunk = 'y'.repeat(1024);
    for (let i = 0; i < 2048; i++) feed(chunk);
    feed('\r\n\r\n');
    expect(messages).toHaveLength(1);
    expect(messages[0]!.data.length).toBe(2 * 1024 * 1024);
    expect(messages[0]!.id).toBe('9');
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
