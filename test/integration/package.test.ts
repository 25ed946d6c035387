import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { VERSION } from '../../src/version.js';

const root = new URL('../../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(root + 'package.json', 'utf8'));

describe('the package', function () {
  this.timeout(120_000);

  before(() => {
    // `npm ci` builds dist through the prepare script; build here only when missing.
    if (!existsSync(root + 'dist/esm/index.js') || !existsSync(root + 'dist/cjs/index.js')) {
      execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
    }
  });

  it('VERSION matches package.json', () => {
    assert.equal(VERSION, pkg.version);
  });

  it('exports ESM and CommonJS builds with types through "exports"', async () => {
    for (const cond of ['import', 'require']) {
      assert.ok(existsSync(root + pkg.exports['.'][cond].types), `${cond} types`);
      assert.ok(existsSync(root + pkg.exports['.'][cond].default), `${cond} entry`);
    }
    const esm = await import(pathToFileURL(root + pkg.exports['.'].import.default).href);
    const cjs = createRequire(import.meta.url)(root + pkg.exports['.'].require.default);
    for (const mod of [esm, cjs]) {
      assert.equal(mod.VERSION, pkg.version);
      assert.equal(typeof mod.SecurityEvent, 'function');
      assert.equal(typeof mod.HTTPTransport, 'function');
      assert.equal(typeof mod.guardAgent, 'function');
      assert.equal(typeof mod.GuardAgentHandler, 'function');
      assert.equal(typeof mod.GuardInstrumentation, 'function');
      assert.equal(mod.KNOWN_EVENT_TYPES.length, 39);
    }
  });

  it('the guard-agent bin answers --help and --version', () => {
    assert.equal(pkg.bin['guard-agent'], './bin/guard-agent.js');
    const version = execFileSync(process.execPath, [root + 'bin/guard-agent.js', '--version'], { encoding: 'utf8' });
    assert.equal(version.trim(), pkg.version);
    const help = execFileSync(process.execPath, [root + 'bin/guard-agent.js', '--help'], { encoding: 'utf8' });
    assert.match(help, /dev-backend/);
    assert.match(help, /Usage:/);
  });

  it('guard-agent smoke delivers through the real transport to an in-process dev backend', () => {
    const out = execFileSync(process.execPath, [root + 'bin/guard-agent.js', 'smoke', '--count', '7'], { encoding: 'utf8' });
    assert.match(out, /events: {2}7\/7 delivered/);
    assert.match(out, /backend stored 7 unique events and 2 metrics/);
  });

  it('unknown commands and bad options exit 2 with a message', () => {
    assert.throws(() => execFileSync(process.execPath, [root + 'bin/guard-agent.js', 'nope'], { stdio: 'pipe' }), (e: { status: number }) => e.status === 2);
    assert.throws(() => execFileSync(process.execPath, [root + 'bin/guard-agent.js', 'smoke', '--count', 'x'], { stdio: 'pipe' }), (e: { status: number; stderr: Buffer }) => e.status === 2 && /--count/.test(e.stderr.toString()));
  });
});
