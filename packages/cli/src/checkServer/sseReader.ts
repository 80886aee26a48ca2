/** One item of an SSE stream: an event frame, or a comment line (`: keep-alive`). */
export type SseItem =
  | { kind: 'event'; id: string | undefined; event: string; data: string }
  | { kind: 'comment'; text: string };

/**
 * Reads a `text/event-stream` body item by item, each read with its own deadline, so a checker can
 * tell "nothing came for 5 s" from "the stream ended". A read that times out stays pending and is
 * picked up by the next call: no bytes are lost.
 */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = '';
  #pending: ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']> | null = null;
  #ended = false;
  readonly #items: SseItem[] = [];
  #frame: { id: string | undefined; event: string; data: string[] } = {
    id: undefined,
    event: 'message',
    data: [],
  };

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  /** The next item, `end` when the server closed the stream, `timeout` when nothing came in time. */
  async next(timeoutMs: number): Promise<SseItem | 'end' | 'timeout'> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const item = this.#items.shift();
      if (item) return item;
      if (this.#ended) return 'end';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      this.#pending ??= this.#reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        this.#pending,
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), left);
        }),
      ]).catch(() => ({ done: true, value: undefined }) as const);
      clearTimeout(timer);
      if (result === 'timeout') return 'timeout';
      this.#pending = null;
      if (result.done) {
        this.#ended = true;
        continue;
      }
      this.#feed(this.#decoder.decode(result.value, { stream: true }));
    }
  }

  /** Stops reading (the connection is dropped). */
  async close(): Promise<void> {
    this.#ended = true;
    await this.#reader.cancel().catch(() => undefined);
  }

  #feed(text: string) {
    this.#buffer += text;
    let newline = this.#buffer.search(/\r\n|\r|\n/);
    while (newline >= 0) {
      const line = this.#buffer.slice(0, newline);
      const length = this.#buffer.startsWith('\r\n', newline) ? 2 : 1;
      this.#buffer = this.#buffer.slice(newline + length);
      this.#line(line);
      newline = this.#buffer.search(/\r\n|\r|\n/);
    }
  }

  #line(line: string) {
    if (line === '') {
      if (this.#frame.data.length > 0) {
        this.#items.push({
          kind: 'event',
          id: this.#frame.id,
          event: this.#frame.event,
          data: this.#frame.data.join('\n'),
        });
      }
      this.#frame = { id: undefined, event: 'message', data: [] };
      return;
    }
    if (line.startsWith(':')) {
      this.#items.push({ kind: 'comment', text: line.slice(1).trim() });
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') this.#frame.data.push(value);
    else if (field === 'event') this.#frame.event = value;
    else if (field === 'id') this.#frame.id = value;
  }
}
