/** True when `importMetaUrl` is the script node was started with (so a bench runs on its own but not when imported). */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export function isMain(importMetaUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === importMetaUrl;
  } catch {
    return false;
  }
}
