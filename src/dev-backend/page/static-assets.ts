/**
 * The page's files: a fixed list of URL paths, each read from disk once and
 * kept in memory (a few hundred KiB, chart.js included). Nothing else on the
 * disk can be reached through these routes. Everything is served from this
 * origin so the page works offline, under a CSP that allows only 'self'.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { diag } from '@opentelemetry/api';
import { chartJsUmdPath, publicDir } from './locate.js';

interface Asset {
  file: () => string;
  type: string;
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ASSETS: Record<string, Asset> = {
  '/': { file: () => join(publicDir(), 'index.html'), type: 'text/html; charset=utf-8' },
  '/index.html': { file: () => join(publicDir(), 'index.html'), type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: () => join(publicDir(), 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/style.css': { file: () => join(publicDir(), 'style.css'), type: 'text/css; charset=utf-8' },
  '/assets/chart.umd.js': { file: chartJsUmdPath, type: 'text/javascript; charset=utf-8' },
};

export class StaticAssets {
  private readonly cache = new Map<string, Buffer>();

  has(path: string): boolean {
    return Object.hasOwn(ASSETS, path);
  }

  /** Answers GET or HEAD for one of the known paths. */
  serve(req: IncomingMessage, res: ServerResponse, path: string): void {
    const asset = ASSETS[path];
    let body: Buffer;
    try {
      body = this.load(path, asset);
    } catch (err) {
      diag.error(`dev-backend page: cannot read the file for ${path}: ${(err as Error).message}`);
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('The dev backend page files are missing from this installation.\n');
      return;
    }
    const headers: Record<string, string> = {
      'content-type': asset.type,
      'content-length': String(body.length),
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    };
    if (asset.type.startsWith('text/html')) {
      headers['content-security-policy'] = CSP;
      headers['referrer-policy'] = 'no-referrer';
    }
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private load(path: string, asset: Asset): Buffer {
    let body = this.cache.get(path);
    if (body === undefined) {
      body = readFileSync(asset.file());
      this.cache.set(path, body);
    }
    return body;
  }
}
