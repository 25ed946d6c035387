#!/usr/bin/env node
// Switch the OpenTelemetry JS packages installed in node_modules between the
// two live lines, without touching package.json or package-lock.json:
//
//   node scripts/otel-line.mjs 3   # install the 3.x set (--no-save)
//   node scripts/otel-line.mjs 2   # restore the locked 2.x set (npm ci)
//   node scripts/otel-line.mjs     # print the line installed now
//
// Every `@opentelemetry/*` package of devDependencies is mapped to its 3.x
// version: the 0.2xx "experimental" packages to 0.301.0, the 2.x "stable" ones
// to 3.1.0, `@opentelemetry/api` to 1.10.0 (it carries the Logs API on 3.x).
// sdk-logs graduated: 0.223.x on 2.x, 3.1.0 on 3.x (mapping it to 0.301.0
// would leave no top-level sdk-logs at all).
// sdk-node 0.301.0 pins its siblings at exactly 3.1.0 / 0.301.0, so any other
// version would install nested duplicate copies.
//
// Two packages have no 3.x release:
// - `@opentelemetry/sdk-trace-base` became `@opentelemetry/sdk-trace` (2.12
//   already shipped it as a shim over sdk-trace); we install sdk-trace@3.1.0.
// - `@opentelemetry/api-logs` stops at 0.223.x: the Logs API moved into
//   `@opentelemetry/api`. It stays installed at its 2.x version, like a stray
//   copy in a real host, which is exactly the case where code hard-wired to
//   it would silently drop records.
// The 2.x packages left in package.json declare `@opentelemetry/api <1.10`
// as a peer, so the 3.x install uses --legacy-peer-deps; they are not loaded
// by anything on the 3.x line. Both directions use --ignore-scripts: the OTel
// packages have no install scripts, and switching must not run this package's
// `prepare` (a full build).
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const LINE3 = { stable: '3.1.0', experimental: '0.301.0', api: '1.10.0' };
const RENAMED_ON_3 = { '@opentelemetry/sdk-trace-base': '@opentelemetry/sdk-trace' };
const NO_3X_RELEASE = new Set(['@opentelemetry/api-logs']);
const GRADUATED_ON_3 = new Set(['@opentelemetry/sdk-logs']);

function npm(args) {
  process.stdout.write(`$ npm ${args.join(' ')}\n`);
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { cwd: root, stdio: 'inherit' });
}

function installedVersion(name) {
  // Read the file directly: 3.x packages do not export ./package.json.
  const file = join(root, 'node_modules', name, 'package.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : undefined;
}

function installedLine() {
  const v = installedVersion('@opentelemetry/sdk-logs');
  if (v === undefined) return undefined;
  const major = Number(v.split('.')[0]);
  return major >= 3 ? 3 : 2;
}

/** The 3.x spec (`name@version`) for every OTel package of devDependencies. */
function line3Specs(devDependencies) {
  const specs = new Map();
  for (const [name, range] of Object.entries(devDependencies)) {
    if (!name.startsWith('@opentelemetry/') || NO_3X_RELEASE.has(name)) continue;
    const target = RENAMED_ON_3[name] ?? name;
    const version = name === '@opentelemetry/api'
      ? LINE3.api
      : GRADUATED_ON_3.has(name) || !String(range).replace(/^[\^~]/, '').startsWith('0.') ? LINE3.stable : LINE3.experimental;
    specs.set(target, `${target}@${version}`);
  }
  specs.set('@opentelemetry/api', `@opentelemetry/api@${LINE3.api}`);
  return [...specs.values()].sort();
}

const wanted = process.argv[2];
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

if (wanted === undefined) {
  process.stdout.write(`${installedLine() ?? 'none'}\n`);
} else if (wanted === '3') {
  npm(['install', '--no-save', '--no-audit', '--no-fund', '--legacy-peer-deps', '--ignore-scripts', ...line3Specs(pkg.devDependencies ?? {})]);
} else if (wanted === '2') {
  // The lock file holds the 2.x line: `npm ci` puts back exactly that tree.
  // --ignore-scripts: no rebuild of this package (`prepare`) just to switch lines.
  npm(['ci', '--no-audit', '--no-fund', '--ignore-scripts']);
} else {
  process.stderr.write('usage: node scripts/otel-line.mjs [2|3]\n');
  process.exit(2);
}

if (wanted !== undefined) {
  const line = installedLine();
  process.stdout.write(`OpenTelemetry JS line now installed: ${line} (sdk-logs ${installedVersion('@opentelemetry/sdk-logs')}, api ${installedVersion('@opentelemetry/api')})\n`);
  if (String(line) !== wanted) process.exit(1);
}
