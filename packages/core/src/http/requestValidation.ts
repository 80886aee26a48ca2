import type { RequestedSyncMode } from '../job/job';
import { isUuid } from '../job/job';
import { HttpError } from './httpError';
import { isJsonContentType } from './requestOrigin';

/** Largest accepted request body, in bytes (16 kB: a start request is well under 1 kB). */
export const MAX_BODY_BYTES = 16 * 1024;

const MAX_KEY_LENGTH = 256;
const REQUESTED_MODES: readonly RequestedSyncMode[] = ['auto', 'full', 'incremental'];

const invalid = (message: string) => new HttpError(400, 'INVALID_INPUT', message);

/**
 * The job id of a path. Front ends that lost their state send `undefined`, `null` or nothing: those
 * get a message that says so rather than a 404.
 */
export function parseJobId(raw: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw invalid('The job id is not valid URL encoding.');
  }
  if (id === '' || id === 'undefined' || id === 'null') {
    throw invalid(`The job id is missing (got "${id}"). Start a job or ask jobs/active for the current one.`);
  }
  if (!isUuid(id)) throw invalid('The job id must be a UUID.');
  return id.toLowerCase();
}

/** A non-negative integer query parameter, `undefined` when absent. */
export function parseIntegerParam(
  params: URLSearchParams,
  name: string,
  bounds: { min: number; max: number },
): number | undefined {
  const values = params.getAll(name);
  if (values.length === 0) return undefined;
  const raw = values[0] ?? '';
  if (values.length > 1 || !/^\d{1,15}$/.test(raw)) {
    throw invalid(`"${name}" must be one integer from ${bounds.min} to ${bounds.max}.`);
  }
  const value = Number(raw);
  if (value < bounds.min || value > bounds.max) {
    throw invalid(`"${name}" must be from ${bounds.min} to ${bounds.max}.`);
  }
  return value;
}

/** A short non-empty string parameter (source, accountId), `undefined` when absent and optional. */
export function parseKeyParam(params: URLSearchParams, name: string, required: true): string;
export function parseKeyParam(params: URLSearchParams, name: string, required: false): string | undefined;
export function parseKeyParam(params: URLSearchParams, name: string, required: boolean): string | undefined {
  const values = params.getAll(name);
  if (values.length === 0) {
    if (required) throw invalid(`Query parameter "${name}" is required.`);
    return undefined;
  }
  return checkKey(values.length === 1 ? values[0] : undefined, name);
}

function checkKey(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_KEY_LENGTH) {
    throw invalid(`"${name}" must be a non-empty string of at most ${MAX_KEY_LENGTH} characters.`);
  }
  if (value === 'undefined' || value === 'null') throw invalid(`"${name}" is missing (got "${value}").`);
  return value;
}

const unsupportedMediaType = () =>
  new HttpError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    'Send the request body as JSON with "Content-Type: application/json" (or send no body).',
  );

/**
 * Reads a JSON body of at most `MAX_BODY_BYTES`. An empty body reads as `undefined`. The size is
 * checked while reading, so a lying or absent `Content-Length` cannot make us buffer more.
 *
 * Only `application/json` is read: an HTML form (urlencoded, multipart, text/plain) is what another
 * site can make a browser send without asking, so any other `Content-Type`, or a body with none,
 * answers 415 even when its text happens to parse as JSON.
 */
export async function readJsonBody(request: Request): Promise<unknown> {
  const contentType = request.headers.get('content-type');
  if (contentType !== null && !isJsonContentType(contentType)) throw unsupportedMediaType();
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) throw tooLarge();
  if (!request.body) return undefined;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(concat(chunks, size));
  if (text.trim() === '') return undefined;
  if (contentType === null) throw unsupportedMediaType();
  try {
    return JSON.parse(text);
  } catch {
    throw invalid('The request body is not valid JSON.');
  }
}

const tooLarge = () => invalid(`The request body is larger than ${MAX_BODY_BYTES} bytes.`);

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

export interface StartBody {
  source: string;
  accountId: string;
  mode: RequestedSyncMode | undefined;
}

/** `{ source, accountId, mode? }`; other fields are ignored. */
export function parseStartBody(body: unknown): StartBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('The request body must be a JSON object { source, accountId, mode? }.');
  }
  const { source, accountId, mode } = body as Record<string, unknown>;
  if (mode !== undefined && !REQUESTED_MODES.includes(mode as RequestedSyncMode)) {
    throw invalid(`"mode" must be one of ${REQUESTED_MODES.join(', ')}.`);
  }
  return {
    source: checkKey(source, 'source'),
    accountId: checkKey(accountId, 'accountId'),
    mode: mode as RequestedSyncMode | undefined,
  };
}
