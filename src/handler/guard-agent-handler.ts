/**
 * GuardAgentHandler: the seed's API (`start`, `stop`, `sendEvent`,
 * `sendMetric`, `flushBuffer`, `getStatus`, `getStats`, `healthCheck`,
 * `updateConfig`, `getDynamicRules`, `initializeRedis`) and
 * `@guardcore/core`'s `AgentHandlerProtocol`, on top of the OTel pipeline.
 *
 * `sendEvent` emits a log record through an OTel Logger and `sendMetric`
 * records on a guard instrument; the SDK batches, the guard exporters ship.
 * Two ways to run:
 * - standalone (default): the handler builds its own LoggerProvider and
 *   MeterProvider around the guard pipeline; no NodeSDK needed;
 * - inside NodeSDK (`guardAgent()`): the handler takes its Logger and Meter
 *   from the providers NodeSDK hands the GuardInstrumentation, so every
 *   processor of the app (OTLP fan-out included) sees the same records.
 * No global singleton: every handler is independent.
 *
 * Never throws into the host app from the runtime path: on a stopped agent,
 * a disabled kind or invalid input, `sendEvent`/`sendMetric` resolve and
 * count what they dropped.
 */
import { keepOutOfPrint } from '../config-printing.js';
import { inspect } from 'node:util';
import { diag, type Meter } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { mergeConfig, resolveConfig } from '../config.js';
import type { AgentConfig, AgentConfigInput } from '../config-types.js';
import {
  SecurityEvent,
  SecurityMetric,
  type AgentStatus,
  type DynamicRules,
  type SecurityEventInput,
  type SecurityMetricInput,
} from '../models/index.js';
import { securityEventToLogRecord } from '../otel/event-mapping.js';
import { GuardInstruments, sampleAsRecord, sampleProblem } from '../otel/guard-instruments.js';
import type { GuardInstrumentation } from '../otel/guard-instrumentation.js';
import type { LoggerLike } from '../otel/otel-line.js';
import { createLoggerProvider, createMeterProvider } from '../otel/sdk-compat.js';
import { encodeEvent, encodeMetric } from '../models/codec.js';
import { toJsonText } from '../models/json-safe.js';
import { cutOversizeAppData } from '../models/oversize-app-data.js';
import { createFallbackQueue, fallbackQueueConfigFrom } from '../queue/create-fallback-queue.js';
import { claimInstanceId, defaultInstanceId, type InstanceIdClaim } from '../queue/instance-id.js';
import { clientFromHandler, createOwnedClient, isRedisHandler, isRedisSource, type RedisClientLike, type RedisSource } from '../queue/redis-connection.js';
import { projectHashTag, sanitiseKeyPart } from '../queue/redis-keys.js';
import { RedisSlidingWindow } from '../rules/redis-sliding-window.js';
import { RulePoller, type RulesListener } from '../rules/rule-poller.js';
import type { DropReason } from '../transport/types.js';
import { VERSION } from '../version.js';
import { GuardPipeline, withDeadline, type PipelineOptions } from './guard-pipeline.js';
import { RecentCounters } from './recent-counters.js';
import { redactKeys } from './redact.js';
import { forgetAtExit, stopBeforeExit } from './stop-before-exit.js';
import { buildStatus, type StatusInputs } from './status.js';

export const SCOPE_NAME = 'guard-agent-otel';
/** Default deadline of `stop()`: long enough to flush, short enough for a container's grace period. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** Events and metrics held while NodeSDK has not handed its providers over yet. */
const MAX_PRE_START = 10_000;
/** What `sendEvent` returns when it has nothing to wait for: one resolved promise serves every call. */
const DONE: Promise<void> = Promise.resolve();

export interface GuardAgentHandlerOptions extends PipelineOptions {
  /** Inside NodeSDK: the instrumentation through which the SDK hands over its providers. */
  instrumentation?: GuardInstrumentation;
  /** Resource of the standalone providers. */
  resource?: Resource;
  /** Deadline of `stop()` in ms. */
  stopTimeoutMs?: number;
  /** Environment for `GUARD_AGENT_*` (default `process.env`). */
  env?: Record<string, string | undefined>;
  /**
   * Rules poll interval in ms, overriding `dynamicRuleInterval` and its 60 s
   * minimum. For tests and demos; not part of AgentConfig.
   */
  rulesIntervalMs?: number;
  /**
   * Stop the agent (flush, replay, bounded by the stop deadline) when the
   * process's event loop runs empty without `stop()` having been called.
   * Default true.
   */
  stopBeforeExit?: boolean;
}

