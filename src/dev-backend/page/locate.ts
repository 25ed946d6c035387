/**
 * Where the page's files are at run time. The same source runs as ESM under
 * tsx (from `src/`), and compiled to `dist/esm` and `dist/cjs`; the build
 * copies `src/dev-backend/public` next to the compiled `dev-backend/`, so in
 * all three layouts the folder is `../public` from this file. `import.meta`
 * cannot be used (the CommonJS build refuses it), so this file finds itself
 * through `__filename` under CommonJS and through a V8 call site under ESM.
 *
 * chart.js is resolved as a package from this file, which finds the copy the
 * host installed with us (hoisted or nested); its `exports` do not list the
 * UMD file, so the entry point is resolved and the UMD build taken beside it.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This module's own file path. */
function ownFile(): string {
  if (typeof __filename === 'string') return __filename;
  const previous = Error.prepareStackTrace;
  let name: string | null | undefined;
  try {
    Error.prepareStackTrace = (_err, frames) => frames;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, ownFile);
    const frames = holder.stack as NodeJS.CallSite[] | undefined;
    name = frames?.[0]?.getFileName();
  } finally {
    Error.prepareStackTrace = previous;
  }
  if (typeof name !== 'string' || name === '') throw new Error('dev-backend page: cannot tell where its own module is');
  return name.startsWith('file:') ? fileURLToPath(name) : name;
}

/** The folder holding index.html, app.js and style.css. */
export function publicDir(): string {
  return join(dirname(ownFile()), '..', 'public');
}

/** chart.js's UMD build, from the chart.js installed with this package. */
export function chartJsUmdPath(): string {
  const entry = createRequire(ownFile()).resolve('chart.js');
  return join(dirname(entry), 'chart.umd.js');
}
