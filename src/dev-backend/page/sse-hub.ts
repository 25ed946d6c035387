/**
 * Server-sent events to the page's open tabs. One frame per message, written
 * to every client; a comment line every `heartbeatMs` keeps idle connections
 * (and proxies) from timing them out. A client that does not read is dropped
 * once its unsent data passes `maxBufferedBytes`, instead of the server
 * buffering for it without limit; its EventSource reconnects and reloads the
 * summary. Clients leave the set when their connection closes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { diag } from '@opentelemetry/api';

export interface SseHubOptions {
  heartbeatMs?: number;
  maxBufferedBytes?: number;
  maxClients?: number;
}

export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeatMs: number;
  private readonly maxBufferedBytes: number;
  private readonly maxClients: number;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(options: SseHubOptions = {}) {
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1_048_576;
    this.maxClients = options.maxClients ?? 32;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Turns the response into an event stream and keeps it until the client leaves. */
  attach(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= this.maxClients) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
      res.end('too many live page clients\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    req.socket.setNoDelay(true);
    // `retry` tells EventSource how soon to reconnect after the stream breaks.
    res.write('retry: 2000\n: connected\n\n');
    this.clients.add(res);
    res.on('close', () => this.remove(res));
    this.startHeartbeat();
  }

  /** Sends one message (`event:` name, JSON data) to every client. */
  broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    // JSON.stringify escapes CR and LF, so the data is one line, as SSE needs.
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends every stream and stops the heartbeat. */
  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stopHeartbeat();
  }

  private write(frame: string): void {
    const bytes = Buffer.byteLength(frame);
    for (const res of this.clients) {
      if (res.destroyed || res.writableEnded) {
        this.remove(res);
        continue;
      }
      if (res.writableLength + bytes > this.maxBufferedBytes) {
        diag.debug(`dev-backend page: dropping a live client that is ${res.writableLength} bytes behind`);
        this.remove(res);
        res.destroy();
        continue;
      }
      res.write(frame);
    }
  }

  private remove(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.stopHeartbeat();
  }

  private startHeartbeat(): void {
    if (this.heartbeat !== undefined) return;
    this.heartbeat = setInterval(() => this.write(': ping\n\n'), this.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