type Pending = { kind: 'event'; event: SecurityEvent } | { kind: 'metric'; metric: SecurityMetric };

export class GuardAgentHandler {
  private config: AgentConfig;
  readonly pipeline: GuardPipeline;
  private readonly instrumentation: GuardInstrumentation | undefined;
  private readonly ownProviders: { shutdown(): Promise<void> }[] = [];
  private logger: LoggerLike | undefined;
  private instruments: GuardInstruments | undefined;
  private readonly rules: RulePoller;
  /** The Redis client the handler opened for rules from `redisUrl` or `redisClusterNodes` (closed on stop). */
  private rulesRedis: RedisClientLike | undefined;
  private readonly recent = new RecentCounters();
  /** This agent's owner id in Redis, unique among the live agents of the process (claimed on first use). */
  private instanceClaim: InstanceIdClaim | undefined;
  private sensitive: ReadonlySet<string>;
  private readonly startedAt = Date.now();
  private running = false;
  private stopped = false;
  private stopping: Promise<void> | null = null;
  private statusTimer: NodeJS.Timeout | undefined;
  private preStart: Pending[] = [];
  private lastFlush: Date | null = null;
  private lastStatusOk: boolean | null = null;
  /** The last `updateConfig` in progress: the next one waits for it and merges onto its result. */
  private configUpdate: Promise<unknown> = DONE;
  private readonly stopTimeoutMs: number;
  private readonly stopsBeforeExit: boolean;
  private readonly counts = {
    eventsAccepted: 0,
    metricsAccepted: 0,
    invalidEvents: 0,
    invalidMetrics: 0,
    dropped: {} as Partial<Record<DropReason | 'invalid', number>>,
  };

  /** @throws GuardAgentConfigError (invalid config) or EncryptionConfigError (bad key): construction is the one place that throws. */
  constructor(config: AgentConfigInput, options: GuardAgentHandlerOptions = {}) {
    keepOutOfPrint(this, 'rulesRedis');
    this.config = resolveConfig(config, { env: options.env });
    this.sensitive = new Set(this.config.sensitiveHeaders);
    this.stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    this.stopsBeforeExit = options.stopBeforeExit ?? true;
    const queue = options.queue ?? createFallbackQueue(this.queueConfig());
    try {
      this.pipeline = new GuardPipeline(this.config, { ...options, queue });
    } catch (err) {
      // A bad encryption key: no agent, so its instance id goes back (a later one keeps the plain id).
      this.instanceClaim?.release();
      void queue.close().catch(() => undefined);
      throw err;
    }
    this.instrumentation = options.instrumentation;
    if (!this.instrumentation) this.buildOwnProviders(options.resource);
    else {
      this.instrumentation.setEmitEvent((ev) => this.sendEvent(ev));
      // Events sent before NodeSDK started are emitted as soon as it hands its providers over.
      this.instrumentation.onProvidersHanded(() => {
        if (this.preStart.length > 0 && !this.stopped) this.resolveSdkParts();
      });
    }
    this.rules = new RulePoller({
      source: this.pipeline.transport,
      projectId: this.config.projectId ?? '',
      intervalSeconds: this.config.dynamicRuleInterval,
      ...(options.rulesIntervalMs === undefined ? {} : { intervalMs: options.rulesIntervalMs }),
      redisPrefix: this.config.queue.prefix,
      apiKey: this.config.apiKey,
    });
    this.rules.onRules((next, prev) => this.onRulesChanged(next, prev));
    if (this.instrumentation) {
      const inst = this.instrumentation;
      // The poller's rules come straight from sanitizeRules, synchronously: no need to check them twice.
      this.rules.onRules((next) => inst.setRules(next, { sanitized: true }));
    }
    const rulesClient = createOwnedClient(this.config, { commandTimeoutMs: 500, connectTimeoutMs: 2000 });
    if (rulesClient) this.useRulesRedis(rulesClient, true);
    this.recent.observe({ sent: 0, failed: 0, dropped: 0, eventsSent: 0, eventsFailed: 0 });
  }

