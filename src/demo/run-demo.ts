/**
 * The demo, start to end: a dev backend, an OTLP receiver and the example
 * app (a child process exporting to both), the scripted traffic with a
 * progress display, then the app is stopped (it flushes on SIGTERM), the
 * counts settle and the side-by-side summary is printed. Aborting the signal
 * (Ctrl-C) at any point stops the traffic, the app and the servers, and
 * resolves 130. Everything it starts is stopped before it resolves.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { DevBackend, DEFAULT_DEV_API_KEY } from '../dev-backend/index.js';
import { OtlpReceiver } from '../otlp-receiver/index.js';
import { AppProcess } from './app-process.js';
import { countDeliveries, settledCounts } from './delivery-counts.js';
import { DEFAULT_DEMO_OPTIONS, type DemoOptions } from './demo-options.js';
import { formatSummary, judge } from './demo-summary.js';
import { EXAMPLE_APP, findExampleRoot } from './locate-example.js';
import { ProgressReporter, type ProgressStream } from './progress.js';
import { driveTraffic, emptyTally } from './traffic-driver.js';

export const EXIT_INTERRUPTED = 130;

export interface DemoIo {
  /** Report lines (stdout). */
  out(line: string): void;
  /** Where the progress goes (stderr). */
  progress: ProgressStream;
}

/** Environment of the app: ours without GUARD_AGENT_* / OTLP settings that would send the demo elsewhere. */
function appEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('GUARD_AGENT_') || k.startsWith('OTEL_EXPORTER_OTLP_')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function appScript(options: DemoOptions): { script: string; cwd: string } {
  if (options.appScript) {
    const script = isAbsolute(options.appScript) ? options.appScript : resolve(options.appScript);
    return { script, cwd: findExampleRoot(dirname(script)) ?? process.cwd() };
  }
  const root = findExampleRoot();
  if (!root) throw new Error(`cannot find ${EXAMPLE_APP}: run the demo from a clone of the repository (npm run demo)`);
  return { script: resolve(root, EXAMPLE_APP), cwd: root };
}

export async function runDemo(input: Partial<DemoOptions>, io: DemoIo, signal: AbortSignal): Promise<number> {
  const options: DemoOptions = { ...DEFAULT_DEMO_OPTIONS, ...input };
  const port = (offset: number): number => (options.portBase ? options.portBase + offset : 0);
  const backend = new DevBackend({ apiKeys: [DEFAULT_DEV_API_KEY] });
  const receiver = new OtlpReceiver();
  let app: AppProcess | undefined;
  let progress: ProgressReporter | undefined;
  try {
    const { script, cwd } = appScript(options);
    const { url: backendUrl } = await backend.start({ port: port(0) });
    const { url: otlpUrl } = await receiver.start(port(1));
    io.out(`guard dev backend   ${backendUrl}  (live page: ${backendUrl}/)`);
    io.out(`OTLP/HTTP receiver  ${otlpUrl}`);
    io.out(`starting the example app (${EXAMPLE_APP}: Express 5, NodeSDK, guard agent with OTLP fan-out) ...`);
    const startedAt = Date.now();
    const started = await AppProcess.start({
      script,
      args: ['--serve'],
      cwd,
      env: appEnv({
        GUARD_AGENT_ENDPOINT: backendUrl,
        GUARD_AGENT_API_KEY: DEFAULT_DEV_API_KEY,
        GUARD_AGENT_FLUSH_INTERVAL: String(options.flushIntervalSeconds),
        OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl,
        PORT: String(port(2)),
      }),
      signal,
    });
    app = started.app;
    io.out(`example app         ${started.url}  (pid ${app.pid}, ready in ${((Date.now() - startedAt) / 1000).toFixed(1)}s)`);
    io.out(`sending ${options.rate} req/s for ${options.durationMs / 1000}s: normal requests, 401s, 403s, 429s, attack-looking requests`);

    const tally = emptyTally();
    progress = new ProgressReporter(io.progress, tally);
    progress.start();
    await driveTraffic({ baseUrl: started.url, rate: options.rate, durationMs: options.durationMs, concurrency: options.concurrency, signal }, tally);
    progress.stop();
    progress = undefined;
    if (signal.aborted) return EXIT_INTERRUPTED;

    io.out('stopping the app (it flushes the guard agent and the OTLP exporters on SIGTERM) ...');
    const stopAt = Date.now();
    const code = await app.stop();
    io.out(`the app exited with code ${String(code)} after ${((Date.now() - stopAt) / 1000).toFixed(1)}s`);
    if (signal.aborted) return EXIT_INTERRUPTED;
    const counts = await settledCounts(() => countDeliveries(backend, receiver), { signal });
    if (signal.aborted) return EXIT_INTERRUPTED;

    io.out('');
    for (const line of formatSummary(counts, { backendUrl, otlpUrl })) io.out(line);
    io.out(`(metrics: the guard exporter sends one record per route and type every ${options.flushIntervalSeconds}s; the OTLP reader sends aggregated points every 10s and at shutdown)`);
    io.out('');
    const delivery = app.deliveryLine();
    if (delivery) io.out(`the app reported: ${delivery}`);
    const verdict = judge(counts, tally);
    if (code !== 0) {
      verdict.ok = false;
      verdict.line = `check FAILED: the app exited with code ${String(code)}${verdict.problems.length ? `; ${verdict.problems.join('; ')}` : ''}`;
    }
    io.out(verdict.line);
    if (tally.failed) io.out(`note: ${tally.failed} request(s) got no answer from the app`);

    if (options.keepOpen) {
      io.out(`live page: ${backendUrl}/  (kept open: press Ctrl-C to stop)`);
      await new Promise<void>((done) => {
        if (signal.aborted) return done();
        signal.addEventListener('abort', () => done(), { once: true });
      });
    } else {
      io.out(`live page: ${backendUrl}/  (stopped with the demo; run with --keep-open to browse it)`);
    }
    return verdict.ok ? 0 : 1;
  } catch (err) {
    if (signal.aborted) return EXIT_INTERRUPTED;
    io.out(`demo failed: ${(err as Error).message}`);
    return 1;
  } finally {
    progress?.stop();
    // On Ctrl-C the app gets a short grace to flush, then SIGKILL.
    if (app && !app.exited) await app.stop(signal.aborted ? 2000 : 10_000);
    await receiver.stop();
    await backend.stop();
  }
}
