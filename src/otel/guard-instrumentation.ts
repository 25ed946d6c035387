/**
 * GuardInstrumentation: the agent's OpenTelemetry instrumentation. Registered
 * in the host's NodeSDK (`instrumentations: [guard.instrumentation, ...]`), it
 *
 * - receives the SDK's providers (`setTracerProvider`, `setMeterProvider`,
 *   `setLoggerProvider`, called by `registerInstrumentations`) and hands them
 *   on: the handler takes its Logger from `getLoggerProvider()`, which is the
 *   provider of the line the host runs, never a hard-wired global;
 * - observes every request of node:http/https servers through
 *   diagnostics_channel (see http-observer.ts) and, per finished response,
 *   records the guard request metrics and emits `observed` security events for
 *   401/403/429 answers the app produced;
 * - enforces the backend's dynamic rules (`setRules`, fed by the handler's
 *   RulePoller; see enforcement.ts): `mode: 'monitor'` (default) reports
 *   what the rules would block, `mode: 'enforce'` answers 403/429 before the
 *   app handler runs;
 * - exposes `setRequestGate(fn)`, an app's own gate, called before the rules.
 *
 * InstrumentationBase calls `init()`, `_updateMetricInstruments()` and
 * `enable()` from its constructor, before this class's fields exist (and
 * field initialisers would then overwrite whatever those calls set). So
 * `enable()` does nothing of its own until the constructor has finished
 * (`constructed`), and the constructor enables again at its end.
 * `config.enabled: false` keeps upstream semantics: not enabled at
 * construction, enabled by `registerInstrumentations` (NodeSDK.start()).
 * `observeRequests: false` is the switch that turns observation off.
 */
import { diag, metrics, type Attributes, type Counter, type Histogram, type Meter, type MeterProvider, type TracerProvider } from '@opentelemetry/api';
import { InstrumentationBase, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import type { AggregationTemporality, MetricProducer } from '@opentelemetry/sdk-metrics';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DynamicRules } from '../models/dynamic-rules.js';
import type { SecurityEventInput } from '../models/security-event.js';
import type { SlidingWindowLimiter } from '../rules/sliding-window.js';
import { VERSION } from '../version.js';
import { clientIp, socketAddressOf } from './client-ip.js';
import { countryFrom, Enforcement, type EnforcementMode, type EnforcementOptions, type EnforcementStats } from './enforcement.js';
import { RequestTotals, RESPONSE_TIME_BUCKETS_S, RESPONSE_TIME_DESCRIPTION } from './guard-instruments.js';
import { HttpServerObserver, RequestDecision, type FinishedRequest } from './http-observer.js';
import { checkInstrumentationConfig } from './instrumentation-config.js';
import { logsApiOfLine, type LoggerLike, type LoggerProviderLike } from './otel-line.js';
import { ResponseTimeHistograms } from './response-time-histograms.js';
import { hasRouteTemplate, pathOf, requestPath, routeKey, type RoutedRequest } from './route-key.js';
import { DEFAULT_MAX_UNMATCHED_ROUTE_KEYS, isUnmatchedStatus, UnmatchedRouteBudget } from './unmatched-routes.js';
import type { Duplex } from 'node:stream';

export const GUARD_INSTRUMENTATION_NAME = 'guard-agent-otel';

/** Which app-produced statuses become security events (all on by default). */
export interface StatusEventSwitches {
  401?: boolean;
  403?: boolean;
  429?: boolean;
}

export interface GuardInstrumentationConfig extends InstrumentationConfig {
  /** Observe incoming requests at all (default true). */
  observeRequests?: boolean;
  /** Record guard.request.* metrics (default true). */
  recordMetrics?: boolean;
  /** Emit security events for 401/403/429 (default true; needs `setEmitEvent`). */
  emitEvents?: boolean;
  statusEvents?: StatusEventSwitches;
  /** Trusted reverse proxies in front of the app (0: socket address; see client-ip.ts). */
  trustedProxyDepth?: number;
  /** Request header carrying an ISO country code set by a trusted edge (e.g. `cf-ipcountry`). */
  countryHeader?: string;
  /** Paths not observed: a string matches the path and everything below it; a RegExp is tested on the path. */
  ignorePaths?: (string | RegExp)[];
  /**
   * What the dynamic rules do: `'monitor'` (default) only reports the
   * requests they would block (events with `action_taken: 'logged_only'`);
   * `'enforce'` answers them (403, 429 with Retry-After) before the app handler.
   */
  mode?: EnforcementMode;
  /** Check requests against the dynamic rules at all (default true). */
  enforcement?: boolean;
  /**
   * Distinct paths per metric interval that keep their own `endpoint` for
   * requests no route template matched and answered 400, 404 or 405 (a
   * scanner's); past it they share the endpoint `(unmatched)`. Default 200,
   * from 0 to 2000. Routed requests are never grouped. See unmatched-routes.ts.
   */
  maxUnmatchedRouteKeys?: number;
}

