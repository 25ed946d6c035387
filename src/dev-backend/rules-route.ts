/** `GET /api/v1/rules`: the ruleset with an ETag; 304 when unchanged; 404 when there is none. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BackendContext } from './context.js';
import { answerDown, answerFault } from './fault-response.js';
import { RulesSource } from './rules-source.js';
import { sendDetail } from './respond.js';

export const RULES_PATH = '/api/v1/rules';

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

export async function handleRules(ctx: BackendContext, req: IncomingMessage, res: ServerResponse): Promise<number> {
  req.resume();
  const down = ctx.faults.down('GET', RULES_PATH);
  if (down) return answerDown(down, res);
  const fault = ctx.faults.take('GET', RULES_PATH);
  if (fault) {
    const outcome = await answerFault(fault, req, res);
    if (outcome !== 'continue') return outcome;
    if (ctx.stopped()) return 0;
  }
  if (!ctx.auth.allows(header(req, 'x-api-key'), header(req, 'x-project-id'))) {
    sendDetail(res, 401, 'Invalid API key or project ID');
    return 401;
  }
  const served = ctx.rules.served;
  if (served === null) {
    sendDetail(res, 404, 'No rules');
    return 404;
  }
  if (RulesSource.matches(header(req, 'if-none-match'), served.etag)) {
    res.writeHead(304, { etag: served.etag });
    res.end();
    return 304;
  }
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(served.body)),
    etag: served.etag,
  });
  res.end(served.body);
  return 200;
}
