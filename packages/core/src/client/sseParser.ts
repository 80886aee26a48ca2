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

/**
 * An incremental `text/event-stream` parser following the WHATWG rules: lines end in CRLF, LF or
 * CR (also split across chunks), `:` lines are comments, `data:` lines are joined with `\n`, a blank
 * line dispatches. Returns a function to feed decoded text to.
 */
export function createSseParser(onMessage: (message: SseMessage) => void): (text: string) => void {
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  let retry: number | undefined;
  let pendingCr = false;

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

  return (text) => {
    let chunk = text;
    // A CR ending the previous chunk and an LF starting this one are one line break.
    if (pendingCr && chunk.startsWith('\n')) chunk = chunk.slice(1);
    pendingCr = false;
    buffer += chunk;
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const char = buffer[i];
      if (char !== '\n' && char !== '\r') continue;
      line(buffer.slice(start, i));
      if (char === '\r') {
        if (i + 1 === buffer.length) pendingCr = true;
        else if (buffer[i + 1] === '\n') i++;
      }
      start = i + 1;
    }
    buffer = buffer.slice(start);
  };
}