/** One finished request, as handed to the sink. */
export interface RequestObservation {
  /** Bounded-cardinality route key (framework template or normalised path). */
  route: string;
  /**
   * True when `route` is the framework's template. Otherwise it is the
   * normalised path, and the request metrics group such 400/404/405 answers
   * past `maxUnmatchedRouteKeys` paths per interval (absent counts as false).
   */
  routed?: boolean;
  /** The URL path without query string. */
  path: string;
  method: string;
  status: number;
  durationSeconds: number;
  bytesOut?: number;
  clientIp: string;
  userAgent: string;
  country?: string;
  /** True when the request gate answered, not the app. */
  answeredByGate: boolean;
  /** True when the connection closed before the response finished (status CLIENT_CLOSED_STATUS if none was sent). */
  aborted?: boolean;
}

export interface RequestSink {
  onRequestFinished(observation: RequestObservation): void;
}

/** Sends a security event (the handler's `sendEvent`); a returned promise is awaited for errors only. */
export type EmitEvent = (input: SecurityEventInput) => void | Promise<unknown>;

/**
 * Called at request start, before the app handler. Returning true, or ending
 * the response, answers the request: the app handler is then not called.
 * A returned promise holds the app handler until it settles (true = answered).
 */
export type RequestGate = (req: IncomingMessage, res: ServerResponse) => boolean | void | Promise<boolean>;

/** Event type of each observed status (the adapters' names). */
export const STATUS_EVENT_TYPES: Readonly<Record<401 | 403 | 429, string>> = {
  401: 'authentication_failed',
  403: 'access_denied',
  429: 'rate_limited',
};

/** Status from which a response counts in guard.request.errors (the adapters' error_rate rule). */
export const ERROR_STATUS_FROM = 400;

/** Status recorded for a request whose connection closed before any status was sent (nginx's "client closed request"). */
export const CLIENT_CLOSED_STATUS = 499;

type LoggerProviderArg = Parameters<InstrumentationBase['setLoggerProvider']>[0];

interface Instruments {
  meter: Meter;
  count: Counter;
  errors: Counter;
  duration: Histogram;
  bandwidth: Counter;
  /** Count, errors and bytes summed per series, flushed to the counters per collection. */
  totals: RequestTotals;
  /** Response times waiting to be recorded into `duration`, in batches. */
  durations: DurationBatch;
  /** Route keys of unmatched requests this interval; emptied at each collection, as `totals` is flushed. */
  unmatched: UnmatchedRouteBudget;
}

/** Response times held before they are recorded; see DurationBatch. */
export const DURATION_BATCH_SIZE = 512;

/**
 * Response times recorded into the histogram in batches rather than one per
 * request. The SDK's `Histogram.record` hashes the attributes on every call
 * (sorted keys, JSON.stringify) and looks the series up: measured at 2-6 µs
 * per request in a busy server, where the SDK's code and data are cold
 * between requests, against about a third of that per value when a batch is
 * recorded in one go. Every value is recorded, unchanged, with its series'
 * attributes: the histogram's counts, sum, min, max and buckets are exactly
 * those of per-request recording. A batch is recorded when full and before
 * every collection (the callback of an observable that observes nothing, run
 * by the SDK before it collects the sync instruments), so each collection
 * holds every request finished before it.
 */
class DurationBatch {
  private readonly values = new Float64Array(DURATION_BATCH_SIZE);
  private readonly attrs: (Attributes | undefined)[] = new Array<Attributes | undefined>(DURATION_BATCH_SIZE).fill(undefined);
  private size = 0;

  constructor(private readonly histogram: Histogram) {}

  add(seconds: number, attributes: Attributes): void {
    const i = this.size;
    this.values[i] = seconds;
    this.attrs[i] = attributes;
    this.size = i + 1;
    if (this.size === DURATION_BATCH_SIZE) this.flush();
  }

