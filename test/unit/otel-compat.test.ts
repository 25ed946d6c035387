import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { metrics, trace, context, propagation } from '@opentelemetry/api';
import { InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, InMemoryMetricExporter } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { detectOtelLine, logsApiOfLine, otelLineInfo, requireHere, type OtelLine } from '../../src/otel/otel-line.js';
import {
  NODE_SDK_OPTION_NAMES,
  SEVERITY,
  createBatchLogRecordProcessor,
  createLoggerProvider,
  createMeterProvider,
  createPeriodicReader,
  nodeSdkOptionsFor,
} from '../../src/otel/sdk-compat.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Version of an installed package, read from its file (3.x packages do not export ./package.json). */
function installedVersion(name: string): string {
  let dir = dirname(requireHere().resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version: string };
      if (pkg.name === name) return pkg.version;
    } catch {
      // no package.json here
    }
    dir = dirname(dir);
  }
}

/** Environment for NodeSDK tests: no exporter from the environment, no resource detection noise. */
function withQuietSdkEnv(): () => void {
  const keys = ['OTEL_METRICS_EXPORTER', 'OTEL_TRACES_EXPORTER', 'OTEL_LOGS_EXPORTER'] as const;
  const saved = keys.map((k) => process.env[k]);
  for (const k of keys) process.env[k] = 'none';
  return () => keys.forEach((k, i) => (saved[i] === undefined ? delete process.env[k] : (process.env[k] = saved[i])));
}

/** Undo what NodeSDK.start() registered, so later tests start from clean globals. */
function resetGlobals(line: OtelLine): void {
  (logsApiOfLine(line) as unknown as { disable(): void } | undefined)?.disable();
  metrics.disable();
  trace.disable();
  context.disable();
  propagation.disable();
}

