import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The example payloads of reference 3.8, extracted verbatim into a fixture. */
export const GOLDEN = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/golden-payloads.json', import.meta.url)), 'utf8'),
) as Record<string, any>;
