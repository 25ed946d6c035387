/**
 * Building SDK parts the same way on both OpenTelemetry JS lines.
 *
 * What differs between the 2.x line (api 1.9, api-logs/sdk-logs 0.223, sdk-metrics
 * 2.12, sdk-node/instrumentation/exporters 0.223) and the 3.x line (api 1.10,
 * sdk-logs/sdk-metrics/core/resources 3.1.0, sdk-node/instrumentation/exporters
 * 0.301.0), read from their .d.ts and code:
 *
 * - Logs API: 2.x `@opentelemetry/api-logs` (`logs`, `SeverityNumber`, `Logger`);
 *   3.x inside `@opentelemetry/api` (no api-logs release past 0.223). NodeSDK
 *   registers its LoggerProvider in that line's global only, and
 *   `registerInstrumentations` hands instrumentations that line's global
 *   (proxy) LoggerProvider: a record sent through the other global is dropped.
 * - sdk-logs: same runtime API. `new LoggerProvider({ resource, processors,
 *   logRecordLimits, loggerConfigurator, meterProvider })` on both (the
 *   `addLogRecordProcessor` method is gone on both). `new BatchLogRecordProcessor(
 *   { exporter, maxQueueSize, maxExportBatchSize, scheduledDelayMillis,
 *   exportTimeoutMillis })`: one options object on both. Types differ: 3.x
 *   types come from `@opentelemetry/api`; `LoggerConfig.disabled` (2.x) became
 *   `LoggerConfig.enabled` (3.x); `BatchLogRecordProcessorBrowserOptions` is a
 *   deprecated alias on 3.x. sdk-logs jumped from 0.2xx to 3.x (graduated).
 * - sdk-metrics: identical API: `new MeterProvider({ resource, views, readers })`,
 *   `new PeriodicExportingMetricReader({ exporter, exportIntervalMillis,
 *   exportTimeoutMillis, ... })`, `InMemoryMetricExporter(temporality)`.
 * - Traces: `@opentelemetry/sdk-trace-base` has no 3.x release; it was a shim
 *   over `@opentelemetry/sdk-trace` since 2.12 (`BasicTracerProvider` ->
 *   `TracerProvider`, `spanProcessors` option; sdk-trace's `BatchSpanProcessor`
 *   takes one `{ exporter, ... }` object where sdk-trace-base's took
 *   `(exporter, config)`). Use `@opentelemetry/sdk-trace` (installed on 2.x
 *   too, as a dependency of sdk-trace-base and sdk-node).
 * - NodeSDK: 3.x accepts only the plural `logRecordProcessors`, `metricReaders`,
 *   `spanProcessors` (its README still shows the singular ones); 2.x has both.
 *   Both call `registerInstrumentations` at `start()` with the globals, then
 *   `setMeterProvider(global)` again once their MeterProvider exists.
 * - InstrumentationBase: same shape; `setTracerProvider`, `setMeterProvider`
 *   and `setLoggerProvider` exist on both (typed with api-logs on 2.x, api on
 *   3.x). Both call `init()`, `_updateMetricInstruments()` and `enable()` from
 *   the constructor, before subclass fields exist. 3.x documents `_enabled`
 *   as protected and read-only for subclasses (private in 2.x types).
 * - Packaging: 3.x ships `dist/index.{mjs,cjs}` with an `exports` map that does
 *   not export `./package.json`; 2.x ships `build/src` without an exports map.
 *   3.x packages require Node >= 22.15.
 *
 * The constructors below therefore take the same arguments on both lines; this
 * module is the one place that knows it, and the compat tests run on both.
 * Nothing here registers a global: whoever creates a provider owns it.
 */