  private buildOwnProviders(resource: Resource | undefined): void {
    const loggerProvider = createLoggerProvider({ resource, processors: [this.pipeline.logProcessor] });
    const meterProvider = createMeterProvider({ resource, readers: [this.pipeline.metricReader] });
    this.ownProviders.push(loggerProvider, meterProvider);
    this.logger = loggerProvider.getLogger(SCOPE_NAME, VERSION) as unknown as LoggerLike;
    this.useMeter(meterProvider.getMeter(SCOPE_NAME, VERSION));
  }

  private useMeter(meter: Meter): void {
    this.instruments = new GuardInstruments(meter);
  }

  /** The Logger/Meter to use; inside NodeSDK they exist once the SDK has handed its providers over. */
  private resolveSdkParts(): boolean {
    if (this.logger && this.instruments) return true;
    const inst = this.instrumentation;
    if (!inst || !inst.hasHandedLoggerProvider()) return false;
    this.logger = inst.getLogger(SCOPE_NAME, VERSION);
    this.useMeter(inst.getMeterProvider().getMeter(SCOPE_NAME, VERSION));
    this.replayHeld();
    return this.logger !== undefined;
  }

  /** Emits what was sent before the SDK parts existed, in order. */
  private replayHeld(): void {
    const held = this.preStart;
    this.preStart = [];
    for (const p of held) {
      if (p.kind === 'event') this.emitEvent(p.event);
      else this.instruments!.record(p.metric);
    }
  }

  /**
   * At stop, what is still held goes through the pipeline like everything
   * else (delivered, or kept in the fallback queue): through the SDK's parts
   * if NodeSDK handed them over, else through providers of the handler's own
   * around the pipeline (NodeSDK never started: nothing else would ever export it).
   */
  private releaseHeld(): void {
    if (this.preStart.length === 0 || this.resolveSdkParts()) return;
    diag.warn(`guard-agent: stopping before NodeSDK handed its providers over; shipping the ${this.preStart.length} event(s)/metric(s) held for it through the agent's own providers`);
    const loggerProvider = createLoggerProvider({ processors: [this.pipeline.logProcessor] });
    this.ownProviders.push(loggerProvider);
    this.logger = loggerProvider.getLogger(SCOPE_NAME, VERSION) as unknown as LoggerLike;
    try {
      const meterProvider = createMeterProvider({ readers: [this.pipeline.metricReader] });
      this.ownProviders.push(meterProvider);
      this.useMeter(meterProvider.getMeter(SCOPE_NAME, VERSION));
    } catch {
      // The reader is already bound: NodeSDK started without the instrumentation. Its MeterProvider is the global one.
      this.useMeter(this.instrumentation!.getMeterProvider().getMeter(SCOPE_NAME, VERSION));
    }
    this.replayHeld();
  }

  // ---- lifecycle -----------------------------------------------------------

  /** Starts the heartbeat, the rules poll and queue replay. Idempotent. */
  async start(): Promise<void> {
    if (this.running) return;
    if (this.stopped) {
      diag.warn('guard-agent: start() after stop() is ignored; create a new handler');
      return;
    }
    this.running = true;
    this.pipeline.start();
    this.scheduleLoops();
    if (this.stopsBeforeExit) stopBeforeExit(this);
  }

  private scheduleLoops(): void {
    clearInterval(this.statusTimer);
    this.statusTimer = setInterval(() => void this.sendStatus(), this.config.statusInterval * 1000);
    this.statusTimer.unref();
    // The instrumentation enforces the rules, so it needs them at once; a
    // standalone handler's rules are pulled by the app (getDynamicRules) or
    // arrive with the first interval.
    if (this.config.projectId) this.rules.start(this.instrumentation !== undefined);
    else this.rules.pause(); // updateConfig({ projectId: null }): projectId is what enables the poll
  }

  /**
   * Flushes and stops within `timeoutMs` (default 10 s): what the SDK holds is
   * exported, the queue is replayed if the backend answers, and whatever
   * cannot be delivered in time stays in the fallback queue (Redis keeps it
   * for the next start; without Redis it is counted as lost). Idempotent.
   */
  stop(timeoutMs: number = this.stopTimeoutMs): Promise<void> {
    this.stopping ??= this.stopOnce(timeoutMs);
    return this.stopping;
  }

