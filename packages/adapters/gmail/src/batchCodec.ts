/** Google's batch endpoint refuses more inner requests than this in one call. */
export const MAX_BATCH_PARTS = 100;

/** One inner request of a batch. */
export interface BatchRequestPart {
  /** Matches the answer to the request (sent as `Content-ID`, echoed back as `response-<id>`). */
  id: string;
  method?: 'GET';
  /** Path and query, e.g. `/gmail/v1/users/me/messages/abc?format=metadata`. */
  path: string;
  headers?: Record<string, string>;
}

/** One inner answer of a batch. */
export interface BatchResponsePart {
  /** The request's id, `undefined` when the server sent no `Content-ID`. */
  id: string | undefined;
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

export class BatchCodecError extends Error {
  override readonly name = 'BatchCodecError';
}

/** A boundary that cannot appear in the parts we write (paths and header values carry no `=_`). */
export function newBoundary(): string {
  return `batch_=_${globalThis.crypto.randomUUID().replaceAll('-', '')}`;
}

/** Writes a `multipart/mixed` batch body whose parts are `application/http` requests. */
export function encodeBatch(
  parts: readonly BatchRequestPart[],
  boundary: string = newBoundary(),
): { body: string; contentType: string } {
  if (parts.length === 0) throw new BatchCodecError('A batch needs at least one request.');
  if (parts.length > MAX_BATCH_PARTS) {
    throw new BatchCodecError(`A batch holds at most ${MAX_BATCH_PARTS} requests (got ${parts.length}).`);
  }
  const chunks: string[] = [];
  for (const part of parts) {
    if (/[\r\n\s]/.test(part.path)) throw new BatchCodecError(`Invalid path in a batch part: ${part.path}`);
    chunks.push(
      `--${boundary}\r\n`,
      'Content-Type: application/http\r\n',
      `Content-ID: <${part.id}>\r\n`,
      '\r\n',
      `${part.method ?? 'GET'} ${part.path} HTTP/1.1\r\n`,
    );
    for (const [name, value] of Object.entries(part.headers ?? {})) {
      if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
        throw new BatchCodecError(`Invalid header in a batch part: ${name}`);
      }
      chunks.push(`${name}: ${value}\r\n`);
    }
    chunks.push('\r\n');
  }
  chunks.push(`--${boundary}--\r\n`);
  return { body: chunks.join(''), contentType: `multipart/mixed; boundary=${boundary}` };
}

/** The `boundary` parameter of a multipart content type, quoted or not. */
export function boundaryOf(contentType: string | null | undefined): string | undefined {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return match ? (match[1] ?? match[2]) : undefined;
}

/** Splits at the first blank line (CRLF or bare LF: servers and proxies vary). */
function splitHead(text: string): [head: string, rest: string] {
  const match = /\r?\n\r?\n/.exec(text);
  if (!match) return [text, ''];
  return [text.slice(0, match.index), text.slice(match.index + match[0].length)];
}

function headerLines(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * The first `length` bytes (UTF-8) of `rest`, or all of it trimmed of its line end when it is
 * shorter. ASCII text, where bytes are characters, is cut without re-encoding it.
 */
function bodyOfLength(rest: string, length: number): string {
  const bytes = Buffer.byteLength(rest, 'utf8');
  if (bytes < length) return rest.replace(/\r?\n$/, '');
  if (bytes === rest.length) return rest.slice(0, length);
  return Buffer.from(rest, 'utf8').subarray(0, length).toString('utf8');
}

/**
 * Parses Google's `multipart/mixed` batch answer into its inner responses, in order. Throws a
 * `BatchCodecError` when the body is not a batch answer (e.g. cut short by a dropped connection).
 */
export function parseBatchResponse(
  contentType: string | null | undefined,
  body: string,
): BatchResponsePart[] {
  const boundary = boundaryOf(contentType);
  if (!boundary || !/^multipart\//i.test(contentType ?? '')) {
    throw new BatchCodecError(
      `Expected a multipart batch answer, got "${contentType ?? 'no content type'}".`,
    );
  }
  const delimiter = `--${boundary}`;
  const closing = body.indexOf(`${delimiter}--`);
  if (closing < 0) throw new BatchCodecError('The batch answer ends before its closing boundary.');
  const sections = body.slice(0, closing).split(delimiter).slice(1);
  return sections.map((section) => {
    // Slices, not copies: a part's body is read straight from the answer's text.
    const lead = /^[ \t]*\r?\n/.exec(section);
    const [outerHead, inner] = splitHead(lead ? section.slice(lead[0].length) : section);
    const outer = headerLines(outerHead);
    const [responseHead, rest] = splitHead(inner);
    const [statusLine = '', ...lines] = responseHead.split(/\r?\n/);
    const status = /^HTTP\/\d(?:\.\d)?\s+(\d{3})/.exec(statusLine.trim());
    if (!status)
      throw new BatchCodecError(`Invalid status line in a batch answer: ${statusLine.slice(0, 80)}`);
    const headers = headerLines(lines.join('\n'));
    const length = Number(headers['content-length']);
    const content =
      Number.isInteger(length) && length >= 0 ? bodyOfLength(rest, length) : rest.replace(/\r?\n$/, '');
    const contentId = outer['content-id']?.replace(/^<|>$/g, '');
    return {
      id: contentId?.startsWith('response-') ? contentId.slice('response-'.length) : contentId,
      status: Number(status[1]),
      headers,
      body: content,
    };
  });
}
