// Builds the ESM and CommonJS outputs with types. The sources are ESM with
// explicit `.js` specifiers, which resolve the same way under both module
// systems, so one tree compiles twice; a nested package.json marks the CJS tree.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, cpSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const run = (args) => execFileSync(process.execPath, [tsc, ...args], { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
run(['-p', 'tsconfig.build.json', '--outDir', 'dist/esm', '--module', 'NodeNext']);
run(['-p', 'tsconfig.build.json', '--outDir', 'dist/cjs', '--module', 'CommonJS', '--moduleResolution', 'Node10', '--ignoreDeprecations', '6.0']);
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/esm/package.json', JSON.stringify({ type: 'module' }) + '\n');
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
// Static assets of the dev backend's page travel next to the compiled code.
if (existsSync('src/dev-backend/public')) {
  for (const out of ['dist/esm', 'dist/cjs']) cpSync('src/dev-backend/public', `${out}/dev-backend/public`, { recursive: true });
}
