/**
 * Answers a request with a one-shot fault. Returns the status sent (0 when
 * the socket was reset), or `'continue'` when the fault only delayed the
 * request and normal handling should go on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { REASONS, sendJson, sendOversized, sendRaw } from './respond.js';
import type { DownFault, Fault } from './types.js';

/** Unref'd, so a pending injected delay never keeps the process alive after stop(). */
const wait = (ms: number): Promise<void> => sleep(ms, undefined, { ref: false });

export async function answerFault(fault: Fault, req: IncomingMessage, res: ServerResponse): Promise<number | 'continue'> {
  if (fault.delayMs) await wait(fault.delayMs);
  // The client (or stop()) closed the connection while we waited: nothing is left to answer.
  if (fault.kind !== 'delay' && (res.destroyed || req.socket.destroyed)) return 0;
  switch (fault.kind) {
    case 'delay':
      await wait(fault.ms);
      return 'continue';
    case 'status': {
      const headers: Record<string, string> = { ...fault.headers };
      if (fault.retryAfterDateSeconds !== undefined) {
        headers['Retry-After'] = new Date(Date.now() + fault.retryAfterDateSeconds * 1000).toUTCString();
      }
      if (typeof fault.body === 'string') sendRaw(res, fault.status, fault.body, 'text/plain', headers);
      else sendJson(res, fault.status, fault.body ?? { detail: REASONS[fault.status] ?? `Injected ${fault.status}` }, headers);
      return fault.status;
    }
    case 'reset':
      // An RST, not a FIN: the client sees ECONNRESET, as when a proxy or the backend dies mid-request.
      req.socket.resetAndDestroy();
      return 0;
    case 'garbage':
      sendRaw(res, 200, fault.body ?? '<html>maintenance</html>', 'text/html');
      return 200;
    case 'oversized': {
      const status = fault.status ?? 500;
      await sendOversized(res, status, fault.bytes);
      return status;
    }
    case 'successFalse':
      sendJson(res, 200, { success: false, errors: fault.errors ?? ['Event quota exceeded. Upgrade your plan.'] });
      return 200;
    case 'maxItems':
    case 'down':
      // Standing conditions are checked by the routes, never dequeued here.
      return 'continue';
  }
}

/** The outage answer: 503, with Retry-After when the outage has a known end. */
export function answerDown(fault: DownFault, res: ServerResponse, now = Date.now()): number {
  const headers: Record<string, string> = {};
  if (fault.untilMs !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil((fault.untilMs - now) / 1000)));
  sendJson(res, 503, { detail: 'Service Unavailable' }, headers);
  return 503;
}
