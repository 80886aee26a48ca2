import { describe, expect, it } from 'vitest';
import { BatchCodecError, boundaryOf, encodeBatch, MAX_BATCH_PARTS, parseBatchResponse } from './batchCodec';

describe('encodeBatch', () => {
  it('writes one application/http part per request with its Content-ID, CRLF line ends and a closing boundary', () => {
    const { body, contentType } = encodeBatch(
      [
        { id: '0', path: '/gmail/v1/users/me/messages/a1?format=metadata&metadataHeaders=From' },
        { id: '1', path: '/gmail/v1/users/me/threads/t1?format=minimal', headers: { 'X-Trace': 'yes' } },
      ],
      'b0und',
    );
    expect(contentType).toBe('multipart/mixed; boundary=b0und');
    expect(body).toBe(
      '--b0und\r\nContent-Type: application/http\r\nContent-ID: <0>\r\n\r\n' +
        'GET /gmail/v1/users/me/messages/a1?format=metadata&metadataHeaders=From HTTP/1.1\r\n\r\n' +
        '--b0und\r\nContent-Type: application/http\r\nContent-ID: <1>\r\n\r\n' +
        'GET /gmail/v1/users/me/threads/t1?format=minimal HTTP/1.1\r\nX-Trace: yes\r\n\r\n' +
        '--b0und--\r\n',
    );
  });

  it('refuses an empty batch, more than 100 parts, and header or path injection', () => {
    expect(() => encodeBatch([])).toThrow(BatchCodecError);
    const many = Array.from({ length: MAX_BATCH_PARTS + 1 }, (_, i) => ({ id: String(i), path: '/x' }));
    expect(() => encodeBatch(many)).toThrow(/at most 100/);
    expect(encodeBatch(many.slice(0, MAX_BATCH_PARTS)).body.match(/Content-ID/g)).toHaveLength(100);
    expect(() => encodeBatch([{ id: '0', path: '/x HTTP/1.1\r\nEvil: 1' }])).toThrow(BatchCodecError);
    expect(() => encodeBatch([{ id: '0', path: '/x', headers: { a: 'b\r\nc: d' } }])).toThrow(
      BatchCodecError,
    );
  });

  it('makes a fresh boundary per batch', () => {
    const a = boundaryOf(encodeBatch([{ id: '0', path: '/x' }]).contentType);
    const b = boundaryOf(encodeBatch([{ id: '0', path: '/x' }]).contentType);
    expect(a).toMatch(/^batch_/);
    expect(a).not.toBe(b);
  });
});

describe('parseBatchResponse', () => {
  const answer = [
    '--batch_xyz',
    'Content-Type: application/http',
    'Content-ID: <response-1>',
    '',
    'HTTP/1.1 404 Not Found',
    'Content-Type: application/json; charset=UTF-8',
    '',
    '{"error":{"code":404}}',
    '--batch_xyz',
    'Content-Type: application/http',
    'Content-ID: <response-0>',
    '',
    'HTTP/1.1 200 OK',
    'Content-Type: application/json',
    'Content-Length: 30',
    '',
    '{"id":"a1","snippet":"x\\r\\n"}',
    '--batch_xyz',
    'Content-Type: application/http',
    'Content-ID: <response-2>',
    '',
    'HTTP/1.1 429 Too Many Requests',
    'Retry-After: 0.25',
    '',
    '{}',
    '--batch_xyz--',
    '',
  ].join('\r\n');

  it('reads status, lower-cased headers and body of each part, matched by Content-ID', () => {
    const parts = parseBatchResponse('multipart/mixed; boundary=batch_xyz', answer);
    expect(parts.map((part) => [part.id, part.status])).toEqual([
      ['1', 404],
      ['0', 200],
      ['2', 429],
    ]);
    expect(JSON.parse(parts[1]!.body)).toEqual({ id: 'a1', snippet: 'x\r\n' });
    expect(parts[2]!.headers['retry-after']).toBe('0.25');
    expect(JSON.parse(parts[0]!.body)).toEqual({ error: { code: 404 } });
  });

  it('accepts a quoted boundary and bare LF line ends', () => {
    const lf = answer.replaceAll('\r\n', '\n');
    const parts = parseBatchResponse('multipart/mixed; boundary="batch_xyz"; charset=utf-8', lf);
    expect(parts).toHaveLength(3);
    expect(parts[2]!.status).toBe(429);
  });

  it('round-trips what the codec encodes through a Google-shaped answer', () => {
    const { body } = encodeBatch([{ id: '7', path: '/p' }], 'q');
    expect(body).toContain('Content-ID: <7>');
    const reply =
      '--r\r\nContent-Type: application/http\r\nContent-ID: <response-7>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{"ok":true}\r\n--r--';
    expect(parseBatchResponse('multipart/mixed; boundary=r', reply)).toEqual([
      { id: '7', status: 200, headers: {}, body: '{"ok":true}' },
    ]);
  });

  it('cuts a body at its Content-Length in bytes, with ASCII and with multi-byte UTF-8 text', () => {
    const part = (json: string) =>
      `--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}\r\n`;
    const ascii = '{"snippet":"plain"}';
    const accented = '{"snippet":"Réunion à 9 h — ☕"}';
    const parts = parseBatchResponse('multipart/mixed; boundary=b', `${part(ascii)}${part(accented)}--b--`);
    expect(parts.map((p) => p.body)).toEqual([ascii, accented]);
  });

  it('throws on a body cut short (a dropped connection) or a non-multipart answer', () => {
    const cut = answer.slice(0, answer.length / 2);
    expect(() => parseBatchResponse('multipart/mixed; boundary=batch_xyz', cut)).toThrow(/closing boundary/);
    expect(() => parseBatchResponse('application/json', '{}')).toThrow(BatchCodecError);
    expect(() =>
      parseBatchResponse(
        'multipart/mixed; boundary=b',
        '--b\r\nContent-Type: application/http\r\n\r\nnonsense\r\n\r\n--b--',
      ),
    ).toThrow(/status line/);
  });
});
