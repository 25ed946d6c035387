/**
 * `guardAgent(config)`: everything NodeSDK takes to run the guard agent, in
 * one call, on either SDK line:
 *
 *   const guard = guardAgent({ apiKey, projectId, otlp: true });
 *   const sdk = new NodeSDK({
 *     logRecordProcessors: guard.logRecordProcessors,
 *     metricReaders: guard.metricReaders,
 *     spanProcessors: guard.spanProcessors,
 *     instrumentations: [guard.instrumentation, ...others],
 *   });
 *   sdk.start();
 *
 * With `otlp` the same records also go to an OTLP/HTTP collector: one batch
 * processor per destination (NodeSDK adds no exporter of its own once
 * `logRecordProcessors` is given), plus a span exporter for the spans that
 * carry the guard span events. The OTLP exporters are optional peer
 * dependencies, loaded only when asked for.
 */
import type { LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { InstrumentType, type IMetricReader } from '@opentelemetry/sdk-metrics';
import type { Context } from '@opentelemetry/api';
import type { AgentConfigInput } from '../config-types.js';
import { GuardAgentConfigError } from '../errors.js';
import { DEFAULT_STOP_TIMEOUT_MS, GuardAgentHandler, type GuardAgentHandlerOptions } from '../handler/guard-agent-handler.js';
import { installShutdownHooks } from '../handler/shutdown-hooks.js';
import { GuardInstrumentation, type GuardInstrumentationConfig } from './guard-instrumentation.js';
import { requireHere } from './otel-line.js';
import { createBatchLogRecordProcessor, createPeriodicReader } from './sdk-compat.js';

/**
 * sdk-trace's `SpanProcessor` (what NodeSDK's `spanProcessors` take on both
 * lines), written out here: sdk-trace is an optional peer, and the shipped
 * declarations must not import it, or an app without it fails to type-check
 * (TS2307 in guard-agent.d.ts). `unknown` spans keep it assignable to the SDK's.
 */
export interface GuardSpanProcessor {
  forceFlush(): Promise<void>;
  onStart(span: unknown, parentContext: Context): void;
  onEnd(span: unknown): void;
  shutdown(): Promise<void>;
}

export interface OtlpOptions {
  /** Base URL of the collector's OTLP/HTTP receiver (default `OTEL_EXPORTER_OTLP_ENDPOINT` or http://localhost:4318). */
  url?: string;
  headers?: Record<string, string>;
  /** Metric export interval, ms (default 10000). */
  metricIntervalMs?: number;
}

export interface GuardAgentOptions extends AgentConfigInput {
  /** Also send logs, metrics and spans to an OTLP/HTTP collector: true, a base URL, or options. */
  otlp?: boolean | string | OtlpOptions;
  /** Options of the GuardInstrumentation (HTTP observation; every part can be switched off). */
  instrumentation?: GuardInstrumentationConfig;
  /** Opt in to SIGTERM/SIGINT hooks that stop the agent and flush the OTLP fan-out (both within the handler's stop deadline) before the process exits. */
  installSignalHandlers?: boolean;
  /** Handler options (queue size, span events, stop deadline, ...). */
  handlerOptions?: Omit<GuardAgentHandlerOptions, 'instrumentation'>;
}

export interface GuardAgentSetup {
  handler: GuardAgentHandler;
  instrumentation: GuardInstrumentation;
  /** The guard processor alone (for NodeSDK 2.x's singular `logRecordProcessor`). */
  logRecordProcessor: LogRecordProcessor;
  /** The guard reader alone. */
  metricReader: IMetricReader;
  /** Guard processor, plus the OTLP one with `otlp`. */
  logRecordProcessors: LogRecordProcessor[];
  metricReaders: IMetricReader[];
  /** Empty without `otlp`; with it, a batch span processor to the collector. */
  spanProcessors: GuardSpanProcessor[];
  instrumentations: GuardInstrumentation[];
  /** Stops the agent within `timeoutMs` (NodeSDK's own shutdown has no deadline); call before `sdk.shutdown()`. */
  shutdown(timeoutMs?: number): Promise<void>;
}

const OTLP_KEYS = ['otlp', 'instrumentation', 'installSignalHandlers', 'handlerOptions'] as const;

export function guardAgent(options: GuardAgentOptions): GuardAgentSetup {
  const config: Record<string, unknown> = { ...options };
  for (const k of OTLP_KEYS) delete config[k];
  const instrumentation = new GuardInstrumentation(options.instrumentation);
  let handler: GuardAgentHandler;
  let otlp: ReturnType<typeof otlpParts> | undefined;
  try {
    // The OTLP parts first: they refuse a bad URL or a missing package before the handler opens connections.
    otlp = options.otlp ? otlpParts(options.otlp, instrumentation) : undefined;
    handler = new GuardAgentHandler(config as AgentConfigInput, { ...options.handlerOptions, instrumentation });
  } catch (err) {
    // Nothing of a refused setup keeps running: the instrumentation observes requests from its construction.
    instrumentation.disable();
    throw err;
  }
  const logRecordProcessors: LogRecordProcessor[] = [handler.pipeline.logProcessor];
  const metricReaders: IMetricReader[] = [handler.pipeline.metricReader];
  const spanProcessors: GuardSpanProcessor[] = [];
  if (otlp) {
    logRecordProcessors.push(otlp.logs);
    metricReaders.push(otlp.metrics);
    spanProcessors.push(otlp.spans);
  }
  void handler.start();
  // On a signal the hook exits the process, and NodeSDK's shutdown never runs: the OTLP parts are flushed here too.
  const stopTimeoutMs = options.handlerOptions?.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const removeHooks = options.installSignalHandlers
    ? installShutdownHooks(async () => {
        await Promise.all([handler.stop(stopTimeoutMs), otlp ? flushWithin([otlp.logs, otlp.metrics, otlp.spans], stopTimeoutMs) : undefined]);
      })
    : () => undefined;
  return {
    handler,
    instrumentation,
    logRecordProcessor: handler.pipeline.logProcessor,
    metricReader: handler.pipeline.metricReader,
    logRecordProcessors,
    metricReaders,
    spanProcessors,
    instrumentations: [instrumentation],
    async shutdown(timeoutMs?: number) {
      removeHooks();
      await handler.stop(timeoutMs);
    },
  };
}

/**
 * Flushes each part (its export included), and ends within `timeoutMs` whatever
 * they do: a failed flush (a reader NodeSDK never started) or a collector that
 * does not answer costs the deadline at most, never the exit.
 */
async function flushWithin(parts: readonly { forceFlush(): Promise<void> }[], timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  const flushed = Promise.allSettled(parts.map((p) => Promise.resolve().then(() => p.forceFlush())));
  try {
    await Promise.race([flushed, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The OTLP exporters take any URL (`collector:4318` parses, with scheme `collector:`) and then never reach it. */
function checkOtlpUrl(base: string): void {
  let protocol = '';
  try {
    protocol = new URL(base).protocol;
  } catch {
    // reported below
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    // The URL itself is not quoted: it may carry credentials.
    const why = protocol === '' ? 'it does not parse as a URL' : `its scheme is '${protocol}'`;
    throw new GuardAgentConfigError([{ field: 'otlp.url', message: `must be an http:// or https:// URL (${why})` }]);
  }
}

function otlpParts(option: true | string | OtlpOptions, instrumentation: GuardInstrumentation): { logs: LogRecordProcessor; metrics: IMetricReader; spans: GuardSpanProcessor } {
  const o: OtlpOptions = option === true ? {} : typeof option === 'string' ? { url: option } : option;
  const base = (o.url ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318').replace(/\/+$/, '');
  checkOtlpUrl(base);
  const load = <T>(pkg: string, name: string): new (arg: unknown) => T => {
    try {
      const mod = requireHere()(pkg) as Record<string, new (arg: unknown) => T>;
      return mod[name];
    } catch {
      throw new GuardAgentConfigError([{ field: 'otlp', message: `needs the optional package ${pkg} (npm install ${pkg})` }]);
    }
  };
  const headers = o.headers;
  const LogExporter = load<import('@opentelemetry/sdk-logs').LogRecordExporter>('@opentelemetry/exporter-logs-otlp-http', 'OTLPLogExporter');
  const MetricExporter = load<import('@opentelemetry/sdk-metrics').PushMetricExporter>('@opentelemetry/exporter-metrics-otlp-http', 'OTLPMetricExporter');
  const TraceExporter = load<unknown>('@opentelemetry/exporter-trace-otlp-http', 'OTLPTraceExporter');
  const BatchSpanProcessor = load<GuardSpanProcessor>('@opentelemetry/sdk-trace', 'BatchSpanProcessor');
  const metricExporter = new MetricExporter({ url: `${base}/v1/metrics`, headers });
  // The instrumentation's response-time histogram reaches this reader through a producer, in the exporter's temporality.
  const temporality = metricExporter.selectAggregationTemporality?.(InstrumentType.HISTOGRAM);
  return {
    logs: createBatchLogRecordProcessor(new LogExporter({ url: `${base}/v1/logs`, headers })),
    metrics: createPeriodicReader(metricExporter, {
      exportIntervalMillis: o.metricIntervalMs ?? 10_000,
      metricProducers: [instrumentation.metricProducer(temporality)],
    }),
    spans: new BatchSpanProcessor({ exporter: new TraceExporter({ url: `${base}/v1/traces`, headers }) }),
  };
}