  flush(): void {
    const n = this.size;
    this.size = 0;
    const { values, attrs, histogram } = this;
    for (let i = 0; i < n; i++) {
      histogram.record(values[i], attrs[i]);
      attrs[i] = undefined;
    }
  }
}

export class GuardInstrumentation extends InstrumentationBase<GuardInstrumentationConfig> {
  // Declared without initialisers: InstrumentationBase's constructor may run
  // methods that touch them before this class's initialisers would.
  private constructed?: boolean;
  private observer?: HttpServerObserver;
  private tracerProvider?: TracerProvider;
  private meterProvider?: MeterProvider;
  private loggerProvider?: LoggerProviderArg;
  private handlerMeter?: Meter;
  private instruments?: Instruments;
  private sink?: RequestSink;
  private emitEvent?: EmitEvent;
  private gate?: RequestGate;
  private enforcer?: Enforcement;
  /** Response times for readers that carry a producer (see metricProducer()); undefined until one is asked for. */
  private responseTimes?: ResponseTimeHistograms;
  private providersHanded?: () => void;
  /** The last rules given to setRules, kept while `enforcement` is off so turning it on applies them. */
  private latestRules?: { rules: DynamicRules | null; sanitized: boolean };
  /** Clears rules at their expiresAt (scheduleExpiry). */
  private expiryTimer?: NodeJS.Timeout;

  constructor(config: GuardInstrumentationConfig = {}) {
    super(GUARD_INSTRUMENTATION_NAME, VERSION, checkInstrumentationConfig(config));
    this.enforcer = new Enforcement({
      ...enforcementSettings(config),
      emit: () => (this._config.emitEvents === false ? undefined : this.emitEvent),
      source: GUARD_INSTRUMENTATION_NAME,
    });
    this.constructed = true;
    if (this._config.enabled !== false) this.enable();
  }

  /**
   * InstrumentationBase's live reconfiguration, checked as the constructor
   * checks (a GuardAgentConfigError naming the field; the config in force
   * stays) and applied to the rules check too: mode, trustedProxyDepth and
   * countryHeader are the enforcer's, the other options are read per request.
   * `enabled` is not acted on here, as in InstrumentationBase: call enable() or disable().
   */
  override setConfig(config: GuardInstrumentationConfig = {}): void {
    checkInstrumentationConfig(config);
    const wasChecking = this.constructed === true && this._config.enforcement !== false;
    super.setConfig(config);
    // The base constructor calls this before the enforcer exists; the constructor builds it from the same config.
    if (this.constructed !== true) return;
    this.enforcer?.configure(enforcementSettings(config));
    // `enforcement` switched: the rule engine goes (it was still answering), or is built from the latest rules.
    if (wasChecking !== (config.enforcement !== false)) {
      const latest = wasChecking ? undefined : this.latestRules;
      this.enforcer?.setRules(latest?.rules ?? null, { sanitized: latest?.sanitized === true });
    }
    // The budget is built with the instruments (at the first request): a server already observed gets the new value here.
    if (this.instruments !== undefined) this.instruments.unmatched.max = config.maxUnmatchedRouteKeys ?? DEFAULT_MAX_UNMATCHED_ROUTE_KEYS;
    this.updateGateActive();
  }

  /** No module patching: requests are observed through diagnostics_channel. */
  protected override init(): void {
    return undefined;
  }

  override enable(): void {
    super.enable();
    if (this.constructed !== true) return;
    if (this.observer === undefined) {
      this.observer = new HttpServerObserver({
        onRequestStart: (req, res) => this.onRequestStart(req, res),
        onRequestFinished: (finished) => this.onRequestFinished(finished),
        onUpgrade: (req, socket) => this.onUpgrade(req, socket),
      });
    }
    this.observer.start();
    this.updateGateActive();
  }

  /** Stops observing (unsubscribes from the channels, unwraps servers). */
  override disable(): void {
    super.disable();
    this.observer?.stop();
  }

  /** True while the diagnostics channels are subscribed. */
  get isObserving(): boolean {
    return this.observer?.isObserving === true;
  }

  override setTracerProvider(tracerProvider: TracerProvider): void {
    super.setTracerProvider(tracerProvider);
    this.tracerProvider = tracerProvider;
  }

  override setMeterProvider(meterProvider: MeterProvider): void {
    super.setMeterProvider(meterProvider);
    this.meterProvider = meterProvider;
  }

