/**
 * How a resolved config prints. The config object travels far (the handler,
 * the transport, `getConfig()`), and an app that logs it, or logs an object
 * holding it, with `console.log`, `util.inspect` or `JSON.stringify`
 * (pino, winston) would otherwise print the API key, the signing secret,
 * the project encryption key and the Redis passwords. Only the printed form
 * changes: the properties keep their real values for the agent to use.
 */
import { inspect } from 'node:util';

export const REDACTED = '[REDACTED]';

/** A copy of `config` to print: secret fields redacted, Redis URLs without their passwords. */
export function printableConfig(config: object, secretFields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const field of secretFields) if (out[field] !== null && out[field] !== undefined) out[field] = REDACTED;
  if (typeof out.redisUrl === 'string') out.redisUrl = redisUrlWithoutPassword(out.redisUrl);
  if (Array.isArray(out.redisClusterNodes)) out.redisClusterNodes = out.redisClusterNodes.map((u) => (typeof u === 'string' ? redisUrlWithoutPassword(u) : u));
  return out;
}

/**
 * Makes `util.inspect` and `JSON.stringify` of `config` print `printableConfig`.
 * Non-enumerable, so spreading or comparing the config is unchanged.
 */
export function hideSecretsWhenPrinted(config: object, secretFields: readonly string[]): void {
  Object.defineProperties(config, {
    [inspect.custom]: {
      value: (_depth: number, options: object) => inspect(printableConfig(config, secretFields), options),
    },
    toJSON: { value: () => printableConfig(config, secretFields) },
  });
}

/**
 * Keeps `fields` of `target` out of `util.inspect` (showHidden included) and
 * `JSON.stringify` by making them non-enumerable accessors; reading and
 * assigning them is unchanged. For
 * fields holding a Redis client (ioredis keeps the password in its options)
 * or key material, so printing an object of the agent at any depth (the
 * `guardAgent()` setup, an exporter) shows none of it.
 */
export function keepOutOfPrint(target: object, ...fields: string[]): void {
  for (const field of fields) {
    // An accessor, not just a non-enumerable value: util.inspect with showHidden prints hidden
    // values (and the ioredis options in them, password included) but shows an accessor as
    // [Getter/Setter] without calling it. A field not defined yet (set later) starts undefined.
    let value: unknown = Object.getOwnPropertyDescriptor(target, field)?.value;
    Object.defineProperty(target, field, {
      get: () => value,
      set: (v: unknown) => {
        value = v;
      },
      enumerable: false,
      configurable: true,
    });
  }
}

/** The URL with its password (and a `password` query parameter, which ioredis also reads) redacted; a URL that does not parse is redacted whole. */
export function redisUrlWithoutPassword(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return REDACTED;
  }
  if (parsed.password !== '') parsed.password = REDACTED;
  if (parsed.searchParams.has('password')) parsed.searchParams.set('password', REDACTED);
  // The URL API percent-encodes the brackets; the marker reads better as written.
  return parsed.href.replaceAll(encodeURIComponent(REDACTED), REDACTED);
}