  private async stopOnce(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.running = false;
    this.stopped = true;
    forgetAtExit(this);
    clearInterval(this.statusTimer);
    this.instrumentation?.setEmitEvent(undefined);
    this.instrumentation?.onProvidersHanded(undefined);
    try {
      this.releaseHeld();
    } catch (err) {
      diag.error(`guard-agent: could not release the events held before NodeSDK started: ${(err as Error).message}`);
    }
    await this.rules.stop();
    if (this.rulesRedis) {
      this.instrumentation?.setRateLimiter(undefined);
      this.rulesRedis.disconnect();
    }
    try {
      await this.pipeline.shutdown(deadline);
      await withDeadline(Promise.all(this.ownProviders.map((p) => p.shutdown())), Date.now() + 1000);
    } catch (err) {
      diag.error(`guard-agent: stop failed: ${(err as Error).message}`);
    }
    this.instanceClaim?.release();
  }

  /** Alias of `stop()` (the Python agent's `close`). */
  close(): Promise<void> {
    return this.stop();
  }

  isRunning(): boolean {
    return this.running;
  }

  // ---- ingest --------------------------------------------------------------

  /**
   * Emits a security event through the OTel pipeline. Never throws; drops are
   * counted. The work is synchronous, so unless the durability journal hands
   * back a promise, one shared resolved promise is returned instead of
   * allocating one per call as an `async` method would: this runs on the
   * host's request path (bench/emit-cost.ts).
   */
  sendEvent(input: SecurityEvent | SecurityEventInput | unknown): Promise<void> {
    try {
      return this.ingestEvent(input) ?? DONE;
    } catch (err) {
      // Only hostile input gets here (a throwing getter or proxy in the metadata).
      this.drop('invalid');
      diag.warn(`guard-agent: dropped a security event: ${(err as Error)?.message}`);
      return DONE;
    }
  }

  private ingestEvent(input: unknown): Promise<void> | undefined {
    if (!this.config.enableEvents) {
      this.drop('disabled');
      return undefined;
    }
    if (this.stopped) {
      this.drop('agent_stopped');
      return undefined;
    }
    let event: SecurityEvent;
    try {
      // A SecurityEvent instance was validated by its constructor: it is used as is (and copied before
      // anything below replaces a field: the app's own object is never changed).
      event = SecurityEvent.from(input as SecurityEventInput);
    } catch (err) {
      this.counts.invalidEvents++;
      this.drop('invalid');
      diag.warn(`guard-agent: dropped a security event: ${(err as Error).message}`);
      return undefined;
    }
    this.counts.eventsAccepted++;
    // First: every later step walks the app data, and data sharing its parts can expand without bound.
    // The config's cap, not the exporter's (at most as large, but costly to compute per event): data with more values cannot fit either.
    event = cutOversizeAppData(event, this.config.maxEventBytes, this.pipeline.codecStats, event === input ? shallowCopy : sameEvent);
    if (this.sensitive.size) {
      const metadata = redactKeys(event.metadata, this.sensitive, this.pipeline.codecStats);
      if (metadata !== event.metadata) (event = writable(event, input)).metadata = metadata;
    }
    if (!this.logger && !this.resolveSdkParts()) {
      // Held until NodeSDK starts: a snapshot, so the app changing its object meanwhile changes nothing sent.
      (event = writable(event, input)).metadata = JSON.parse(toJsonText(event.metadata, this.pipeline.codecStats)) as Record<string, unknown>;
      this.hold({ kind: 'event', event });
      return undefined;
    }
    return this.emitEvent(event);
  }

  /** In `durability: 'emit'` mode the returned promise resolves once Redis has journaled the event. */
  private emitEvent(event: SecurityEvent): Promise<void> | undefined {
    try {
      this.logger!.emit(securityEventToLogRecord(event, this.pipeline.codecStats) as never);
    } catch (err) {
      this.drop('encoding_error');
      diag.error(`guard-agent: could not emit a security event: ${(err as Error).message}`);
      return undefined;
    }
    const journal = this.pipeline.journal;
    return journal?.record(event.idempotencyKey, encodeEvent(event, { maxEventBytes: this.pipeline.logExporter.eventCap() }));
  }

