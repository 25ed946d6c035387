/**
 * Sees every request of every `node:http` / `node:https` server in the process
 * through `diagnostics_channel`, without patching `http` and without touching
 * the host's `@opentelemetry/instrumentation-http` config (whose hooks run
 * before the final status is known).
 *
 * Node 20 and 24 both publish, with `{ request, response, socket, server }`:
 *   `http.server.request.start`   synchronously, just before the server
 *                                  emits 'request' (the app handler);
 *   `http.server.response.finish` when the response has been handed to the OS.
 * (Node 24 adds `http.server.response.created`, not needed here.)
 * https servers share `_http_server`'s code path and publish the same.
 *
 * The request gate: `request.start` runs before the app handler, so a gate can
 * answer there, but the handler would still run afterwards and write to an
 * ended response (ERR_STREAM_WRITE_AFTER_END, an unhandled 'error' that kills
 * the process; checked on Node 20.20 and 24.21). So when a gate is set, the
 * observer also wraps the `emit` of each server it sees (an own property, set
 * during the first request.start of that server, before that same request's
 * 'request' emit) to swallow 'request'/'checkContinue' for responses the gate
 * answered. Servers are unwrapped when the gate is removed or the observer stops.
 * A gate may also decide asynchronously (a rate limit kept in Redis): the
 * wrapper then holds the 'request' emit until the decision settles.
 *
 * A subscriber that throws has its error re-thrown on the next tick by Node
 * (an uncaughtException in the host): every callback here is guarded.
 */
import { diag } from '@opentelemetry/api';
import dc from 'node:diagnostics_channel';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export const REQUEST_START_CHANNEL = 'http.server.request.start';
export const RESPONSE_FINISH_CHANNEL = 'http.server.response.finish';

/** What the observer's owner decides at request start. */
export const RequestDecision = Object.freeze({
  /** Not observed (ignored path, observation off). */
  Ignore: 0,
  /** Observed; the app handler runs. */
  Observe: 1,
  /** The gate answered: observed, and the app handler is not called. */
  Answered: 2,
} as const);
export type RequestDecision = (typeof RequestDecision)[keyof typeof RequestDecision];

export interface FinishedRequest {
  req: IncomingMessage;
  res: ServerResponse;
  durationSeconds: number;
  /**
   * Bytes the response put on the connection: status line, headers and body
   * (after any compression), measured as the socket's `bytesWritten` growth
   * between request start and response finish. Falls back to Content-Length
   * when that cannot be measured. With HTTP/1.1 pipelining a response's count
   * may include the tail of the previous one on the same socket.
   */
  bytesOut?: number;
  /** True when the gate produced the response, not the app. */
  answeredByGate: boolean;
}

export interface HttpObserverCallbacks {
  /**
   * A promise defers the app handler until it settles: true means the gate
   * answered (the handler is not called), false lets the request through.
   */
  onRequestStart(req: IncomingMessage, res: ServerResponse): RequestDecision | Promise<boolean>;
  onRequestFinished(finished: FinishedRequest): void;
}

interface ChannelMessage {
  request: IncomingMessage;
  response: ServerResponse;
  socket?: Socket;
  server?: Server;
}

interface InFlight {
  startNs: bigint;
  socketBytesAtStart: number;
  answered: boolean;
  /** Set while an asynchronous gate decision (e.g. a Redis rate limit) is pending. */
  pending?: Promise<boolean>;
}

const WRAPPED = Symbol('guard-agent-otel.emitWrapper');

type EmitFn = (event: string | symbol, ...args: unknown[]) => boolean;
interface WrappedEmit extends EmitFn {
  [WRAPPED]: { hadOwn: boolean; own: EmitFn | undefined };
}

export class HttpServerObserver {
  private readonly callbacks: HttpObserverCallbacks;
  private inFlight = new WeakMap<ServerResponse, InFlight>();
  private readonly wrappedServers = new Set<Server>();
  private subscribed = false;
  private gateActive = false;

  constructor(callbacks: HttpObserverCallbacks) {
    this.callbacks = callbacks;
  }

  get isObserving(): boolean {
    return this.subscribed;
  }

  start(): void {
    if (this.subscribed) return;
    dc.subscribe(REQUEST_START_CHANNEL, this.onStart);
    dc.subscribe(RESPONSE_FINISH_CHANNEL, this.onFinish);
    this.subscribed = true;
  }

  stop(): void {
    if (!this.subscribed) return;
    dc.unsubscribe(REQUEST_START_CHANNEL, this.onStart);
    dc.unsubscribe(RESPONSE_FINISH_CHANNEL, this.onFinish);
    this.subscribed = false;
    this.inFlight = new WeakMap();
    this.unwrapServers();
  }

