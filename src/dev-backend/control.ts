/**
 * The control API for tests that run the agent in a child process:
 *   POST   /__control/faults  one fault, an array of faults, or {"spec":"503x3,..."}: appended
 *   GET    /__control/faults  the pending faults
 *   DELETE /__control/faults  clears them
 *   GET    /__control/state   {stats, eventCount, metricCount, statusCount, batchCount, idempotencyKeys}
 *   POST   /__control/reset   clears stored data and faults
 *   PUT    /__control/rules   sets the ruleset (a JSON object, or null for none)
 * No API key: it is served by the dev backend only, which binds to 127.0.0.1 by default.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BackendContext } from './context.js';
import { readRawBody } from './body.js';
import { parseFaultSpec } from './fault-spec.js';
import { sendDetail, sendJson } from './respond.js';
import type { Fault } from './types.js';

const CONTROL_BODY_LIMIT = 1024 * 1024;

/** JSON cannot carry Infinity: pending `times` go out as the string "Infinity". */
function faultList(ctx: BackendContext): unknown {
  return ctx.faults.list().map((f) => JSON.parse(JSON.stringify(f, (_k, v) => (v === Infinity ? 'Infinity' : v)) as string) as unknown);
}

async function readJson(req: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; detail: string }> {
  const body = await readRawBody(req, CONTROL_BODY_LIMIT);
  if (body.overLimit) return { ok: false, detail: 'Control body too large' };
  try {
    return { ok: true, value: JSON.parse(body.bytes.toString('utf8')) as unknown };
  } catch {
    return { ok: false, detail: 'Invalid JSON in request body' };
  }
}

export async function handleControl(ctx: BackendContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const method = req.method ?? 'GET';
  const route = `${method} ${path}`;
  if (method !== 'POST' && method !== 'PUT') req.resume();
  switch (route) {
    case 'POST /__control/faults': {
      const body = await readJson(req);
      if (!body.ok) return sendDetail(res, 400, body.detail);
      try {
        const v = body.value as { spec?: unknown } | null;
        const faults: Fault[] =
          v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.spec === 'string'
            ? parseFaultSpec(v.spec)
            : ((Array.isArray(body.value) ? body.value : [body.value]) as Fault[]);
        ctx.faults.push(faults);
      } catch (err) {
        return sendDetail(res, 400, (err as Error).message);
      }
      return sendJson(res, 200, { ok: true, faults: faultList(ctx) });
    }
    case 'GET /__control/faults':
      return sendJson(res, 200, { faults: faultList(ctx) });
    case 'DELETE /__control/faults':
      ctx.faults.clear();
      return sendJson(res, 200, { ok: true });
    case 'GET /__control/state':
      return sendJson(res, 200, {
        stats: ctx.store.stats,
        eventCount: ctx.store.eventCount,
        metricCount: ctx.store.metrics.length,
        statusCount: ctx.store.statuses.length,
        batchCount: ctx.store.batches.length,
        idempotencyKeys: ctx.store.idempotencyKeys(),
      });
    case 'POST /__control/reset':
      req.resume();
      ctx.reset();
      return sendJson(res, 200, { ok: true });
    case 'PUT /__control/rules': {
      const body = await readJson(req);
      if (!body.ok) return sendDetail(res, 400, body.detail);
      if (body.value !== null && (typeof body.value !== 'object' || Array.isArray(body.value))) {
        return sendDetail(res, 400, 'Rules must be a JSON object or null');
      }
      ctx.setRules(body.value as object | null);
      return sendJson(res, 200, { ok: true });
    }
    default:
      req.resume();
      return sendDetail(res, 404, 'Not Found');
  }
}