  override setLoggerProvider(loggerProvider: LoggerProviderArg): void {
    super.setLoggerProvider(loggerProvider);
    this.loggerProvider = loggerProvider;
    const listener = this.providersHanded;
    // NodeSDK hands the providers over one after another: the listener runs once all are set.
    if (listener !== undefined) {
      queueMicrotask(() => {
        try {
          listener();
        } catch (err) {
          // A throw in a microtask would be an uncaught exception in the host.
          diag.error('guard-agent-otel: replaying what was held before the SDK started failed', err);
        }
      });
    }
  }

  /** Called (once per hand-over) after the SDK has handed its LoggerProvider over: the handler replays what it held. */
  onProvidersHanded(listener: (() => void) | undefined): void {
    this.providersHanded = listener;
  }

  getTracerProvider(): TracerProvider | undefined {
    return this.tracerProvider;
  }

  /** The MeterProvider the SDK handed over, else the API global (metrics live in `@opentelemetry/api` on both lines). */
  getMeterProvider(): MeterProvider {
    return this.meterProvider ?? metrics.getMeterProvider();
  }

  /** True once the SDK handed a LoggerProvider over. */
  hasHandedLoggerProvider(): boolean {
    return this.loggerProvider !== undefined;
  }

  /**
   * The LoggerProvider the SDK handed over; before that (instrumentation not
   * registered), the Logs API global of the installed line. Undefined only
   * when that line's API cannot be loaded.
   */
  getLoggerProvider(): LoggerProviderLike | undefined {
    if (this.loggerProvider !== undefined) return this.loggerProvider as unknown as LoggerProviderLike;
    return logsApiOfLine()?.getLoggerProvider();
  }

  /** A Logger from `getLoggerProvider()` (scope `guard-agent-otel`). */
  getLogger(name = GUARD_INSTRUMENTATION_NAME, version = VERSION): LoggerLike | undefined {
    return this.getLoggerProvider()?.getLogger(name, version);
  }

  /**
   * A MetricProducer for one metric reader (pass it in the reader's
   * `metricProducers`), in that reader's temporality (default cumulative,
   * the SDK's default). Once one exists, the instrumentation's
   * `guard.response.time` histogram is aggregated in plain numbers and
   * reaches readers through their producers instead of through the SDK
   * histogram, whose per-call attribute hashing was the largest cost it added
   * to a request (src/otel/response-time-histograms.ts). `guardAgent()` adds
   * one to every reader it builds; a reader of the app's own needs one too to
   * see the histogram. Counts, errors and bandwidth stay SDK counters.
   */
  metricProducer(temporality?: AggregationTemporality): MetricProducer {
    this.responseTimes ??= new ResponseTimeHistograms({ name: GUARD_INSTRUMENTATION_NAME, version: VERSION });
    return this.responseTimes.createProducer(temporality);
  }

  /** A Meter to record into instead of the one from the handed MeterProvider (the handler's own pipeline). */
  setMeter(meter: Meter | undefined): void {
    this.handlerMeter = meter;
  }

  /** Replaces the default sink (metrics + status events); `recordObservation` keeps the default behaviour. */
  setRequestSink(sink: RequestSink | undefined): void {
    this.sink = sink;
  }

  setEmitEvent(emit: EmitEvent | undefined): void {
    this.emitEvent = emit;
  }

  /** An app's own gate (see RequestGate), run before the rules. Undefined removes it. */
  setRequestGate(gate: RequestGate | undefined): void {
    this.gate = gate;
    this.updateGateActive();
  }

  /**
   * The dynamic rules to check requests against (the handler's RulePoller
   * calls this on every change); null stops checking. The rule engine is
   * built here, off the request path. Never throws. `sanitized: true` skips
   * validating them again: only for rules straight out of `sanitizeRules`
   * (the RulePoller's), since on a 300,000-entry ruleset the second pass
   * costs the host's event loop about 150 ms.
   */
  setRules(rules: DynamicRules | null, options: { sanitized?: boolean } = {}): void {
    this.latestRules = { rules, sanitized: options.sanitized === true };
    this.scheduleExpiry(rules);
    if (this._config.enforcement === false) return;
    this.enforcer?.setRules(rules, options);
    this.updateGateActive();
  }

