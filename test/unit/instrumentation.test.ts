import assert from 'node:assert/strict';
import { metrics, type MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, InMemoryMetricExporter, type MetricData } from '@opentelemetry/sdk-metrics';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import {
  GUARD_INSTRUMENTATION_NAME,
  GuardInstrumentation,
  type GuardInstrumentationConfig,
  type RequestObservation,
} from '../../src/otel/guard-instrumentation.js';
import { GuardAgentConfigError } from '../../src/errors.js';
import { logsApiOfLine } from '../../src/otel/otel-line.js';
import { createLoggerProvider, createMeterProvider, createPeriodicReader } from '../../src/otel/sdk-compat.js';
import { VERSION } from '../../src/version.js';

type Emitted = Record<string, unknown>;

function observation(over: Partial<RequestObservation> = {}): RequestObservation {
  return {
    route: '/users/:id',
    path: '/users/42',
    method: 'GET',
    status: 200,
    durationSeconds: 0.012,
    bytesOut: 120,
    clientIp: '203.0.113.5',
    userAgent: 'test-agent/1',
    answeredByGate: false,
    ...over,
  };
}

function meterSetup() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const provider = createMeterProvider({ readers: [createPeriodicReader(exporter, { exportIntervalMillis: 60_000 })] });
  const collect = async (): Promise<Map<string, MetricData>> => {
    await provider.forceFlush();
    const out = new Map<string, MetricData>();
    const last = exporter.getMetrics().at(-1);
    for (const sm of last?.scopeMetrics ?? []) for (const m of sm.metrics) out.set(m.descriptor.name, m);
    return out;
  };
  return { provider, collect };
}

