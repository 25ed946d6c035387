/**
 * Dispatch: the control API, the five guard API routes, and FastAPI-like
 * answers for everything else (404, 405, and a 307 for a trailing slash,
 * which the agent must not follow).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { diag } from '@opentelemetry/api';
import { RequestAbortedError } from './body.js';
import type { BackendContext } from './context.js';
import { handleControl } from './control.js';
import { ENCRYPTED_PATH, EVENTS_PATH, METRICS_PATH, STATUS_PATH, handleIngest } from './ingest.js';
import { RULES_PATH, handleRules } from './rules-route.js';
import { sendDetail } from './respond.js';

const ROUTES: Record<string, 'GET' | 'POST'> = {
  [EVENTS_PATH]: 'POST',
  [METRICS_PATH]: 'POST',
  [ENCRYPTED_PATH]: 'POST',
  [STATUS_PATH]: 'POST',
  [RULES_PATH]: 'GET',
};

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded) return resolve();
    req.on('end', resolve).on('error', () => resolve()).on('close', resolve);
    req.resume();
  });
}

async function route(ctx: BackendContext, req: IncomingMessage, res: ServerResponse, path: string, search: string): Promise<number> {
  const method = req.method ?? 'GET';
  const allowed = ROUTES[path];
  if (allowed === undefined) {
    await drain(req);
    const withoutSlash = path.replace(/\/+$/, '');
    if (withoutSlash !== path && ROUTES[withoutSlash] !== undefined) {
      res.writeHead(307, { location: withoutSlash + search, 'content-length': '0' });
      res.end();
      return 307;
    }
    sendDetail(res, 404, 'Not Found');
    return 404;
  }
  if (method !== allowed) {
    await drain(req);
    sendDetail(res, 405, 'Method Not Allowed', { allow: allowed });
    return 405;
  }
  return allowed === 'GET' ? handleRules(ctx, req, res) : handleIngest(ctx, req, res, path);
}

export async function handleRequest(ctx: BackendContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://dev-backend.invalid');
  const path = url.pathname;
  try {
    if (ctx.controlApi && path.startsWith('/__control/')) {
      await handleControl(ctx, req, res, path);
      return;
    }
    const status = await route(ctx, req, res, path, url.search);
    const record = { method: req.method ?? 'GET', path, status, at: Date.now() };
    ctx.store.countRequest(record);
    ctx.emit('request', record);
  } catch (err) {
    if (err instanceof RequestAbortedError || req.destroyed) {
      diag.debug(`dev-backend: ${req.method} ${path}: client went away`);
      return;
    }
    diag.error(`dev-backend: ${req.method} ${path} failed: ${(err as Error).stack ?? String(err)}`);
    if (!res.headersSent && !res.destroyed) sendDetail(res, 500, 'Internal Server Error');
    else res.destroy();
  }
}
