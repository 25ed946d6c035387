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
  /**
   * Express sets the path the matched router was mounted at, as matched
   * (`/users/42` for `app.use('/users/:userId', router)`), not as a pattern.
   */
  baseUrl?: unknown;
}

/** Longest route key kept; a longer one is cut (the tail is rarely what tells routes apart). */
export const MAX_ROUTE_KEY_LENGTH = 128;
/** Segments kept; deeper paths end in `/...`. */
export const MAX_ROUTE_SEGMENTS = 8;

/**
 * True when a path segment is an identifier rather than a fixed word: a number,
 * a UUID (36 characters, caught by the length rule), a hex id of 12+ characters (Mongo ObjectIds, hashes), a token of 32+
 * characters, or a segment of 8+ characters made of at least a quarter digits
 * (`ord_8472919`). Words with a digit or two (`v1`, `oauth2`) stay. One pass
 * over the characters, no regular expression: this runs for every request.
 */
export function isIdSegment(segment: string): boolean {
  const n = segment.length;
  if (n === 0) return false;
  if (n >= 32) return true;
  let digits = 0;
  let dashes = 0;
  let other = 0;
  for (let i = 0; i < n; i++) {
    const c = segment.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if ((c >= 97 && c <= 102) || (c >= 65 && c <= 70)) continue; // hex letter: neither digit nor "other"
    else if (c === 45) dashes++;
    else other++;
  }
  if (digits === n) return true; // 42
  if (other === 0 && dashes === 0 && n >= 12 && digits > 0) return true; // 5f0c6e1b2a3d
  if (isSignedOrDecimal(segment, digits)) return true; // -3, 1.5
  return n >= 8 && digits >= 3 && digits * 4 >= n;
}

function isSignedOrDecimal(segment: string, digits: number): boolean {
  const n = segment.length;
  if (digits === 0 || digits < n - 2) return false;
  let i = 0;
  if (segment[0] === '+' || segment[0] === '-') i = 1;
  let sep = false;
  for (; i < n; i++) {
    const ch = segment[i];
    if (ch >= '0' && ch <= '9') continue;
    if ((ch === '.' || ch === ',') && !sep && i > 0 && i < n - 1) {
      sep = true;
      continue;
    }
    return false;
  }
  return true;
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
  let out = '';
  let segments = 0;
  let from = 1;
  while (from <= path.length) {
    let to = path.indexOf('/', from);
    if (to === -1) to = path.length;
    if (segments === MAX_ROUTE_SEGMENTS) {
      out += '/...';
      break;
    }
    const seg = path.slice(from, to);
    out += '/' + (isIdSegment(seg) ? ':id' : seg);
    segments++;
    from = to + 1;
  }
  return truncate(out === '' ? '/' : out);
}

/** The route key of a finished request: the framework's template when known, else the normalised path. */
export function routeKey(req: RoutedRequest): string {
  if (hasRouteTemplate(req)) {
    // The mount path carries the client's values for the mount's own parameters: collapsed like a raw path.
    const base = typeof req.baseUrl === 'string' && req.baseUrl.length > 1 ? normalizePath(req.baseUrl) : '';
    return truncate(joinRoute(base, req.route.path));
  }
  return normalizePath(requestPath(req));
}

/** True when a framework left the matched route's template on the request (routeKey uses it); false: the key is the normalised path. */
export function hasRouteTemplate(req: RoutedRequest): req is RoutedRequest & { route: { path: string } } {
  const template = req.route?.path;
  return typeof template === 'string' && template.length > 0;
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
