/**
 * The dev backend's live page: `GET /` and its assets, `GET /api/dev/summary`
 * (a JSON snapshot the page starts from) and `GET /events/stream` (server-sent
 * events, one message per accepted batch, heartbeat, rules change or reset,
 * plus the counters at most once a second while requests come in).
 *
 * Every message and the summary carry `seq`, a counter of messages sent: the
 * page opens the stream first, then loads the summary, and ignores messages
 * the summary already includes. No API key is asked for (the page is a local
 * dev tool), and nothing secret is sent: see live-state.ts for the fields.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DevBackendEvents } from '../context.js';
import type { ServedRules } from '../rules-source.js';
import type { DevBackendStats } from '../types.js';
import { BUCKET_MS, LiveState, RECENT_LIMIT, WINDOW_MS } from './live-state.js';
import { SseHub, type SseHubOptions } from './sse-hub.js';
import { StaticAssets } from './static-assets.js';

export const STREAM_PATH = '/events/stream';
export const SUMMARY_PATH = '/api/dev/summary';
const STATS_THROTTLE_MS = 1_000;

function pathOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://dev-backend.invalid').pathname;
  } catch {
    return undefined;
  }
}

/** What the page reads from the backend that owns it. */
export interface PageSource {
  stats(): DevBackendStats;
  rules(): ServedRules | null;
}

export interface RulesView {
  version: unknown;
  rule_id: unknown;
  etag: string;
  rules: object;
}

export class DevPage {
  private readonly state = new LiveState();
  private readonly hub: SseHub;
  private readonly assets = new StaticAssets();
  private seq = 0;
  private statsTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: PageSource,
    hubOptions: SseHubOptions = {},
  ) {
    this.hub = new SseHub(hubOptions);
  }

  /** Listens to the backend's `batch`, `status`, `rules` and `request` events. */
  follow(backend: EventEmitter<DevBackendEvents>): void {
    backend.on('batch', (batch) => this.send('batch', { ...this.state.addBatch(batch), stats: this.source.stats() }));
    backend.on('status', ({ record, status }) => this.send('status', { heartbeat: this.state.addStatus(record, status), stats: this.source.stats() }));
    backend.on('rules', () => this.send('rules', { rules: this.rulesView() }));
    backend.on('request', () => this.scheduleStats());
  }

  /** Serves the page's routes; false when the request is for another route. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = pathOf(req.url);
    if (path === undefined) return false;
    if (this.assets.has(path)) {
      req.resume();
      this.assets.serve(req, res, path);
      return true;
    }
    if (path === SUMMARY_PATH) {
      req.resume();
      const body = JSON.stringify(this.summary());
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    }
    if (path === STREAM_PATH && req.method === 'GET') {
      req.resume();
      this.hub.attach(req, res);
      return true;
    }
    if (path === '/favicon.ico') {
      // Browsers ask for it whatever the page says; answer here so it is not counted as a 404.
      req.resume();
      res.writeHead(204);
      res.end();
      return true;
    }
    return false;
  }

  /** The snapshot the page starts from. */
  summary(now = Date.now()): object {
    return {
      seq: this.seq,
      now,
      bucket_ms: BUCKET_MS,
      window_ms: WINDOW_MS,
      recent_limit: RECENT_LIMIT,
      stats: this.source.stats(),
      events: this.state.events,
      event_series: this.state.eventSeries(now),
      metric_series: this.state.metricSeries(now),
      heartbeats: this.state.heartbeats,
      rules: this.rulesView(),
    };
  }

  /** Open live streams. */
  get clients(): number {
    return this.hub.size;
  }

  /** Forgets what was shown (the backend was reset) and tells open pages. */
  reset(): void {
    this.state.reset();
    this.send('reset', { stats: this.source.stats() });
  }

  /** Ends the live streams (the backend is stopping). */
  close(): void {
    if (this.statsTimer !== undefined) clearTimeout(this.statsTimer);
    this.statsTimer = undefined;
    this.hub.close();
  }

  private send(event: string, data: object): void {
    this.seq += 1;
    this.hub.broadcast(event, { seq: this.seq, ...data });
  }

  private rulesView(): RulesView | null {
    const served = this.source.rules();
    if (served === null) return null;
    const rules = served.rules as Record<string, unknown>;
    return { version: rules.version ?? null, rule_id: rules.rule_id ?? null, etag: served.etag, rules: served.rules };
  }

  /** Rejected requests change only the counters: send them, at most once a second, while someone watches. */
  private scheduleStats(): void {
    if (this.statsTimer !== undefined || this.hub.size === 0) return;
    this.statsTimer = setTimeout(() => {
      this.statsTimer = undefined;
      this.send('stats', { stats: this.source.stats() });
    }, STATS_THROTTLE_MS);
    this.statsTimer.unref();
  }
}
