#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled package.
import('../dist/esm/cli.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; },
);