  /** Records a metric sample on the matching guard instrument. Never throws; drops are counted. */
  async sendMetric(input: SecurityMetric | SecurityMetricInput | unknown): Promise<void> {
    if (!this.config.enableMetrics) return this.drop('disabled');
    if (this.stopped) return this.drop('agent_stopped');
    let metric: SecurityMetric;
    try {
      metric = SecurityMetric.from(input as SecurityMetricInput);
    } catch (err) {
      this.counts.invalidMetrics++;
      this.drop('invalid');
      diag.warn(`guard-agent: dropped a metric: ${(err as Error).message}`);
      return;
    }
    const problem = sampleProblem(metric);
    if (problem !== null) {
      // Refused here, counted: the instrument would ignore it silently, lose its series' interval, or the wire a tag.
      this.counts.invalidMetrics++;
      this.drop('invalid');
      diag.warn(`guard-agent: dropped a metric: ${problem}`);
      return;
    }
    this.counts.metricsAccepted++;
    if (this.sensitive.size) {
      const tags = redactKeys(metric.tags, this.sensitive) as Record<string, string>;
      if (tags !== metric.tags) (metric = writable(metric, input)).tags = tags;
    }
    if (!this.instruments && !this.resolveSdkParts()) return this.hold({ kind: 'metric', metric });
    this.instruments!.record(metric);
  }

  private hold(p: Pending): void {
    if (this.preStart.length >= MAX_PRE_START) {
      const oldest = this.preStart.shift()!;
      // The oldest item goes to the fallback queue instead (the drainer delivers it); only what it refuses is dropped, counted.
      if (!this.queueHeld(oldest)) this.drop('sdk_queue_full');
    }
    this.preStart.push(p);
  }

  private queueHeld(p: Pending): boolean {
    try {
      if (p.kind === 'metric') return this.pipeline.queueHeldMetric(encodeMetric(sampleAsRecord(p.metric)));
      const json = encodeEvent(p.event, { maxEventBytes: this.pipeline.logExporter.eventCap(), stats: this.pipeline.codecStats });
      return this.pipeline.queueHeldEvent(json, p.event.idempotencyKey);
    } catch (err) {
      diag.error(`guard-agent: could not queue a held ${p.kind === 'metric' ? 'metric sample' : 'security event'}: ${(err as Error).message}`);
      return false;
    }
  }

  private drop(reason: DropReason | 'invalid'): void {
    this.counts.dropped[reason] = (this.counts.dropped[reason] ?? 0) + 1;
  }

  /** Exports everything buffered now and replays the fallback queue (bounded by `timeoutMs`). */
  async flushBuffer(timeoutMs = 30_000): Promise<void> {
    if (this.stopped) return;
    this.resolveSdkParts();
    await this.pipeline.flush(Date.now() + timeoutMs);
    this.lastFlush = new Date();
  }

  // ---- rules ---------------------------------------------------------------

  /**
   * The dynamic rules in the camelCase shape `@guardcore/core` validates:
   * cached within their ttl, the last good rules when a fetch fails, null
   * when there are none. Never throws.
   */
  async getDynamicRules(): Promise<DynamicRules | null> {
    if (!this.config.projectId || this.stopped) return this.rules.current();
    return this.rules.get();
  }

  /** Calls `listener(rules, previous)` on every rules change (`rules` null once they expire). Returns the unsubscribe function. */
  onRules(listener: RulesListener): () => void {
    return this.rules.onRules(listener);
  }

  /** The RulePoller (poll now, stats, problems of the rules in force). */
  get rulePoller(): RulePoller {
    return this.rules;
  }

  private onRulesChanged(next: DynamicRules | null, prev: DynamicRules | null): void {
    const was = prev ? ` (was ${prev.ruleId} v${prev.version})` : '';
    void this.sendEvent({
      eventType: 'dynamic_rule_updated',
      ipAddress: 'system',
      actionTaken: next ? 'rules_updated' : 'rules_expired',
      reason: next ? `Rules ${next.ruleId} v${next.version} in force${was}` : `Rules ${prev?.ruleId} v${prev?.version} expired; none in force`,
      ruleType: 'dynamic',
      metadata: next ? { rule_id: next.ruleId, version: next.version, dropped_entries: this.rules.problems.length } : { rule_id: prev?.ruleId, version: prev?.version },
    });
  }

