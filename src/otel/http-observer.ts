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
 * A response whose connection closes before it finished (the client gave up
 * on a slow answer, a load balancer's timeout, the app destroyed it) never
 * publishes `response.finish`: the response's 'close' event reports it
 * instead, once, as `aborted`. Without it the slowest requests, and a client
 * that disconnects on purpose, would not be counted at all. (Responses still
 * queued behind the one being written when a pipelining client closes its
 * connection get no 'close' from Node and stay uncounted.)
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
 * Upgrades: a request Node hands to an 'upgrade' listener (a WebSocket
 * handshake) or a 'connect' listener (HTTP CONNECT) gets no response object
 * and publishes no `request.start`. While a gate is set, the wrapper also
 * passes those to `onUpgrade`, which may answer on the socket; and since a
 * WebSocket-only server may never see a plain request, servers are also
 * wrapped from `net.server.socket` (published per connection, with the
 * accepted socket, whose `server` is the listening server).
 *
 * A subscriber that throws has its error re-thrown on the next tick by Node
 * (an uncaughtException in the host): every callback here is guarded.
 */
import { diag } from '@opentelemetry/api';
import dc from 'node:diagnostics_channel';
import { Server as HttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export const REQUEST_START_CHANNEL = 'http.server.request.start';
export const RESPONSE_FINISH_CHANNEL = 'http.server.response.finish';
export const SERVER_SOCKET_CHANNEL = 'net.server.socket';

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
  /** True when the connection closed before the response finished (`res.headersSent` tells whether a status reached the client). */
  aborted: boolean;
}

export interface HttpObserverCallbacks {
  /**
   * A promise defers the app handler until it settles: true means the gate
   * answered (the handler is not called), false lets the request through.
   */
  onRequestStart(req: IncomingMessage, res: ServerResponse): RequestDecision | Promise<boolean>;
  onRequestFinished(finished: FinishedRequest): void;
  /**
   * An 'upgrade' or 'connect' request (no response object): true means the
   * gate answered on the socket and the server's listener is not called; a
   * promise defers the listener until it settles, as for requests.
   */
  onUpgrade?(req: IncomingMessage, socket: Duplex): boolean | Promise<boolean>;
}

interface ChannelMessage {
  request: IncomingMessage;
  response: ServerResponse;
  socket?: Socket;
  server?: Server;
}

/** Per-request state; a class so every instance has one shape (the hot path stays monomorphic). */
class InFlight {
  /** Set while an asynchronous gate decision (e.g. a Redis rate limit) is pending. */
  pending: Promise<boolean> | undefined = undefined;
  constructor(
    /** The observer run (see HttpServerObserver.run) the request started in. */
    readonly run: number,
    readonly startMs: number,
    readonly socketBytesAtStart: number,
    public answered: boolean,
  ) {}
}

const WRAPPED = Symbol('guard-agent-otel.emitWrapper');

type EmitFn = (event: string | symbol, ...args: unknown[]) => boolean;
interface WrappedEmit extends EmitFn {
  [WRAPPED]: { hadOwn: boolean; own: EmitFn | undefined; owner: HttpServerObserver };
}

export class HttpServerObserver {
  private readonly callbacks: HttpObserverCallbacks;
  /**
   * Where a response's InFlight is kept: a property of the response itself,
   * under a symbol of this observer. (A WeakMap keyed by the response cost
   * ~0.2 µs per request for the set/get/delete of an ephemeron entry.)
   */
  private readonly stateKey = Symbol('guard-agent-otel.inFlight');
  /** Bumped by stop(): state left on responses by an earlier run is ignored. */
  private run = 0;
  /** Each wrapped server, with its 'close' listener (removed on unwrap: a gate set and removed again and again must not pile them up). */
  private readonly wrappedServers = new Map<Server, () => void>();
  private subscribed = false;
  private gateActive = false;
  /** Subscribed to net.server.socket (while a gate is active): servers are wrapped at their first connection. */
  private watchingSockets = false;
  /** The server wrapped last: its next requests skip the wrap check (an app usually has one server). */
  private lastWrapped: Server | undefined = undefined;

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
    this.run++;
    this.watchSockets(false);
    this.unwrapServers();
  }

  /** Whether a gate may answer requests (servers' emit is wrapped only then). */
  setGateActive(active: boolean): void {
    this.gateActive = active;
    this.watchSockets(active && this.subscribed && this.callbacks.onUpgrade !== undefined);
    if (!active) this.unwrapServers();
  }

  private watchSockets(on: boolean): void {
    if (on === this.watchingSockets) return;
    if (on) dc.subscribe(SERVER_SOCKET_CHANNEL, this.onServerSocket);
    else dc.unsubscribe(SERVER_SOCKET_CHANNEL, this.onServerSocket);
    this.watchingSockets = on;
  }

  /** A connection accepted by any server: an HTTP(S) server not wrapped yet is wrapped now, before its first request. */
  private readonly onServerSocket = (message: unknown): void => {
    try {
      const server = (message as { socket?: { server?: unknown } }).socket?.server;
      if (!this.gateActive || server === this.lastWrapped) return;
      if (server instanceof HttpServer || server instanceof HttpsServer) this.wrapServer(server as Server);
    } catch (err) {
      diag.error('guard-agent-otel: watching a new connection failed', err);
    }
  };

  // The two callbacks below run for every request of every server: they allocate one
  // InFlight and one FinishedRequest, read a monotonic clock (a double, no BigInt) and
  // the socket's byte counter, and nothing else (see bench/enforcement.ts).
  private readonly onStart = (message: unknown): void => {
    const m = message as ChannelMessage;
    try {
      if (this.gateActive && m.server !== undefined && m.server !== this.lastWrapped) this.wrapServer(m.server);
      const decision = this.callbacks.onRequestStart(m.request, m.response);
      if (decision === RequestDecision.Ignore) return;
      if (decision === RequestDecision.Answered && m.request.headers.expect !== undefined) forgetExpectation(m.request);
      const socket = m.socket;
      const state = new InFlight(this.run, performance.now(), socket === undefined ? 0 : socketBytes(socket), decision === RequestDecision.Answered);
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
      (m.response as unknown as Record<symbol, InFlight | undefined>)[this.stateKey] = state;
      // One shared listener (no closure per request); after a normal finish it finds no state and does nothing.
      m.response.on('close', this.onResponseClose);
    } catch (err) {
      diag.error('guard-agent-otel: request observation failed at start', err);
    }
  };

  private readonly onFinish = (message: unknown): void => {
    const m = message as ChannelMessage;
    this.report(m.request, m.response, m.socket, false);
  };

  /** A response's 'close' (`this` is the response): reports it only if it never finished. */
  private readonly onResponseClose = ((observer: HttpServerObserver) =>
    function (this: ServerResponse): void {
      try {
        observer.report(this.req, this, this.socket ?? undefined, true);
      } catch (err) {
        diag.error('guard-agent-otel: request observation failed at close', err);
      }
    })(this);

  /** Hands an observed request to the owner, once: the state is taken off the response first. */
  private report(req: IncomingMessage, res: ServerResponse, socket: Socket | undefined, aborted: boolean): void {
    const state = this.stateOf(res);
    if (state === undefined) return;
    (res as unknown as Record<symbol, InFlight | undefined>)[this.stateKey] = undefined;
    try {
      const durationSeconds = (performance.now() - state.startMs) / 1e3;
      const finished: FinishedRequest = { req, res, durationSeconds, answeredByGate: state.answered, aborted };
      const bytesOut = responseBytes(res, socket, state.socketBytesAtStart, aborted);
      if (bytesOut !== undefined) finished.bytesOut = bytesOut;
      this.callbacks.onRequestFinished(finished);
    } catch (err) {
      diag.error('guard-agent-otel: request observation failed at finish', err);
    }
  }

  /** The InFlight of a response observed in the current run, if any. */
  private stateOf(res: unknown): InFlight | undefined {
    if (typeof res !== 'object' || res === null) return undefined;
    const state = (res as Record<symbol, InFlight | undefined>)[this.stateKey];
    return state !== undefined && state.run === this.run ? state : undefined;
  }

  private wrapServer(server: Server): void {
    const current = (server as unknown as { emit: EmitFn }).emit as Partial<WrappedEmit>;
    // Still wrapped by us: nothing to do. A wrapper of another observer (a second instrumentation in the
    // process) swallows only what its own gate answered, so ours goes on top of it.
    if (current[WRAPPED] !== undefined && this.wrappedServers.has(server)) {
      this.lastWrapped = server;
      return;
    }
    const hadOwn = Object.prototype.hasOwnProperty.call(server, 'emit');
    const own = hadOwn ? (current as EmitFn) : undefined;
    const stateOf = (res: unknown): InFlight | undefined => this.stateOf(res);
    const checkUpgrade = (req: unknown, socket: unknown): boolean | Promise<boolean> => this.checkUpgrade(req, socket);
    // Every event of the server goes through here ('connection' per socket, 'request' per
    // request): fixed parameters and `arguments` handed on as is, no rest array or spread.
    const wrapper = function (this: Server, event: string | symbol, req?: unknown, res?: unknown): boolean {
      // Resolved per call: a later patch of Server.prototype.emit is honoured.
      const target = own ?? (Object.getPrototypeOf(this) as { emit: EmitFn }).emit;
      if (event === 'request' || event === 'checkContinue') {
        const state = stateOf(res);
        if (state !== undefined) {
          if (state.answered) return true;
          if (state.pending !== undefined) {
            // The app handler runs once the gate has decided; the request body waits, paused, in the socket.
            void state.pending.then((answered) => {
              // nextTick: an app handler that throws surfaces as an uncaught exception, as it would undeferred.
              if (!answered) process.nextTick(() => target.call(this, event, req, res));
            });
            return true;
          }
        }
      } else if (event === 'upgrade' || event === 'connect') {
        const answered = checkUpgrade(req, res);
        if (answered === true) return true;
        if (answered !== false) {
          // eslint-disable-next-line prefer-rest-params
          const args = arguments;
          void answered.then((yes) => {
            if (!yes) process.nextTick(() => Reflect.apply(target, this, args));
          });
          return true;
        }
      }
      // eslint-disable-next-line prefer-rest-params
      return Reflect.apply(target, this, arguments) as boolean;
    } as WrappedEmit;
    wrapper[WRAPPED] = { hadOwn, own, owner: this };
    (server as unknown as { emit: EmitFn }).emit = wrapper;
    const onClose = (): void => {
      this.wrappedServers.delete(server);
      if (this.lastWrapped === server) this.lastWrapped = undefined;
    };
    this.wrappedServers.set(server, onClose);
    this.lastWrapped = server;
    server.once('close', onClose);
  }

  /** The owner's verdict on an upgrade or CONNECT request; false (let through) when there is none or it fails. */
  private checkUpgrade(req: unknown, socket: unknown): boolean | Promise<boolean> {
    const onUpgrade = this.callbacks.onUpgrade;
    if (onUpgrade === undefined || !this.gateActive) return false;
    try {
      const answered = onUpgrade(req as IncomingMessage, socket as Duplex);
      if (answered === true || answered === false) return answered;
      return answered.catch((err: unknown) => {
        diag.error('guard-agent-otel: asynchronous upgrade check failed; the request goes on to the app', err);
        return false;
      });
    } catch (err) {
      diag.error('guard-agent-otel: upgrade check failed; the request goes on to the app', err);
      return false;
    }
  }

  private unwrapServers(): void {
    for (const [server, onClose] of this.wrappedServers) {
      server.removeListener('close', onClose);
      const current = (server as unknown as { emit: Partial<WrappedEmit> }).emit;
      const info = current[WRAPPED];
      if (info === undefined || info.owner !== this) continue; // someone wrapped over us: leave their wrapper in place
      if (info.hadOwn && info.own) (server as unknown as { emit: EmitFn }).emit = info.own;
      else delete (server as unknown as { emit?: EmitFn }).emit;
    }
    this.wrappedServers.clear();
    this.lastWrapped = undefined;
  }
}