  /**
   * Rules with an `expiresAt` stop applying then, here too: the handler's poller also clears them at
   * that moment, but it stops with the handler, and rules left in force would never expire.
   */
  private scheduleExpiry(rules: DynamicRules | null): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    const at = rules?.expiresAt ? Date.parse(rules.expiresAt) : NaN;
    if (!Number.isFinite(at)) return;
    // setTimeout holds at most 2^31-1 ms (24.8 days): a later expiry is looked at again then.
    this.expiryTimer = setTimeout(() => {
      if (this.latestRules?.rules !== rules) return;
      if (Date.now() < at) return this.scheduleExpiry(rules);
      diag.info(`guard-agent-otel: rules ${rules!.ruleId} v${rules!.version} expired at ${rules!.expiresAt}; no rules in force`);
      this.setRules(null);
    }, Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1));
    this.expiryTimer.unref();
  }

  /** The rate limiter of the rules (a RedisSlidingWindow shares limits across instances); undefined: in memory. */
  setRateLimiter(limiter: SlidingWindowLimiter | undefined): void {
    this.enforcer?.setLimiter(limiter);
  }

  /** The rules being enforced (or monitored), or null. */
  getRules(): DynamicRules | null {
    return this.enforcer?.rules ?? null;
  }

  getEnforcementStats(): EnforcementStats | undefined {
    return this.enforcer?.stats;
  }

  /** Servers' emit is wrapped only while something may answer requests. */
  private updateGateActive(): void {
    const observer = this.observer;
    if (observer === undefined) return;
    const enforcing = this.enforcer?.active === true && this.enforcer.mode === 'enforce';
    observer.setGateActive((this.gate !== undefined || enforcing) && observer.isObserving);
  }

  /** The default sink: guard request metrics, and `observed` events for app-produced 401/403/429. */
  recordObservation(o: RequestObservation): void {
    const cfg = this._config;
    if (cfg.recordMetrics !== false) this.recordMetrics(o);
    if (cfg.emitEvents !== false && !o.answeredByGate) this.emitStatusEvent(o);
  }

  private onRequestStart(req: IncomingMessage, res: ServerResponse): RequestDecision | Promise<boolean> {
    const cfg = this._config;
    if (cfg.observeRequests === false) return RequestDecision.Ignore;
    const ignore = cfg.ignorePaths;
    if (ignore !== undefined && ignore.length > 0 && isIgnored(pathOf(req.url), ignore)) return RequestDecision.Ignore;
    // Remembered on the socket now (once per connection): a response whose connection closes is reported after the address is gone.
    // A custom sink reads every observation's clientIp, with the guard's own events off too.
    if (cfg.emitEvents !== false || this.sink !== undefined) socketAddressOf(req.socket);
    const gate = this.gate;
    if (gate !== undefined) {
      const answer = runGate(gate, req, res, 'request gate');
      if (answer !== RequestDecision.Observe) return answer;
    }
    const enforcer = this.enforcer;
    if (enforcer === undefined || !enforcer.active) return RequestDecision.Observe;
    return runGate(enforcer.gate, req, res, 'rule enforcement');
  }

  /**
   * An upgrade (WebSocket) or CONNECT request: the rules apply as to any request. An app's own `gate` takes
   * a response object, which these requests do not have, so it is not asked.
   */
  private onUpgrade(req: IncomingMessage, socket: Duplex): boolean | Promise<boolean> {
    const cfg = this._config;
    if (cfg.observeRequests === false) return false;
    const ignore = cfg.ignorePaths;
    if (ignore !== undefined && ignore.length > 0 && isIgnored(pathOf(req.url), ignore)) return false;
    const enforcer = this.enforcer;
    if (enforcer === undefined || !enforcer.active) return false;
    return enforcer.upgradeGate(req, socket);
  }

  private onRequestFinished(f: FinishedRequest): void {
    const cfg = this._config;
    if (this.sink !== undefined) {
      this.sink.onRequestFinished(this.observationOf(f));
      return;
    }
    // The default sink, without building the whole observation: metrics need the route,
    // method, status, duration and size only; the rest (client IP, user agent, country,
    // path) is worked out for the few responses that become events (401/403/429).
    const req = f.req as IncomingMessage & RoutedRequest;
    const status = statusOf(f);
    // A routed request pays the status comparison only.
    if (cfg.recordMetrics !== false) {
      this.recordRequest(routeKey(req), isUnmatchedStatus(status) && !hasRouteTemplate(req), methodOf(req), status, f.durationSeconds, f.bytesOut);
    }
    if (cfg.emitEvents !== false && !f.answeredByGate && this.emitEvent !== undefined && (status === 401 || status === 403 || status === 429)) {
      this.emitStatusEvent(this.observationOf(f));
    }
  }

  private observationOf(f: FinishedRequest): RequestObservation {
    const cfg = this._config;
    const { req } = f;
    const country = cfg.countryHeader ? countryFrom(req.headers[cfg.countryHeader.toLowerCase()]) : undefined;
    const ua = req.headers['user-agent'];
    return {
      route: routeKey(req as IncomingMessage & RoutedRequest),
      routed: hasRouteTemplate(req as IncomingMessage & RoutedRequest),
      path: requestPath(req as IncomingMessage & RoutedRequest),
      method: methodOf(req),
      status: statusOf(f),
      durationSeconds: f.durationSeconds,
      ...(f.bytesOut === undefined ? {} : { bytesOut: f.bytesOut }),
      clientIp: clientIp(req, cfg.trustedProxyDepth ?? 0),
      userAgent: typeof ua === 'string' ? ua : '',
      ...(country === undefined ? {} : { country }),
      answeredByGate: f.answeredByGate,
      aborted: f.aborted,
    };
  }

  private recordMetrics(o: RequestObservation): void {
    this.recordRequest(o.route, o.routed !== true && isUnmatchedStatus(o.status), o.method, o.status, o.durationSeconds, o.bytesOut);
  }

  /** `unmatched`: no route template and a 400/404/405, so the route key is a path the budget may group. */
  private recordRequest(route: string, unmatched: boolean, method: string, status: number, durationSeconds: number, bytesOut: number | undefined): void {
    const inst = this.instrumentsFor(this.handlerMeter ?? this.meter);
    if (unmatched) route = inst.unmatched.keyFor(route);
    const series = inst.totals.seriesFor(seriesKey(route, method, status), route, method, status);
    series.count++;
    if (status >= ERROR_STATUS_FROM) series.errors++;
    if (bytesOut !== undefined) series.bytes += bytesOut;
    const responseTimes = this.responseTimes;
    if (responseTimes !== undefined && responseTimes.hasProducers) responseTimes.record(durationSeconds, series.attrs);
    else inst.durations.add(durationSeconds, series.attrs);
  }

  private emitStatusEvent(o: RequestObservation): void {
    const emit = this.emitEvent;
    if (emit === undefined) return;
    if (o.status !== 401 && o.status !== 403 && o.status !== 429) return;
    if (this._config.statusEvents?.[o.status] === false) return;
    const input: SecurityEventInput = {
      eventType: STATUS_EVENT_TYPES[o.status],
      ipAddress: o.clientIp,
      userAgent: o.userAgent,
      actionTaken: 'observed',
      reason: `the app answered ${o.status}`,
      endpoint: o.path,
      method: o.method,
      statusCode: o.status,
      responseTime: o.durationSeconds,
      metadata: { route: o.route, source: GUARD_INSTRUMENTATION_NAME },
      ...(o.country === undefined ? {} : { country: o.country }),
    };
    try {
      const result = emit(input);
      if (result !== undefined && typeof (result as Promise<unknown>).catch === 'function') {
        (result as Promise<unknown>).catch((err: unknown) => diag.error('guard-agent-otel: emitting an observed event failed', err));
      }
    } catch (err) {
      diag.error('guard-agent-otel: emitting an observed event failed', err);
    }
  }

  /** Instruments on `meter`, re-created when the meter changes (a new MeterProvider was handed over). */
  private instrumentsFor(meter: Meter): Instruments {
    if (this.instruments?.meter === meter) return this.instruments;
    // Values held for the previous meter go to it before it is left.
    this.instruments?.durations.flush();
    // Same names, units and descriptions as guard-instruments.ts, so both can share one Meter.
    const count = meter.createCounter('guard.request.count', { description: 'Requests seen by the guard', unit: '{request}' });
    const errors = meter.createCounter('guard.request.errors', { description: 'Requests answered with status >= 400', unit: '{request}' });
    const bandwidth = meter.createCounter('guard.bandwidth', { description: 'Bytes transferred', unit: 'By' });
    const duration = meter.createHistogram('guard.response.time', {
      description: RESPONSE_TIME_DESCRIPTION,
      unit: 's',
      advice: { explicitBucketBoundaries: RESPONSE_TIME_BUCKETS_S },
    });
    const durations = new DurationBatch(duration);
    const unmatched = new UnmatchedRouteBudget(this._config.maxUnmatchedRouteKeys ?? DEFAULT_MAX_UNMATCHED_ROUTE_KEYS);
    // Runs before each collection, like RequestTotals' own flush (the same internal
    // instrument, which observes nothing): the held response times are recorded first,
    // and the unmatched paths' budget starts again with the next interval's series.
    meter.createObservableGauge(TOTALS_FLUSH_GAUGE, { description: TOTALS_FLUSH_DESCRIPTION }).addCallback(() => {
      durations.flush();
      unmatched.reset();
    });
    this.instruments = { meter, count, errors, bandwidth, totals: new RequestTotals(meter, count, errors, bandwidth), duration, durations, unmatched };
    return this.instruments;
  }
}

