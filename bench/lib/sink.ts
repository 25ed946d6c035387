/**
 * The smallest loopback HTTP sink: reads each body to its end and answers 200
 * with a fixed success body, nothing else. Used to isolate the client side of
 * an export path from the cost of a real backend's decoding and storage.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class MinimalSink {
  requests = 0;
  bytes = 0;
  private server: Server | undefined;

  /** Starts on 127.0.0.1 (free port); returns `http://127.0.0.1:PORT`. */
  async start(): Promise<string> {
    const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
      req.on('data', (c: Buffer) => {
        this.bytes += c.length;
      });
      req.on('end', () => {
        this.requests++;
        // The guard backend's success body; an OTLP client accepts any JSON object on 200.
        const body = '{"success":true,"errors":null}';
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
