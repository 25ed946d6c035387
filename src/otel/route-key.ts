/**
 * The `endpoint` attribute of request metrics. Every distinct value is a new
 * metric series, in the SDK and at the backend, so a raw URL path (`/users/42`,
 * `/orders/5f0c...`) must not become one: the framework's route template is
 * used when the framework left it on the request, and otherwise the path is
 * collapsed, each segment that looks like an identifier becoming `:id`.
 */

/** What a framework may leave on the Node request once it routed it. */
export interface RoutedRequest {
  url?: string;
  /** Express rewrites `url` inside mounted routers and keeps the original here. */
  originalUrl?: unknown;
  /** Express (4 and 5) sets the matched `Route`, whose `path` is the template. */
  route?: { path?: unknown } | undefined;
  /** Express sets the mount path of the router that matched. */
  baseUrl?: unknown;
}

/** Longest route key kept; a longer one is cut (the tail is rarely what tells routes apart). */
export const MAX_ROUTE_KEY_LENGTH = 128;
/** Segments kept; deeper paths end in `/...`. */
export const MAX_ROUTE_SEGMENTS = 8;

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const NUMBER = /^[+-]?\d+(?:[.,]\d+)?$/;
const HEX_ID = /^(?:0x)?[0-9a-f]{12,}$/i; // Mongo ObjectIds (24), hashes, hex tokens
const DIGITS = /\d/g;

/** True when a path segment is an identifier rather than a fixed word. */
export function isIdSegment(segment: string): boolean {
  if (segment.length === 0) return false;
  if (NUMBER.test(segment) || UUID.test(segment) || HEX_ID.test(segment)) return true;
  // Long tokens (base64url ids, slugs with ids): many digits or very long.
  if (segment.length >= 32) return true;
  const digits = segment.match(DIGITS)?.length ?? 0;
  return segment.length >= 8 && digits >= 3 && digits * 4 >= segment.length;
}

/** The URL path without query string or fragment (`/a/b?x=1` -> `/a/b`). */
export function pathOf(url: string | undefined): string {
  if (!url) return '/';
  let end = url.length;
  const q = url.indexOf('?');
  if (q !== -1) end = q;
  const h = url.indexOf('#');
  if (h !== -1 && h < end) end = h;
  let path = url.slice(0, end);
  // Absolute-form request targets (`GET http://host/path`) carry the origin.
  if (!path.startsWith('/')) {
    const scheme = path.indexOf('://');
    const slash = scheme === -1 ? -1 : path.indexOf('/', scheme + 3);
    path = slash === -1 ? '/' : path.slice(slash);
  }
  return path;
}

/** `/users/42/orders/9f1c...` -> `/users/:id/orders/:id`, bounded in depth and length. */
export function normalizePath(path: string): string {
  const raw = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < raw.length; i++) {
    if (out.length === MAX_ROUTE_SEGMENTS) {
      out.push('...');
      break;
    }
    const seg = raw[i];
    out.push(isIdSegment(seg) ? ':id' : seg);
  }
  return truncate('/' + out.join('/'));
}

/** The route key of a finished request: the framework's template when known, else the normalised path. */
export function routeKey(req: RoutedRequest): string {
  const template = req.route?.path;
  if (typeof template === 'string' && template.length > 0) {
    const base = typeof req.baseUrl === 'string' ? req.baseUrl : '';
    return truncate(joinRoute(base, template));
  }
  return normalizePath(requestPath(req));
}

/** The request's path as the client sent it (before any framework rewrote `url`), without query. */
export function requestPath(req: RoutedRequest): string {
  return pathOf(typeof req.originalUrl === 'string' ? req.originalUrl : req.url);
}

function joinRoute(base: string, template: string): string {
  if (base === '' || base === '/') return template;
  if (template === '/') return base;
  return base.endsWith('/') ? base + template.replace(/^\//, '') : base + template;
}

function truncate(key: string): string {
  return key.length <= MAX_ROUTE_KEY_LENGTH ? key : key.slice(0, MAX_ROUTE_KEY_LENGTH);
}