/** The internal observable of RequestTotals (guard-instruments.ts): name and description must match it, so the SDK treats both as one instrument. */
const TOTALS_FLUSH_GAUGE = 'guard.request.totals_flush';
const TOTALS_FLUSH_DESCRIPTION = 'Internal: flushes the guard request totals before each collection (no data points)';

/** Series keys remembered (route, method, status); past this the memory is emptied and refilled. */
const SERIES_KEY_CACHE_SIZE = 2048;
const seriesKeys = new Map<string, { method: string; status: number; key: string }[]>();

/**
 * The RequestTotals key of a series, `route \0 method \0 status`, as the same
 * string object each time for a given series: a fresh concatenation would be
 * flattened and hashed again by the Map lookup on every request.
 */
function seriesKey(route: string, method: string, status: number): string {
  let list = seriesKeys.get(route);
  if (list === undefined) {
    if (seriesKeys.size >= SERIES_KEY_CACHE_SIZE) seriesKeys.clear();
    list = [];
    seriesKeys.set(route, list);
  }
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    if (e.status === status && e.method === method) return e.key;
  }
  const key = route + '\u0000' + method + '\u0000' + status;
  // A route sees a handful of (method, status) pairs; an odd client must not grow the list without end.
  if (list.length < 32) list.push({ method, status, key });
  return key;
}