describe('GuardInstrumentation (unit)', function () {
  const created: GuardInstrumentation[] = [];
  const make = (...args: ConstructorParameters<typeof GuardInstrumentation>) => {
    const inst = new GuardInstrumentation(...args);
    created.push(inst);
    return inst;
  };
  afterEach(() => {
    for (const inst of created.splice(0)) inst.disable();
  });

  it('constructs safely although the base class enables from its constructor', () => {
    const inst = make();
    assert.equal(inst.instrumentationName, GUARD_INSTRUMENTATION_NAME);
    assert.equal(inst.instrumentationVersion, VERSION);
    assert.equal(inst.isEnabled(), true);
    assert.equal(inst.isObserving, true, 'enabled at the end of construction');
    inst.disable();
    assert.equal(inst.isObserving, false);
    assert.equal(inst.isEnabled(), false);
    inst.enable();
    assert.equal(inst.isObserving, true);
  });

  it('refuses a bad configuration with an error naming the field (a misread trustedProxyDepth would put every client behind the proxy on one IP)', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ trustedProxyDepth: '1' }, 'trustedProxyDepth'], // e.g. straight from an environment variable
      [{ trustedProxyDepth: Number('') - 1 }, 'trustedProxyDepth'],
      [{ trustedProxyDepth: -1 }, 'trustedProxyDepth'],
      [{ trustedProxyDepth: 1.5 }, 'trustedProxyDepth'],
      [{ mode: 'enforcing' }, 'mode'],
      [{ countryHeader: 42 }, 'countryHeader'],
      [{ countryHeader: 'bad header' }, 'countryHeader'],
      [{ ignorePaths: '/health' }, 'ignorePaths'],
      [{ ignorePaths: ['/health', 7] }, 'ignorePaths[1]'],
      // '' matched every path (observation and the rules check off for the whole app); a path without '/' matched none.
      [{ ignorePaths: [''] }, 'ignorePaths[0]'],
      [{ ignorePaths: ['/health', 'metrics'] }, 'ignorePaths[1]'],
    ];
    for (const [config, field] of bad) {
      assert.throws(
        () => make(config as GuardInstrumentationConfig),
        (err: unknown) => err instanceof GuardAgentConfigError && err.field === `instrumentation.${field}`,
        JSON.stringify(config),
      );
    }
    // Valid ones still construct.
    make({ trustedProxyDepth: 2, mode: 'enforce', countryHeader: 'CF-IPCountry', ignorePaths: ['/health', /^\/metrics/] });
    make({ trustedProxyDepth: 0, mode: 'monitor' });
  });

  it('maxUnmatchedRouteKeys is a whole number from 0 to the series cap, else an error naming it', () => {
    for (const value of ['200', -1, 1.5, Number.NaN, Infinity, 1999, null, [200]]) {
      assert.throws(
        () => make({ maxUnmatchedRouteKeys: value } as unknown as GuardInstrumentationConfig),
        (err: unknown) =>
          err instanceof GuardAgentConfigError && err.field === 'instrumentation.maxUnmatchedRouteKeys' && err.message.includes('whole number from 0 to 1998'),
        String(value),
      );
    }
    // Above the cap a scan could fill the interval's series again; 0 groups every unmatched path.
    for (const value of [0, 1, 200, 1998]) make({ maxUnmatchedRouteKeys: value });
  });

  it('enabled: false waits for enable() (what registerInstrumentations calls)', () => {
    const inst = make({ enabled: false });
    assert.equal(inst.isObserving, false);
    inst.enable();
    assert.equal(inst.isObserving, true);
  });

  it('captures the providers it is handed and serves loggers from them', async () => {
    const inst = make();
    const exporter = new InMemoryLogRecordExporter();
    const loggerProvider = createLoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
    const { provider: meterProvider } = meterSetup();
    const tracerProvider = new TracerProvider();
    assert.equal(inst.hasHandedLoggerProvider(), false);
    inst.setLoggerProvider(loggerProvider as never);
    inst.setMeterProvider(meterProvider);
    inst.setTracerProvider(tracerProvider);
    assert.equal(inst.hasHandedLoggerProvider(), true);
    assert.equal(inst.getLoggerProvider(), loggerProvider);
    assert.equal(inst.getMeterProvider(), meterProvider);
    assert.equal(inst.getTracerProvider(), tracerProvider);
    inst.getLogger()?.emit({ eventName: 'guard.security_event', attributes: { a: 1 } });
    const records = exporter.getFinishedLogRecords();
    assert.equal(records.length, 1);
    assert.equal(records[0].instrumentationScope.name, GUARD_INSTRUMENTATION_NAME);
    await loggerProvider.shutdown();
    await meterProvider.shutdown();
  });

  it('before any provider is handed over, falls back to the globals of the installed line', () => {
    const inst = make();
    assert.equal(inst.getLoggerProvider(), logsApiOfLine()?.getLoggerProvider());
    assert.equal(inst.getMeterProvider(), metrics.getMeterProvider() as ApiMeterProvider);
  });

  it('records guard request metrics with endpoint, method and status', async () => {
    const inst = make();
    const { provider, collect } = meterSetup();
    inst.setMeterProvider(provider);
    inst.recordObservation(observation());
    inst.recordObservation(observation({ durationSeconds: 0.5 }));
    inst.recordObservation(observation({ status: 404, bytesOut: undefined }));
    inst.recordObservation(observation({ status: 503, route: '/x', path: '/x' }));
    const m = await collect();
    const points = (name: string) => m.get(name)?.dataPoints ?? [];
    const count = points('guard.request.count');
    assert.deepEqual(
      count.map((p) => [p.attributes.endpoint, p.attributes.method, p.attributes.status, p.value]),
      [['/users/:id', 'GET', 200, 2], ['/users/:id', 'GET', 404, 1], ['/x', 'GET', 503, 1]],
    );
    assert.deepEqual(points('guard.request.errors').map((p) => [p.attributes.status, p.value]), [[404, 1], [503, 1]]);
    const hist = points('guard.response.time').find((p) => p.attributes.status === 200)?.value as { count: number; sum: number };
    assert.equal(hist.count, 2);
    assert.ok(Math.abs(hist.sum - 0.512) < 1e-9);
    assert.equal(m.get('guard.response.time')?.descriptor.unit, 's');
    const bw = points('guard.bandwidth');
    assert.deepEqual(bw.map((p) => [p.attributes.status, p.value]), [[200, 240], [503, 120]], 'unknown sizes are not counted');
    await provider.shutdown();
  });

  it("a sink's observations: unrouted 400/404/405 past maxUnmatchedRouteKeys share '(unmatched)'; routed ones and other statuses keep their route", async () => {
    const inst = make({ maxUnmatchedRouteKeys: 1 });
    const { provider, collect } = meterSetup();
    inst.setMeterProvider(provider);
    inst.recordObservation(observation({ route: '/a', status: 404, routed: false }));
    inst.recordObservation(observation({ route: '/a', status: 404, routed: false }));
    inst.recordObservation(observation({ route: '/b', status: 404 })); // no `routed`: a path
    inst.recordObservation(observation({ route: '/c', status: 405, routed: false }));
    inst.recordObservation(observation({ route: '/items/:id', status: 404, routed: true }));
    inst.recordObservation(observation({ route: '/d', status: 200, routed: false }));
    inst.recordObservation(observation({ route: '/e', status: 401, routed: false }));
    const count = (await collect()).get('guard.request.count')?.dataPoints ?? [];
    assert.deepEqual(
      count.map((p) => [p.attributes.endpoint, p.attributes.status, p.value]),
      [['/a', 404, 2], ['(unmatched)', 404, 1], ['(unmatched)', 405, 1], ['/items/:id', 404, 1], ['/d', 200, 1], ['/e', 401, 1]],
    );
    await provider.shutdown();
  });

  it('a handler-provided Meter takes precedence over the handed MeterProvider', async () => {
    const inst = make();
    const handed = meterSetup();
    const own = meterSetup();
    inst.setMeterProvider(handed.provider);
    inst.setMeter(own.provider.getMeter('handler'));
    inst.recordObservation(observation());
    assert.equal((await own.collect()).get('guard.request.count')?.dataPoints[0].value, 1);
    assert.equal((await handed.collect()).get('guard.request.count'), undefined);
    await handed.provider.shutdown();
    await own.provider.shutdown();
  });

  it('emits observed events for app-produced 401/403/429 only', () => {
    const inst = make();
    const events: Emitted[] = [];
    inst.setEmitEvent((e) => void events.push(e));
    for (const status of [200, 302, 400, 401, 403, 404, 429, 500]) inst.recordObservation(observation({ status, country: 'FR' }));
    inst.recordObservation(observation({ status: 403, answeredByGate: true }));
    assert.deepEqual(events.map((e) => [e.eventType, e.statusCode]), [
      ['authentication_failed', 401],
      ['access_denied', 403],
      ['rate_limited', 429],
    ]);
    assert.deepEqual(
      { ...events[1], metadata: undefined },
      {
        eventType: 'access_denied',
        ipAddress: '203.0.113.5',
        userAgent: 'test-agent/1',
        actionTaken: 'observed',
        reason: 'the app answered 403',
        endpoint: '/users/42',
        method: 'GET',
        statusCode: 403,
        responseTime: 0.012,
        country: 'FR',
        metadata: undefined,
      },
    );
    assert.deepEqual(events[1].metadata, { route: '/users/:id', source: GUARD_INSTRUMENTATION_NAME });
  });

  it('every part can be switched off', async () => {
    const events: Emitted[] = [];
    const noEvents = make({ emitEvents: false });
    noEvents.setEmitEvent((e) => void events.push(e));
    noEvents.recordObservation(observation({ status: 401 }));
    const only429 = make({ statusEvents: { 401: false, 403: false } });
    only429.setEmitEvent((e) => void events.push(e));
    for (const status of [401, 403, 429]) only429.recordObservation(observation({ status }));
    assert.deepEqual(events.map((e) => e.statusCode), [429]);

    const { provider, collect } = meterSetup();
    const noMetrics = make({ recordMetrics: false });
    noMetrics.setMeterProvider(provider);
    noMetrics.recordObservation(observation());
    assert.equal((await collect()).get('guard.request.count'), undefined);
    await provider.shutdown();
  });

  it('a failing emitEvent (throwing or rejecting) never reaches the caller', async () => {
    const inst = make();
    inst.setEmitEvent(() => {
      throw new Error('sync failure');
    });
    assert.doesNotThrow(() => inst.recordObservation(observation({ status: 401 })));
    let rejected = 0;
    inst.setEmitEvent(() => {
      rejected++;
      return Promise.reject(new Error('async failure'));
    });
    inst.recordObservation(observation({ status: 429 }));
    await new Promise((r) => setImmediate(r));
    assert.equal(rejected, 1);
  });
});
