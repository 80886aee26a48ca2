/** One dispatched server-sent event. */
export interface SseMessage {
  /** `message` when the frame had no `event:` field. */
  event: string;
  data: string;
  /** The frame's `id:`, `undefined` when it had none. */
  id: string | undefined;
  /** The frame's `retry:` in ms, when it had one. */
  retry: number | undefined;
}

export interface SseParserOptions {
  /**
   * Longest line accepted, in characters of the decoded text (bytes for ASCII) (default 1,048,576:
   * 1 MiB). A longer line throws `SseLineTooLongError`: the stream is broken or hostile, and
   * buffering it would grow the page's memory without bound.
   */
  maxLineLength?: number;
}

/** Thrown by the parser when a line exceeds `maxLineLength`; the parser is unusable afterwards. */
export class SseLineTooLongError extends Error {
  override readonly name = 'SseLineTooLongError';
  /** The `maxLineLength` that was exceeded. */
  readonly limit: number;
  constructor(limit: number) {
    super(`The event stream sent a line longer than ${limit.toLocaleString('en-US')} characters.`);
    this.limit = limit;
  }
}

export const DEFAULT_SSE_MAX_LINE_LENGTH = 1024 * 1024;

/**
 * An incremental `text/event-stream` parser following the WHATWG rules: lines end in CRLF, LF or
 * CR (also split across chunks), a leading BOM is dropped, `:` lines are comments, `data:` lines are
 * joined with `\n`, a blank line dispatches. Returns a function to feed decoded text to.
 *
 * Linear in the input: each chunk is scanned once for line breaks, and the pieces of an unfinished
 * line are kept in a list and joined once when its end arrives (appending to one string and
 * rescanning it made a 4 MB line in 1 KB chunks cost tens of seconds of main-thread CPU).
 */
export function createSseParser(
  onMessage: (message: SseMessage) => void,
  options: SseParserOptions = {},
): (text: string) => void {
  const maxLineLength = options.maxLineLength ?? DEFAULT_SSE_MAX_LINE_LENGTH;
  /** Pieces of the line not yet ended, and their total length. */
  let pending: string[] = [];
  let pendingLength = 0;
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  let retry: number | undefined;
  let pendingCr = false;
  let atStart = true;

  const dispatch = () => {
    if (data.length > 0) onMessage({ event: event || 'message', data: data.join('\n'), id, retry });
    event = '';
    data = [];
    id = undefined;
    retry = undefined;
  };

  const line = (text: string) => {
    if (text === '') {
      dispatch();
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
  };

  const takeLine = (tail: string): string => {
    if (pendingLength + tail.length > maxLineLength) throw new SseLineTooLongError(maxLineLength);
    if (pending.length === 0) return tail;
    pending.push(tail);
    const whole = pending.join('');
    pending = [];
    pendingLength = 0;
    return whole;
  };

  return (text) => {
    let start = 0;
    if (atStart && text.length > 0) {
      atStart = false;
      if (text.charCodeAt(0) === 0xfeff) start = 1;
    }
    // A CR ending the previous chunk and an LF starting this one are one line break.
    if (pendingCr && start < text.length) {
      if (text.charCodeAt(start) === 10) start++;
      pendingCr = false;
    }
    for (let i = start; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code !== 10 && code !== 13) continue;
      line(takeLine(text.slice(start, i)));
      if (code === 13) {
        if (i + 1 === text.length) pendingCr = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    if (start < text.length) {
      const rest = text.slice(start);
      if (pendingLength + rest.length > maxLineLength) throw new SseLineTooLongError(maxLineLength);
      pending.push(rest);
      pendingLength += rest.length;
    }
  };
}