/** The status the client got; CLIENT_CLOSED_STATUS when the connection closed before one was sent. */
function statusOf(f: FinishedRequest): number {
  return f.aborted && !f.res.headersSent ? CLIENT_CLOSED_STATUS : f.res.statusCode;
}

/** The request method, upper-cased (Node's parser already gives it so: no new string then). */
function methodOf(req: IncomingMessage): string {
  const m = req.method;
  if (m === undefined) return 'GET';
  for (let i = 0; i < m.length; i++) {
    const c = m.charCodeAt(i);
    if (c >= 97 && c <= 122) return m.toUpperCase();
  }
  return m;
}

function isIgnored(path: string, patterns: (string | RegExp)[] | undefined): boolean {
  if (patterns === undefined || patterns.length === 0) return false;
  for (const p of patterns) {
    if (typeof p === 'string') {
      if (path === p || (path.startsWith(p) && (p.endsWith('/') || path.charAt(p.length) === '/'))) return true;
    } else {
      p.lastIndex = 0;
      if (p.test(path)) return true;
    }
  }
  return false;
}

/** Runs one gate: Answered, Observe, or the pending promise of an asynchronous decision. Never throws. */
function runGate(gate: RequestGate, req: IncomingMessage, res: ServerResponse, what: string): RequestDecision | Promise<boolean> {
  let result: boolean | void | Promise<boolean> = false;
  try {
    result = gate(req, res);
  } catch (err) {
    diag.error(`guard-agent-otel: ${what} threw; the request goes on to the app`, err);
  }
  if (typeof result === 'object' && result !== null && typeof result.then === 'function') return result;
  return result === true || res.writableEnded || res.headersSent ? RequestDecision.Answered : RequestDecision.Observe;
}

/** The enforcer's part of the configuration. */
function enforcementSettings(config: GuardInstrumentationConfig): Pick<EnforcementOptions, 'mode' | 'trustedProxyDepth' | 'countryHeader'> {
  return {
    mode: config.mode === 'enforce' ? 'enforce' : 'monitor',
    trustedProxyDepth: config.trustedProxyDepth ?? 0,
    ...(config.countryHeader ? { countryHeader: config.countryHeader.toLowerCase() } : {}),
  };
}