  /** Shares rule fetches (and the instrumentation's rate limits) through `client`. */
  private useRulesRedis(client: RedisClientLike, owned: boolean): void {
    if (owned) {
      client.on('error', () => undefined); // reconnects by itself; failures are reported by the users of the client
      this.rulesRedis = client;
    }
    void this.rules.setRedis(client);
    if (!this.instrumentation) return;
    try {
      // The same hash tag as the fallback queue: `{default}` without a projectId, braces replaced (the window refuses both).
      const projectId = projectHashTag(this.config.projectId);
      this.instrumentation.setRateLimiter(new RedisSlidingWindow({ client, projectId, prefix: sanitiseKeyPart(this.config.queue.prefix) }));
    } catch (err) {
      // initializeRedis never throws: the rate limits stay in memory.
      diag.warn(`guard-agent: rate limits stay per process; the Redis sliding window could not be set up: ${String((err as Error)?.message ?? err)}`);
    }
  }

  // ---- redis ---------------------------------------------------------------

  /** The fallback queue's options, under this agent's own instance id (kept across queue switches). */
  private queueConfig(redis?: RedisSource): ReturnType<typeof fallbackQueueConfigFrom> {
    this.instanceClaim ??= claimInstanceId(defaultInstanceId({ instanceId: this.config.instanceId, installId: this.config.installId }));
    return fallbackQueueConfigFrom({ ...this.config, instanceId: this.instanceClaim.id }, redis);
  }

  /**
   * Moves the fallback queue to Redis: an ioredis `Redis`/`Cluster`, or the
   * seed's / `@guardcore/core`'s RedisHandler (its connection is used).
   * Whatever the memory queue held moves to Redis. Never throws.
   */
  async initializeRedis(redis: RedisSource | unknown): Promise<void> {
    // Anything else (a URL string, an options object) would fail inside the queue's start, out of reach of this try.
    // (None, null or undefined, still means the configured queue, as before.)
    if (redis !== null && redis !== undefined && !isRedisSource(redis)) {
      diag.error(`guard-agent: initializeRedis expects an ioredis Redis or Cluster client or a RedisHandler (getConnection()), got ${typeof redis}; keeping the current queue (set redisUrl to connect by URL)`);
      return;
    }
    try {
      const next = createFallbackQueue(this.queueConfig(redis as RedisSource));
      await this.pipeline.queue.switchTo(next);
      if (this.pipeline.attachJournal() && this.running) void this.pipeline.replayJournal();
    } catch (err) {
      diag.error(`guard-agent: initializeRedis failed, keeping the memory queue: ${(err as Error).message}`);
    }
    // Rules: one fetch per interval across the project's instances, and shared rate limits.
    const client = isRedisHandler(redis) ? clientFromHandler(redis) : (redis as RedisClientLike | null);
    if (client && typeof (client as { get?: unknown }).get === 'function' && !this.stopped) {
      if (this.rulesRedis) {
        this.rulesRedis.disconnect();
        this.rulesRedis = undefined;
      }
      this.useRulesRedis(client, false);
    }
  }

  // ---- config --------------------------------------------------------------

  /**
   * Applies a partial configuration live: endpoint, API key, retry and
   * breaker settings at once; flush interval (the SDK batch processor is
   * swapped without losing what it holds), status and rules intervals, enable
   * flags; `redisUrl` / `redisClusterNodes` (the queue moves with what it
   * holds). @throws GuardAgentConfigError on an invalid value (nothing changes).
   */
  updateConfig(partial: AgentConfigInput): Promise<void> {
    // One at a time: two calls not awaited in turn would both merge onto the same config, and the later would undo the earlier.
    const update = this.configUpdate.then(() => this.applyConfigUpdate(partial));
    this.configUpdate = update.catch(() => undefined);
    return update;
  }

  private async applyConfigUpdate(partial: AgentConfigInput): Promise<void> {
    const next = mergeConfig(this.config, partial);
    const intervalsChanged = next.statusInterval !== this.config.statusInterval || next.dynamicRuleInterval !== this.config.dynamicRuleInterval || next.projectId !== this.config.projectId;
    const redisChanged = next.redisUrl !== this.config.redisUrl || next.redisClusterNodes.join(',') !== this.config.redisClusterNodes.join(',');
    await this.pipeline.applyConfig(next);
    if (next.dynamicRuleInterval !== this.config.dynamicRuleInterval) this.rules.setInterval(next.dynamicRuleInterval);
    if (next.apiKey !== this.config.apiKey) this.rules.setApiKey(next.apiKey);
    this.config = next;
    this.sensitive = new Set(next.sensitiveHeaders);
    if (this.running && intervalsChanged) this.scheduleLoops();
    if (redisChanged && !this.stopped) await this.moveToConfiguredRedis();
  }