import type { MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter, type LogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type IMetricReader,
  type MetricProducer,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import type { Resource } from '@opentelemetry/resources';
import { detectOtelLine, type OtelLine } from './otel-line.js';

/** SeverityNumber values (the same numbers on both lines; the enum lives in a different package on each). */
export const SEVERITY = Object.freeze({
  UNSPECIFIED: 0,
  TRACE: 1,
  DEBUG: 5,
  INFO: 9,
  WARN: 13,
  ERROR: 17,
  FATAL: 21,
} as const);

export interface LoggerProviderParts {
  resource?: Resource;
  processors: LogRecordProcessor[];
}

export interface BatchLogOptions {
  maxQueueSize?: number;
  maxExportBatchSize?: number;
  scheduledDelayMillis?: number;
  exportTimeoutMillis?: number;
  /** The processor's self-observability metrics (the guard pipeline passes a QueueFullProbe). */
  selfObsMeterProvider?: ApiMeterProvider;
}

export interface MeterProviderParts {
  resource?: Resource;
  readers: IMetricReader[];
}

export interface PeriodicReaderOptions {
  exportIntervalMillis?: number;
  exportTimeoutMillis?: number;
  metricProducers?: MetricProducer[];
}

/** A LoggerProvider owned by the caller (not registered as the global). */
export function createLoggerProvider(parts: LoggerProviderParts): LoggerProvider {
  return new LoggerProvider({ ...(parts.resource ? { resource: parts.resource } : {}), processors: [...parts.processors] });
}

/**
 * A BatchLogRecordProcessor. Processors built here ignore `OTEL_BLRP_*` (only
 * NodeSDK reads them), so every option is explicit or the SDK default.
 */
export function createBatchLogRecordProcessor(exporter: LogRecordExporter, options: BatchLogOptions = {}): BatchLogRecordProcessor {
  return new BatchLogRecordProcessor({ exporter, ...definedOnly(options) });
}

/** A MeterProvider owned by the caller (not registered as the global). */
export function createMeterProvider(parts: MeterProviderParts): MeterProvider {
  return new MeterProvider({ ...(parts.resource ? { resource: parts.resource } : {}), readers: [...parts.readers] });
}

export function createPeriodicReader(exporter: PushMetricExporter, options: PeriodicReaderOptions = {}): PeriodicExportingMetricReader {
  return new PeriodicExportingMetricReader({ exporter, ...definedOnly(options) });
}

/** The NodeSDK option names each line accepts for the parts the agent contributes. */
export const NODE_SDK_OPTION_NAMES: Readonly<Record<OtelLine, { logs: readonly string[]; metrics: readonly string[]; spans: readonly string[] }>> = {
  2: { logs: ['logRecordProcessors', 'logRecordProcessor'], metrics: ['metricReaders', 'metricReader'], spans: ['spanProcessors', 'spanProcessor'] },
  3: { logs: ['logRecordProcessors'], metrics: ['metricReaders'], spans: ['spanProcessors'] },
};

export interface NodeSdkParts<I = unknown> {
  logRecordProcessors?: LogRecordProcessor[];
  metricReaders?: IMetricReader[];
  instrumentations?: I[];
}

/**
 * NodeSDK options for the given parts, in the spelling every line accepts: the
 * plural arrays (3.x removed the singular `logRecordProcessor`/`metricReader`).
 * Empty parts are left out so NodeSDK keeps its environment-driven defaults
 * for them (passing `logRecordProcessors` turns the OTEL_LOGS_EXPORTER
 * default off).
 */
export function nodeSdkOptionsFor<I>(parts: NodeSdkParts<I>): NodeSdkParts<I> {
  const out: NodeSdkParts<I> = {};
  if (parts.logRecordProcessors && parts.logRecordProcessors.length > 0) out.logRecordProcessors = [...parts.logRecordProcessors];
  if (parts.metricReaders && parts.metricReaders.length > 0) out.metricReaders = [...parts.metricReaders];
  if (parts.instrumentations && parts.instrumentations.length > 0) out.instrumentations = [...parts.instrumentations];
  return out;
}

/** The line the factories above build for (re-exported for the helper's diagnostics). */
export function sdkLine(): OtelLine {
  return detectOtelLine();
}

function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
