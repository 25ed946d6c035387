/** Writing responses: JSON like FastAPI's, and raw bodies for the faults. */
import type { ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendDetail(res: ServerResponse, status: number, detail: unknown, headers: Record<string, string> = {}): void {
  sendJson(res, status, { detail }, headers);
}

export function sendRaw(res: ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

/** Streams `bytes` bytes of an HTML-ish page in chunks, honouring backpressure, and stops if the client goes away. */
export function sendOversized(res: ServerResponse, status: number, bytes: number): Promise<void> {
  const head = '<html><body>';
  const tail = '</body></html>';
  const chunk = Buffer.from('oversized response body '.repeat(2731)); // about 64 KiB
  res.writeHead(status, { 'content-type': 'text/html', 'content-length': String(bytes) });
  return new Promise((resolve) => {
    let left = bytes;
    if (res.destroyed) return resolve();
    res.on('close', () => resolve());
    const write = (): void => {
      while (left > 0 && !res.destroyed) {
        let piece: Buffer;
        if (left === bytes && left > head.length + tail.length) piece = Buffer.from(head);
        else if (left <= tail.length) piece = Buffer.from(tail).subarray(tail.length - left);
        else piece = chunk.subarray(0, Math.min(chunk.length, left - tail.length));
        left -= piece.length;
        if (!res.write(piece)) {
          res.once('drain', write);
          return;
        }
      }
      if (!res.destroyed) res.end();
    };
    write();
  });
}

export const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  414: 'URI Too Long',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
