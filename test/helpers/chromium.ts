/**
 * Headless Chromium for the browser tests: Debian's `chromium` package
 * (`apt-get install -y chromium`), driven by playwright-core (which brings no
 * browser of its own). A missing browser is an error, never a skip: the test
 * that needs it must fail and say how to install it.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** `CHROMIUM_PATH` overrides the Debian location. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `headless Chromium not found at ${CHROMIUM_PATH}: the browser tests need it. ` +
        'Install Debian\'s package with `apt-get update && apt-get install -y chromium`, or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
  try {
    return await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 20_000 });
  } catch (err) {
    throw new Error(`cannot start headless Chromium at ${CHROMIUM_PATH}: ${(err as Error).message}`, { cause: err });
  }
}
