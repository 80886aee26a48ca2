import type { DropStage } from '../faults/faultRule.js';

/**
 * A fetch handler cannot destroy a socket, so a dropped connection is a response marked here:
 * the Node server sends the headers (and half the body for `body`) then destroys the socket;
 * the msw binding answers `HttpResponse.error()`. Its body stream also fails where the cut is,
 * so a caller using the handler directly sees a broken body too.
 */
const drops = new WeakMap<Response, DropStage>();

export function droppedResponse(response: Response, stage: DropStage): Promise<Response> {
  return response.arrayBuffer().then((buffer) => {
    const bytes = new Uint8Array(buffer);
    const cut = stage === 'headers' ? 0 : Math.floor(bytes.length / 2);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        if (cut > 0) controller.enqueue(bytes.subarray(0, cut));
        controller.error(new Error('Connection dropped by the emulator'));
      },
    });
    const headers = new Headers(response.headers);
    headers.set('content-length', String(bytes.length));
    const dropped = new Response(body, { status: response.status, headers });
    drops.set(dropped, stage);
    return dropped;
  });
}

/** Where the connection of this response must be cut, or undefined for a normal response. */
export function dropStageOf(response: Response): DropStage | undefined {
  return drops.get(response);
}

/** The bytes sent before the cut, for the Node server. */
export async function bytesBeforeDrop(response: Response): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
  } catch {
    // The stream fails where the connection is cut; what came before is what gets sent.
  }
  return Buffer.concat(chunks);
}
