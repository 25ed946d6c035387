/**
 * Where the example app is: `examples/express.ts` of this repository. The
 * demo runs from a checkout (`npm run demo`); the published package does not
 * ship the examples. Searched upward from the working directory.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const EXAMPLE_APP = join('examples', 'express.ts');

/** The repository root holding the example, or undefined. */
export function findExampleRoot(from: string = process.cwd()): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, EXAMPLE_APP)) && existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}