describe('OpenTelemetry line detection and SDK compat', function () {
  const line = detectOtelLine();

  it('detects the installed line from sdk-logs, once', () => {
    const version = installedVersion('@opentelemetry/sdk-logs');
    assert.equal(otelLineInfo().version, version);
    assert.equal(line, Number(version.split('.')[0]) >= 3 ? 3 : 2);
    assert.equal(otelLineInfo(), otelLineInfo(), 'decided once and cached');
    if (process.env.GUARD_OTEL_LINE) assert.equal(line, Number(process.env.GUARD_OTEL_LINE));
    if (line === 3) {
      const [major, minor] = process.versions.node.split('.').map(Number);
      assert.ok(major > 22 || (major === 22 && minor >= 15), `3.x needs Node >= 22.15, running ${process.version}`);
    }
  });

  it('SEVERITY matches the SeverityNumber enum of the line', () => {
    const mod = requireHere()(line === 3 ? '@opentelemetry/api' : '@opentelemetry/api-logs') as { SeverityNumber: Record<string, number> };
    for (const name of ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'UNSPECIFIED'] as const) {
      assert.equal(SEVERITY[name], mod.SeverityNumber[name], name);
    }
  });

  it('createLoggerProvider + createBatchLogRecordProcessor: options honoured, records exported', async () => {
    const exporter = new InMemoryLogRecordExporter();
    const provider = createLoggerProvider({ processors: [createBatchLogRecordProcessor(exporter, { scheduledDelayMillis: 60_000, maxExportBatchSize: 100, maxQueueSize: 1000 })] });
    const logger = provider.getLogger('compat');
    for (let i = 0; i < 3; i++) logger.emit({ eventName: 'guard.security_event', severityNumber: SEVERITY.WARN, attributes: { i } });
    await sleep(50);
    assert.equal(exporter.getFinishedLogRecords().length, 0, 'a 60 s scheduled delay holds the batch');
    await provider.forceFlush();
    const records = exporter.getFinishedLogRecords();
    assert.deepEqual(records.map((r) => r.attributes.i), [0, 1, 2]);
    assert.equal(records[0].eventName, 'guard.security_event');
    assert.equal(records[0].severityNumber, SEVERITY.WARN);
    await provider.shutdown();
  });

  it('the batch processor drops the newest records when its queue is full (no retry, no error)', async () => {
    const exporter = new InMemoryLogRecordExporter();
    const provider = createLoggerProvider({ processors: [createBatchLogRecordProcessor(exporter, { scheduledDelayMillis: 60_000, maxExportBatchSize: 10, maxQueueSize: 10 })] });
    const logger = provider.getLogger('compat');
    for (let i = 0; i < 25; i++) logger.emit({ attributes: { i } });
    await provider.forceFlush();
    const kept = exporter.getFinishedLogRecords().map((r) => r.attributes.i as number);
    assert.ok(kept.length < 25, `kept ${kept.length}`);
    assert.ok(kept.includes(0), 'the oldest records are the ones kept');
    await provider.shutdown();
  });

  it('createMeterProvider + createPeriodicReader export measurements', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const provider = createMeterProvider({ readers: [createPeriodicReader(exporter, { exportIntervalMillis: 60_000, exportTimeoutMillis: 1000 })] });
    provider.getMeter('compat').createCounter('guard.request.count').add(5, { endpoint: '/x' });
    await provider.forceFlush();
    const metric = exporter.getMetrics()[0].scopeMetrics[0].metrics[0];
    assert.equal(metric.descriptor.name, 'guard.request.count');
    assert.equal(metric.dataPoints[0].value, 5);
    await provider.shutdown();
  });

  it('nodeSdkOptionsFor uses the plural names every line accepts and leaves empty parts out', () => {
    const proc = new SimpleLogRecordProcessor({ exporter: new InMemoryLogRecordExporter() });
    const opts = nodeSdkOptionsFor({ logRecordProcessors: [proc], metricReaders: [], instrumentations: [] });
    assert.deepEqual(Object.keys(opts), ['logRecordProcessors']);
    assert.equal(opts.logRecordProcessors?.[0], proc);
    assert.ok(NODE_SDK_OPTION_NAMES[line].logs.includes('logRecordProcessors'));
    assert.ok(NODE_SDK_OPTION_NAMES[line].metrics.includes('metricReaders'));
  });

  describe('against the installed NodeSDK', function () {
    let restoreEnv: () => void;
    beforeEach(() => (restoreEnv = withQuietSdkEnv()));
    afterEach(() => {
      resetGlobals(line);
      restoreEnv();
    });

    it('NODE_SDK_OPTION_NAMES lists exactly the log option names the NodeSDK of this line honours', async () => {
      for (const name of ['logRecordProcessors', 'logRecordProcessor']) {
        const exporter = new InMemoryLogRecordExporter();
        const processor = new SimpleLogRecordProcessor({ exporter });
        const value = name.endsWith('s') ? [processor] : processor;
        const sdk = new NodeSDK({ autoDetectResources: false, [name]: value } as ConstructorParameters<typeof NodeSDK>[0]);
        sdk.start();
        logsApiOfLine(line)?.getLoggerProvider().getLogger('compat').emit({ body: name });
        // Read before shutdown: the in-memory exporter forgets everything when shut down.
        const honoured = exporter.getFinishedLogRecords().length === 1;
        await sdk.shutdown();
        resetGlobals(line);
        assert.equal(honoured, NODE_SDK_OPTION_NAMES[line].logs.includes(name), `${name} on the ${line}.x line`);
      }
    });

    it('a record reaches the SDK only through the logs global of its own line', async () => {
      const exporter = new InMemoryLogRecordExporter();
      const sdk = new NodeSDK({ autoDetectResources: false, ...nodeSdkOptionsFor({ logRecordProcessors: [new SimpleLogRecordProcessor({ exporter })] }) });
      sdk.start();
      logsApiOfLine(line)?.getLoggerProvider().getLogger('compat').emit({ body: 'right global' });
      const other: OtelLine = line === 3 ? 2 : 3;
      let otherGlobal: ReturnType<typeof logsApiOfLine>;
      try {
        const mod = requireHere()(other === 3 ? '@opentelemetry/api' : '@opentelemetry/api-logs') as { logs?: ReturnType<typeof logsApiOfLine> };
        otherGlobal = mod.logs;
      } catch {
        otherGlobal = undefined; // that line's API is not installed at all
      }
      otherGlobal?.getLoggerProvider().getLogger('compat').emit({ body: 'wrong global' });
      const bodies = exporter.getFinishedLogRecords().map((r) => r.body);
      await sdk.shutdown();
      assert.deepEqual(bodies, ['right global'], 'the other line\'s global drops silently');
    });
  });
});
