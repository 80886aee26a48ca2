/** One inner request of a batch. */
export interface BatchPart {
  /** The part's `Content-ID`, without angle brackets; undefined when absent. */
  contentId: string | undefined;
  method: string;
  /** Path and query of the inner request line (an absolute URL is reduced to them). */
  target: string;
  headers: Headers;
  body: string;
}

export class BatchFormatError extends Error {}

/** Google's batch endpoint accepts at most this many parts. */
export const MAX_BATCH_PARTS = 100;

export function boundaryOf(contentType: string | null): string | undefined {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return match ? (match[1] ?? match[2]) : undefined;
}

/** Splits at the first blank line, accepting CRLF or bare LF as senders vary. */
function splitHead(text: string): [string, string] {
  const match = /\r?\n\r?\n/.exec(text);
  if (!match) return [text, ''];
  return [text.slice(0, match.index), text.slice(match.index + match[0].length)];
}

function parseHeaders(block: string, into: Headers): void {
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) into.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
}

/** Parses a `multipart/mixed` batch body whose parts are `application/http` requests. */
export function parseBatchRequest(contentType: string | null, body: string): BatchPart[] {
  const boundary = boundaryOf(contentType);
  if (!contentType?.toLowerCase().startsWith('multipart/') || !boundary) {
    throw new BatchFormatError('Batch requests must be multipart/mixed with a boundary');
  }
  const delimiter = `--${boundary}`;
  const sections = body.split(delimiter);
  const parts: BatchPart[] = [];
  // sections[0] is the preamble; a section starting with "--" is the close delimiter's epilogue.
  for (const section of sections.slice(1)) {
    if (section.startsWith('--')) break;
    const content = section.replace(/^[ \t]*\r?\n/, '');
    const [outerHead, inner] = splitHead(content);
    const outer = new Headers();
    parseHeaders(outerHead, outer);
    const [requestHead, innerBody] = splitHead(inner);
    const [requestLine = '', ...headerLines] = requestHead.split(/\r?\n/);
    const match = /^([A-Z]+)\s+(\S+)(?:\s+HTTP\/\d(?:\.\d)?)?\s*$/.exec(requestLine.trim());
    if (!match) throw new BatchFormatError(`Invalid request line in batch part: ${requestLine.slice(0, 80)}`);
    const headers = new Headers();
    parseHeaders(headerLines.join('\n'), headers);
    const rawTarget = match[2]!;
    const target = /^https?:\/\//i.test(rawTarget)
      ? ((url) => url.pathname + url.search)(new URL(rawTarget))
      : rawTarget;
    const contentId = outer.get('content-id')?.replace(/^<|>$/g, '');
    parts.push({
      contentId,
      method: match[1]!,
      target,
      headers,
      body: innerBody.replace(/\r?\n$/, ''),
    });
  }
  return parts;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface BatchAnswer {
  contentId: string | undefined;
  response: Response;
}

/** Writes the multipart/mixed answer: one `application/http` part per inner response, in order. */
export async function serializeBatchResponse(answers: BatchAnswer[], boundary: string): Promise<string> {
  const chunks: string[] = [];
  for (const { contentId, response } of answers) {
    const body = await response.text();
    const head = [`HTTP/1.1 ${response.status} ${STATUS_TEXT[response.status] ?? ''}`.trimEnd()];
    response.headers.forEach((value, name) => {
      if (name !== 'content-length') head.push(`${name}: ${value}`);
    });
    head.push(`content-length: ${Buffer.byteLength(body, 'utf8')}`);
    chunks.push(
      `--${boundary}\r\n`,
      'Content-Type: application/http\r\n',
      ...(contentId !== undefined ? [`Content-ID: <response-${contentId}>\r\n`] : []),
      '\r\n',
      `${head.join('\r\n')}\r\n\r\n`,
      `${body}\r\n`,
    );
  }
  chunks.push(`--${boundary}--\r\n`);
  return chunks.join('');
}