  /**
   * `redisUrl` / `redisClusterNodes` changed: the fallback queue moves to the
   * new target (or back to memory when neither is set), carrying every batch
   * it holds, oldest first; the journal and the rules client follow. Never throws.
   */
  private async moveToConfiguredRedis(): Promise<void> {
    try {
      await this.pipeline.queue.switchTo(createFallbackQueue(this.queueConfig()));
      if (this.pipeline.attachJournal() && this.running) void this.pipeline.replayJournal();
    } catch (err) {
      diag.error(`guard-agent: could not move the fallback queue to the new Redis setting, keeping the current queue: ${(err as Error).message}`);
    }
    // stop() came during the move and has closed the Redis clients: a rules client opened now would keep the process alive.
    if (this.stopped) return;
    if (this.rulesRedis) {
      this.instrumentation?.setRateLimiter(undefined);
      this.rulesRedis.disconnect();
      this.rulesRedis = undefined;
    }
    const rulesClient = createOwnedClient(this.config, { commandTimeoutMs: 500, connectTimeoutMs: 2000 });
    if (rulesClient) this.useRulesRedis(rulesClient, true);
    else void this.rules.setRedis(undefined);
  }

  getConfig(): Readonly<AgentConfig> {
    return this.config;
  }

  // ---- status, health, stats -------------------------------------------------

  private totals() {
    const log = this.pipeline.logExporter.getStats();
    const met = this.pipeline.metricExporter.getStats();
    const drain = this.pipeline.drainer.getStats();
    const q = this.pipeline.queue.stats();
    const sdk = this.pipeline.logProcessor.getStats();
    // Events that did not fit the SDK queue (or the pre-start hold) go to the fallback queue instead; `lost` ones the queue refused too.
    const refused = this.pipeline.refusedStats();
    const sumDrops = (d: Partial<Record<string, number>>) => Object.values(d).reduce((a: number, b) => a + (b ?? 0), 0);
    return {
      log,
      met,
      drain,
      q,
      sdk,
      refused,
      sent: log.eventsDelivered + met.delivery.delivered + drain.itemsDelivered,
      failed: log.eventsQueued + met.delivery.queued + refused.queued,
      eventsSent: log.eventsDelivered + drain.eventsDelivered,
      eventsFailed: log.eventsQueued + refused.queued,
      dropped: sumDrops(q.dropped) + sumDrops(log.eventsDropped) + sumDrops(met.delivery.dropped) + sumDrops(drain.dropped) + sdk.sdkQueueDropped + refused.lost,
    };
  }

  /** The status heartbeat's body (reference 2.5), judged on the recent past. */
  async getStatus(): Promise<AgentStatus> {
    const t = this.totals();
    const totals = { sent: t.sent, failed: t.failed, dropped: t.dropped, eventsSent: t.eventsSent, eventsFailed: t.eventsFailed };
    const recent = this.recent.delta(totals);
    const tr = this.pipeline.transport.getStats();
    const inputs: StatusInputs = {
      now: new Date(),
      uptimeSeconds: (Date.now() - this.startedAt) / 1000,
      recent,
      totals,
      breakerState: tr.breakerState,
      authFailed: tr.authFailed,
      queueDepthItems: t.q.depthItems,
      queueRedis: t.q.backend === 'redis' && t.q.redisAvailable,
      // What waits in memory (reference 2.5): the SDK's queue, what waits for NodeSDK, and the memory fallback queue.
      bufferSize: this.pipeline.sdkQueueDepth() + this.preStart.length + (t.q.backend === 'memory' ? t.q.depthItems : 0),
      lastFlush: latestDate(this.lastFlush, t.log.delivery.lastExportAt, t.met.delivery.lastExportAt),
      lastSuccessAt: tr.lastSuccessAt,
      projectId: this.config.projectId,
      sdkQueueDropped: t.sdk.sdkQueueDropped + t.refused.lost,
      dataLossDetected: t.q.dataLossDetected,
    };
    return buildStatus(inputs);
  }

  /** Sends a status heartbeat now (the loop sends one every `statusInterval`). Never throws. */
  async sendStatus(): Promise<boolean> {
    try {
      this.lastStatusOk = await this.pipeline.transport.sendStatus(await this.getStatus());
    } catch (err) {
      this.lastStatusOk = false;
      diag.warn(`guard-agent: status heartbeat failed: ${(err as Error).message}`);
    }
    return this.lastStatusOk;
  }

