#!/usr/bin/env node
// Thin launcher: the CLI, exit codes included, lives in the compiled package.
import('../dist/esm/cli.js').then(
  (m) => m.runCli(process.argv.slice(2)),
  (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; },
);