  /** Whether a gate may answer requests (servers' emit is wrapped only then). */
  setGateActive(active: boolean): void {
    this.gateActive = active;
    if (!active) this.unwrapServers();
  }

  private readonly onStart = (message: unknown): void => {
    const m = message as ChannelMessage;
    try {
      if (this.gateActive && m.server) this.wrapServer(m.server);
      const decision = this.callbacks.onRequestStart(m.request, m.response);
      if (decision === RequestDecision.Ignore) return;
      const state: InFlight = {
        startNs: process.hrtime.bigint(),
        socketBytesAtStart: m.socket?.bytesWritten ?? 0,
        answered: decision === RequestDecision.Answered,
      };
      if (typeof decision === 'object') {
        const res = m.response;
        state.pending = decision.then(
          (answered) => (state.answered = answered === true || res.writableEnded || res.headersSent),
          (err: unknown) => {
            diag.error('guard-agent-otel: asynchronous request gate failed; the request goes on to the app', err);
            return (state.answered = res.writableEnded || res.headersSent);
          },
        );
      }
      this.inFlight.set(m.response, state);
    } catch (err) {
      diag.error('guard-agent-otel: request observation failed at start', err);
    }
  };

  private readonly onFinish = (message: unknown): void => {
    const m = message as ChannelMessage;
    const state = this.inFlight.get(m.response);
    if (state === undefined) return;
    this.inFlight.delete(m.response);
    try {
      const durationSeconds = Number(process.hrtime.bigint() - state.startNs) / 1e9;
      const bytesOut = responseBytes(m.response, m.socket, state.socketBytesAtStart);
      this.callbacks.onRequestFinished({
        req: m.request,
        res: m.response,
        durationSeconds,
        ...(bytesOut === undefined ? {} : { bytesOut }),
        answeredByGate: state.answered,
      });
    } catch (err) {
      diag.error('guard-agent-otel: request observation failed at finish', err);
    }
  };

  private wrapServer(server: Server): void {
    const current = (server as unknown as { emit: EmitFn }).emit as Partial<WrappedEmit>;
    if (current[WRAPPED] !== undefined) return;
    const hadOwn = Object.prototype.hasOwnProperty.call(server, 'emit');
    const own = hadOwn ? (current as EmitFn) : undefined;
    const inFlight = (res: unknown): InFlight | undefined => this.inFlight.get(res as ServerResponse);
    const wrapper = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
      // Resolved per call: a later patch of Server.prototype.emit is honoured.
      const target = own ?? (Object.getPrototypeOf(this) as { emit: EmitFn }).emit;
      if (event === 'request' || event === 'checkContinue') {
        const state = inFlight(args[1]);
        if (state?.answered === true) return true;
        if (state?.pending !== undefined) {
          // The app handler runs once the gate has decided; the request body waits, paused, in the socket.
          void state.pending.then((answered) => {
            // nextTick: an app handler that throws surfaces as an uncaught exception, as it would undeferred.
            if (!answered) process.nextTick(() => target.call(this, event, ...args));
          });
          return true;
        }
      }
      return target.call(this, event, ...args);
    } as WrappedEmit;
    wrapper[WRAPPED] = { hadOwn, own };
    (server as unknown as { emit: EmitFn }).emit = wrapper;
    this.wrappedServers.add(server);
    server.once('close', () => this.wrappedServers.delete(server));
  }

  private unwrapServers(): void {
    for (const server of this.wrappedServers) {
      const current = (server as unknown as { emit: Partial<WrappedEmit> }).emit;
      const info = current[WRAPPED];
      if (info === undefined) continue; // someone wrapped over us: leave their wrapper in place
      if (info.hadOwn && info.own) (server as unknown as { emit: EmitFn }).emit = info.own;
      else delete (server as unknown as { emit?: EmitFn }).emit;
    }
    this.wrappedServers.clear();
  }
}

function responseBytes(res: ServerResponse, socket: Socket | undefined, socketBytesAtStart: number): number | undefined {
  if (socket !== undefined && typeof socket.bytesWritten === 'number') {
    const delta = socket.bytesWritten - socketBytesAtStart;
    if (delta > 0) return delta;
  }
  // Headers given to writeHead() only are not visible through getHeader().
  const header = res.getHeader('content-length');
  const length = typeof header === 'string' ? Number(header) : typeof header === 'number' ? header : NaN;
  return Number.isFinite(length) && length >= 0 ? length : undefined;
}