  /**
   * False when stopped, on an auth failure, with the breaker open, or when
   * data is waiting and the backend has not accepted anything recently; true
   * when the backend accepted data recently or nothing needed sending.
   */
  async healthCheck(): Promise<boolean> {
    try {
      if (!this.running) return false;
      const tr = this.pipeline.transport.getStats();
      if (tr.authFailed || tr.breakerState === 'OPEN') return false;
      const waiting = this.pipeline.queue.stats().depthItems > 0;
      if (!waiting) return true;
      const recentWindowMs = Math.max(120_000, this.config.flushInterval * 3000);
      // A delivered batch, not any 2xx: a rules fetch or a heartbeat answered while the backend refuses the data (a quota) is no delivery.
      return tr.lastDeliveryAt !== null && Date.now() - tr.lastDeliveryAt < recentWindowMs;
    } catch (err) {
      diag.error(`guard-agent: health check failed: ${(err as Error).message}`);
      return false;
    }
  }

  // ---- printing ------------------------------------------------------------

  /**
   * What `console.log` / `util.inspect` show: a summary. The handler holds the
   * API key, the signing secret, the encryption key and Redis clients with
   * their passwords; an app logging an object that holds it must not print them.
   */
  [inspect.custom](_depth: number, options: object): string {
    return `GuardAgentHandler ${inspect(this.toJSON(), options)}`;
  }

  /** What `JSON.stringify` writes (the same summary; the handler itself is cyclic). */
  toJSON(): Record<string, unknown> {
    return {
      running: this.running,
      stopped: this.stopped,
      endpoint: this.config.endpoint,
      projectId: this.config.projectId,
      queue: this.pipeline.queue.stats().backend,
      mode: this.instrumentation ? 'nodesdk' : 'standalone',
      config: this.config,
    };
  }

  /** Everything the agent counts, for dashboards and debugging. */
  getStats() {
    const t = this.totals();
    return {
      running: this.running,
      uptime: (Date.now() - this.startedAt) / 1000,
      eventsAccepted: this.counts.eventsAccepted,
      metricsAccepted: this.counts.metricsAccepted,
      eventsSent: t.log.eventsDelivered,
      metricsSent: t.met.delivery.delivered,
      replayedItemsSent: t.drain.itemsDelivered,
      itemsQueued: t.failed,
      dropped: {
        atIngest: { ...this.counts.dropped },
        sdkQueue: t.sdk.sdkQueueDropped + t.refused.lost,
        events: t.log.eventsDropped,
        metrics: t.met.delivery.dropped,
        queue: t.q.dropped,
        /** Items of replayed batches the backend rejected for good. */
        replay: t.drain.dropped,
      },
      pendingBeforeSdkStart: this.preStart.length,
      /** Guard events that did not fit the SDK queue (or the pre-start hold) and went to the fallback queue instead of being lost. */
      sdkQueueRescued: t.refused.queued,
      sdk: t.sdk,
      logExporter: t.log,
      metricExporter: t.met,
      queue: t.q,
      drainer: t.drain,
      transport: this.pipeline.transport.getStats(),
      codec: { ...this.pipeline.codecStats },
      rules: { ...this.rules.stats, cached: this.rules.current() !== null },
      lastStatusPushOk: this.lastStatusOk,
    };
  }
}

/**
 * The model to replace a field of: a shallow copy when it is the instance
 * the app passed (the app's own object is never changed), else the one the
 * handler built itself. Called only when a field is about to be replaced
 * (redaction, a cut, a held snapshot), so the common path copies nothing.
 */
function writable<T extends object>(model: T, input: unknown): T {
  return model === input ? shallowCopy(model) : model;
}

function shallowCopy<T extends object>(model: T): T {
  return Object.assign(Object.create(Object.getPrototypeOf(model) as object) as T, model);
}

/** The latest of the flushBuffer() time and the exporters' last exports (epoch ms), null when none happened. */
function latestDate(flushed: Date | null, ...exports: (number | null)[]): Date | null {
  const latest = Math.max(flushed?.getTime() ?? -Infinity, ...exports.map((at) => at ?? -Infinity));
  return latest === -Infinity ? null : new Date(latest);
}

function sameEvent(event: SecurityEvent): SecurityEvent {
  return event;
}
