/**
 * Which OpenTelemetry JS line the host installed: 2 (sdk-logs 0.2xx, the Logs
 * API in `@opentelemetry/api-logs`) or 3 (sdk-logs 3.x, the Logs API inside
 * `@opentelemetry/api`). A record emitted through the other line's logs
 * global is dropped without a word, so the few places that must reach a
 * global (only as a fallback: the SDK normally hands its providers over) ask
 * this module, which decides once per process.
 *
 * The version is read from the sdk-logs package.json found next to the
 * sdk-logs that `require` resolves from this file. The 3.x packages do not
 * export `./package.json`, so the file is located by walking up from the
 * resolved entry point instead of being required by name. `import.meta` is
 * not used: the same source also compiles to CommonJS.
 */
import { diag } from '@opentelemetry/api';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type OtelLine = 2 | 3;

/** A Logs API entry point (`logs` of either line), reduced to what the agent uses. */
export interface LogsApiLike {
  getLoggerProvider(): LoggerProviderLike;
}

/** A LoggerProvider of either line, reduced to what the agent uses. */
export interface LoggerProviderLike {
  getLogger(name: string, version?: string, options?: Record<string, unknown>): LoggerLike;
}

/** A Logger of either line; records are plain objects of the same shape on both. */
export interface LoggerLike {
  emit(record: Record<string, unknown>): void;
}

const SDK_LOGS = '@opentelemetry/sdk-logs';
let detected: { line: OtelLine; version: string } | undefined;
let moduleRequire: NodeJS.Require | undefined;

/** The line of the installed `@opentelemetry/sdk-logs`; decided on first call. */
export function detectOtelLine(): OtelLine {
  return otelLineInfo().line;
}

/** The line and the sdk-logs version it was decided from (`'unknown'` when not found). */
export function otelLineInfo(): { line: OtelLine; version: string } {
  if (detected === undefined) detected = detect();
  return detected;
}

/**
 * The Logs API global of the installed line: `@opentelemetry/api`'s `logs` on
 * 3.x, `@opentelemetry/api-logs`'s on 2.x. Loaded only when asked for, so a
 * 3.x host needs no api-logs and a 2.x host no api 1.10.
 */
export function logsApiOfLine(line: OtelLine = detectOtelLine()): LogsApiLike | undefined {
  const name = line === 3 ? '@opentelemetry/api' : '@opentelemetry/api-logs';
  try {
    const mod = requireHere()(name) as { logs?: LogsApiLike };
    if (mod.logs !== undefined && typeof mod.logs.getLoggerProvider === 'function') return mod.logs;
    diag.warn(`guard-agent-otel: ${name} has no Logs API (OpenTelemetry JS line ${line})`);
  } catch (err) {
    diag.warn(`guard-agent-otel: cannot load ${name} for the OpenTelemetry JS ${line}.x line: ${(err as Error).message}`);
  }
  return undefined;
}

/** `require` resolving as this file does (the host's node_modules). */
export function requireHere(): NodeJS.Require {
  if (moduleRequire === undefined) moduleRequire = createRequire(ownFile());
  return moduleRequire;
}

function detect(): { line: OtelLine; version: string } {
  const version = sdkLogsVersion();
  if (version === undefined) {
    // No sdk-logs next to us: fall back to what the API itself tells.
    let apiHasLogs: boolean;
    try {
      apiHasLogs = typeof (requireHere()('@opentelemetry/api') as { logs?: unknown }).logs === 'object';
    } catch {
      apiHasLogs = false;
    }
    return { line: apiHasLogs ? 3 : 2, version: 'unknown' };
  }
  // 2.x line: 0.2xx; 3.x line: 3.y.z (sdk-logs left 0.x when the Logs API moved into api).
  const major = Number(version.split('.')[0]);
  return { line: major >= 3 ? 3 : 2, version };
}

function sdkLogsVersion(): string | undefined {
  let entry: string;
  try {
    entry = requireHere().resolve(SDK_LOGS);
  } catch {
    return undefined;
  }
  for (let dir = dirname(entry); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === SDK_LOGS && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // A nested package.json without JSON ({"type":"module"} stubs are JSON); keep walking.
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * This module's own file, without `import.meta` (not allowed in the CommonJS
 * build): `__filename` under CommonJS, else the first stack frame outside
 * node internals, which is this module. Falls back to the working directory.
 */
function ownFile(): string {
  if (typeof __filename === 'string') return __filename;
  const holder: { stack?: string } = {};
  const previous = Error.stackTraceLimit;
  Error.stackTraceLimit = 3;
  Error.captureStackTrace(holder, ownFile);
  Error.stackTraceLimit = previous;
  const match = /(file:\/\/[^\s)]+?|\/[^\s)]+?):\d+:\d+\)?\s*$/m.exec(holder.stack ?? '');
  if (match) {
    const location = match[1];
    return location.startsWith('file://') ? fileURLToPath(location) : location;
  }
  return join(process.cwd(), 'noop.js');
}
