/**
 * The built package as an app uses it (dist/, what `npm pack` ships):
 * - its declarations type-check, ESM and CommonJS, in an app that installed
 *   only the README's install line (no optional peer such as sdk-trace),
 *   with skipLibCheck off; the repo's own tsconfig skips lib checks and so
 *   never saw a .d.ts import of an optional peer;
 * - `engines` promises no Node version a dependency refuses;
 * - an app that loads both builds (an ESM app and a CommonJS dependency
 *   requiring the package) gets independent handlers: each its own Redis
 *   instance id, so neither replays the other's in-flight batches.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { assertTwoHandlersCountOnce, backendAndHandlers } from '../helpers/two-handlers.js';

const root = new URL('../../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(root + 'package.json', 'utf8'));

function ensureBuilt(): void {
  // `npm ci` builds dist through the prepare script; build here only when missing.
  if (!existsSync(root + 'dist/esm/index.js') || !existsSync(root + 'dist/cjs/index.js')) {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  }
}

/** README's "Use it" samples that need no NodeSDK, as an app writes them. */
const SAMPLE = `
import { GuardAgentHandler, guardAgent, GuardAgentConfigError, type GuardAgentSetup } from 'guard-agent-otel';

export async function run(apiKey: string, projectId: string, endpoint: string): Promise<unknown[]> {
  const agentHandler = new GuardAgentHandler({ apiKey, projectId, endpoint });
  const agent = new GuardAgentHandler({ apiKey, projectId }, { stopBeforeExit: false });
  await agent.start();
  await agent.sendEvent({ eventType: 'ip_banned', ipAddress: '203.0.113.9', actionTaken: 'request_blocked', reason: 'too many failures' });
  await agent.sendMetric({ metricType: 'response_time', value: 0.012, tags: { endpoint: '/login', method: 'POST' } });
  const healthy: boolean = await agent.healthCheck();
  await agent.stop();
  const guard: GuardAgentSetup = guardAgent({ apiKey, projectId, otlp: true, installSignalHandlers: true });
  await guard.shutdown(5000);
  const refused = (() => { try { return new GuardAgentHandler({ apiKey: '' }); } catch (e) { return e instanceof GuardAgentConfigError; } })();
  return [agentHandler.isRunning(), healthy, guard.spanProcessors.length, guard.instrumentation.getLoggerProvider(), refused];
}
`;

/** The README's install line, plus what npm installs with it (api-logs and resources come with sdk-logs; the package's dependencies are added below). */
const INSTALLED = ['api', 'api-logs', 'core', 'instrumentation', 'resources', 'sdk-logs', 'sdk-metrics'];

function minVersion(range: string): number[] {
  const m = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(range.trim());
  assert.ok(m, `engines.node "${range}" is not of the form >=x.y.z`);
  return m.slice(1).map(Number);
}

function atLeast(v: number[], w: number[]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== w[i]) return v[i] > w[i];
  return true;
}

/** True when version `v` falls in one `||` alternative of `range` (forms used by engines: >=x.y.z, ^x.y.z). */
function satisfies(v: number[], range: string): boolean {
  return range.split('||').some((alt) => {
    const m = /^(>=|\^)\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(alt.trim());
    assert.ok(m, `cannot read the engines alternative "${alt.trim()}"`);
    const w = [Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0)];
    return atLeast(v, w) && (m[1] === '>=' || v[0] === w[0]);
  });
}

describe('the package as an app installs it', function () {
  this.timeout(120_000);
  before(ensureBuilt);

  it('its declarations type-check (ESM, CommonJS, bundler) without the optional peers, skipLibCheck off', () => {
    const app = mkdtempSync(join(tmpdir(), 'guard-consumer-'));
    try {
      const modules = join(app, 'node_modules');
      const own = join(modules, 'guard-agent-otel');
      mkdirSync(own, { recursive: true });
      // A copy, not a link: a link would resolve the package's imports from this repository's node_modules.
      for (const f of ['package.json', ...pkg.files]) cpSync(join(root, f), join(own, f), { recursive: true });
      for (const name of [...INSTALLED.map((n) => `@opentelemetry/${n}`), ...Object.keys(pkg.dependencies), '@types/node']) {
        mkdirSync(dirname(join(modules, name)), { recursive: true });
        symlinkSync(join(root, 'node_modules', name), join(modules, name), 'dir');
      }
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
      writeFileSync(join(app, 'esm.mts'), SAMPLE);
      writeFileSync(join(app, 'cjs.cts'), SAMPLE);
      writeFileSync(join(app, 'bundled.ts'), SAMPLE);
      const tsc = (args: string[]) => {
        try {
          execFileSync(process.execPath, [root + 'node_modules/typescript/bin/tsc', '--noEmit', '--strict', '--target', 'es2022', '--types', 'node', ...args], { cwd: app, encoding: 'utf8', stdio: 'pipe' });
          return '';
        } catch (e) {
          return String((e as { stdout?: string }).stdout) + String((e as { stderr?: string }).stderr);
        }
      };
      assert.equal(tsc(['--module', 'nodenext', '--moduleResolution', 'nodenext', 'esm.mts', 'cjs.cts']), '');
      assert.equal(tsc(['--module', 'esnext', '--moduleResolution', 'bundler', 'bundled.ts']), '');
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  it('engines.node asks for no Node version a dependency refuses', () => {
    const ours = minVersion(pkg.engines.node);
    for (const dep of Object.keys(pkg.dependencies)) {
      const theirs = JSON.parse(readFileSync(join(root, 'node_modules', dep, 'package.json'), 'utf8')).engines?.node as string | undefined;
      if (theirs === undefined) continue;
      assert.ok(satisfies(ours, theirs), `engines.node ${pkg.engines.node} allows Node ${ours.join('.')}, which ${dep} refuses (${theirs})`);
    }
  });

  describe('both builds in one process, one Redis and project', () => {
    const KEY = 'package-consumer-test-key-0123';
    const { backend, handlers } = backendAndHandlers(KEY);

    it("the CommonJS build's handler never replays the ESM build's in-flight batches: metrics arrive once", async () => {
      const esm = await import(pathToFileURL(root + pkg.exports['.'].import.default).href);
      const cjs = createRequire(import.meta.url)(root + pkg.exports['.'].require.default);
      assert.notEqual(esm.GuardAgentHandler, cjs.GuardAgentHandler, 'two module instances, as in an app that loads both');
      await assertTwoHandlersCountOnce(
        backend(),
        KEY,
        '/dual',
        (config) => new esm.GuardAgentHandler(config, { env: {}, drainIntervalMs: 50 }) as GuardAgentHandler,
        (config) => new cjs.GuardAgentHandler(config, { env: {}, drainIntervalMs: 50 }) as GuardAgentHandler,
        handlers,
      );
    });
  });
});