/**
 * Right after publishing request.start, Node acts on an `Expect` header
 * itself: it writes `100 Continue` (after the gate's final answer: a stray
 * response a client takes for its next request's), or for any other
 * expectation a 417, whose writeHead on the answered response throws
 * ERR_HTTP_HEADERS_SENT inside the parser, an uncaught exception that kills
 * the host. The gate gave the final answer, so the expectation is settled:
 * the header goes, and Node goes straight to the 'request' emit, which the
 * server's wrapper swallows. (`req.headers` is Node's cached object.)
 */
function forgetExpectation(req: IncomingMessage): void {
  delete req.headers.expect;
}

function responseBytes(res: ServerResponse, socket: Socket | undefined, socketBytesAtStart: number, aborted: boolean): number | undefined {
  if (socket !== undefined) {
    const delta = socketBytes(socket) - socketBytesAtStart;
    if (delta > 0) return delta;
  }
  // A response cut short did not send what its Content-Length announced.
  if (aborted) return undefined;
  // Headers given to writeHead() only are not visible through getHeader().
  const header = res.getHeader('content-length');
  const length = typeof header === 'string' ? Number(header) : typeof header === 'number' ? header : NaN;
  return Number.isFinite(length) && length >= 0 ? length : undefined;
}

/**
 * `socket.bytesWritten`: bytes handed to the OS plus those still queued in the
 * stream. Node's getter copies the stream's write queue into a new array to sum
 * it; the queue is empty almost always (at request start and once a response
 * finished), and then the bytes handed to the OS are the whole answer.
 */
function socketBytes(socket: Socket): number {
  const s = socket as Socket & { _bytesDispatched?: unknown; writableLength?: number; _pendingData?: unknown };
  if (s.writableLength === 0 && s._pendingData == null) {
    const dispatched = s._bytesDispatched;
    if (typeof dispatched === 'number') return dispatched;
  }
  const total = socket.bytesWritten;
  return typeof total === 'number' ? total : 0;
}
