/**
 * A budget of route keys for requests no route matched. Without a framework
 * template the route key is the normalised raw path (route-key.ts), and ids
 * are collapsed there, but words are not: a scanner trying 2,100 distinct
 * word-only paths (`/wp-admin.php`, `/backup/old.zip`, ...), each answered
 * 404, made 2,100 series in one interval. The request series are capped at
 * 1,998 per interval (MAX_REQUEST_SERIES), so the app's real routes seen after
 * the scan lost their own series for that interval and were counted only in
 * the shared `otel.metric.overflow` one.
 *
 * So responses without a route template whose status says the request does
 * not address anything the app serves (UNMATCHED_STATUSES) keep their path as
 * key for the first `max` distinct paths of an interval; past that they share
 * UNMATCHED_ROUTE_KEY (method and status stay their own). Counts are never
 * dropped, only grouped. The budget is emptied at every collection, when the
 * series are flushed, so a scan does not hide the paths of later intervals.
 */

/** The shared route key past the budget. Not a path (no leading `/`), so no real route can have it. */
export const UNMATCHED_ROUTE_KEY = '(unmatched)';

/** Distinct unmatched paths with their own key per interval, unless `maxUnmatchedRouteKeys` says otherwise. */
export const DEFAULT_MAX_UNMATCHED_ROUTE_KEYS = 200;

/**
 * True for the statuses of a request that addressed nothing the app serves:
 * 404 (no route), 405 (no route for this method), and 400 (refused before
 * routing: a body parser or a malformed escape in the path, which scanners
 * send to random paths as readily as they send GETs). 401, 403 and 429 are
 * not among them: per-path authentication failures and rate limits are what a
 * security dashboard looks at, and an app without route templates (plain
 * node:http, Fastify, Koa) answers them on its real paths.
 */
export function isUnmatchedStatus(status: number): boolean {
  return status === 404 || status === 405 || status === 400;
}

export class UnmatchedRouteBudget {
  private readonly seen = new Set<string>();

  /** Set again by the instrumentation's setConfig: live reconfiguration applies from the next request. */
  constructor(public max: number) {}

  /** `route` while it has, or can still get, a key of its own this interval; else UNMATCHED_ROUTE_KEY. */
  keyFor(route: string): string {
    const seen = this.seen;
    if (seen.has(route)) return route;
    if (seen.size >= this.max) return UNMATCHED_ROUTE_KEY;
    seen.add(route);
    return route;
  }

  /** A new interval: every unmatched path may have its own key again. */
  reset(): void {
    this.seen.clear();
  }
}
