/**
 * Enforcement: the request gate GuardInstrumentation installs when it has
 * dynamic rules. Per request, before the app handler: the client IP (behind
 * the configured trusted proxies), the user agent, the country from the
 * trusted header the user named, and the path go through the RuleEngine.
 *
 * - `mode: 'monitor'` (default): nothing is blocked; each decision that would
 *   block emits its event with `action_taken: 'logged_only'`;
 * - `mode: 'enforce'`: a block is answered here (403, or 429 with
 *   `Retry-After`, a small JSON body) and the app handler never runs; the
 *   event says `action_taken: 'request_blocked'`.
 *
 * The engine is built when rules arrive (`setRules`, called by the handler's
 * RulePoller), never on the request path; requests keep using the previous
 * engine until the new one is ready. With a Redis limiter the rate-limit step
 * answers asynchronously: in enforce mode the gate then returns a promise and
 * the observer holds the app handler until it settles; in monitor mode the
 * request goes on at once and the event follows.
 *
 * Upgrade and CONNECT requests (no response object) go through the same
 * rules (`upgradeGate`); a block is answered on the socket, which is closed.
 */
import { diag } from '@opentelemetry/api';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DynamicRules } from '../models/dynamic-rules.js';
import type { SecurityEventInput } from '../models/security-event.js';
import { RuleEngine, type Decision } from '../rules/rule-engine.js';
import { MemorySlidingWindow, type SlidingWindowLimiter } from '../rules/sliding-window.js';
import { clientIp } from './client-ip.js';
import { pathOf } from './route-key.js';

export type EnforcementMode = 'monitor' | 'enforce';

export const ACTION_BLOCKED = 'request_blocked';
export const ACTION_LOGGED = 'logged_only';

export interface EnforcementOptions {
  mode: EnforcementMode;
  trustedProxyDepth: number;
  /** Lower-cased header name carrying a trusted ISO country code, if any. */
  countryHeader?: string;
  /** Where events go (the handler's `sendEvent`); read per event, so it can be set later. */
  emit: () => ((input: SecurityEventInput) => void | Promise<unknown>) | undefined;
  /** Source name put in event metadata. */
  source: string;
}

export interface EnforcementStats {
  /** Requests that went through the rules. */
  evaluated: number;
  /** Answered by the gate (enforce mode). */
  blocked: number;
  /** Would have been blocked (monitor mode). */
  loggedOnly: number;
  byEventType: Record<string, number>;
  /** Rule engines built (one per ruleset change). */
  builds: number;
}

type Blocked = Extract<Decision, { action: 'block' }>;

export class Enforcement {
  private options: EnforcementOptions;
  private engine: RuleEngine | null = null;
  private limiter: SlidingWindowLimiter = new MemorySlidingWindow();
  private forbiddenBody = jsonBody('Access denied', null);
  readonly stats: EnforcementStats = { evaluated: 0, blocked: 0, loggedOnly: 0, byEventType: {}, builds: 0 };

  constructor(options: EnforcementOptions) {
    this.options = options;
  }

  get mode(): EnforcementMode {
    return this.options.mode;
  }

  /** New settings from GuardInstrumentation.setConfig; the next request uses them. */
  configure(settings: Pick<EnforcementOptions, 'mode' | 'trustedProxyDepth' | 'countryHeader'>): void {
    this.options = { emit: this.options.emit, source: this.options.source, ...settings };
  }

  /** True while rules are in force (the gate has something to check). */
  get active(): boolean {
    return this.engine !== null;
  }

  get rules(): DynamicRules | null {
    return this.engine?.rules ?? null;
  }

  /**
   * Builds the engine for `rules` (sanitized again: rules may come from the
   * app too); null removes it. Never throws: on failure the previous engine stays.
   */
  setRules(rules: DynamicRules | null, options: { sanitized?: boolean } = {}): void {
    if (rules === null) {
      this.engine = null;
      return;
    }
    try {
      this.engine = new RuleEngine(rules, { limiter: this.limiter, sanitized: options.sanitized === true });
      this.forbiddenBody = jsonBody('Access denied', this.engine.rules.message);
      this.stats.builds++;
    } catch (err) {
      diag.error(`guard-agent-otel: could not build the rule engine, keeping the previous one: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  /** Replaces the rate limiter (a RedisSlidingWindow to share limits across instances); the engine is rebuilt around it. */
  setLimiter(limiter: SlidingWindowLimiter | undefined): void {
    this.limiter = limiter ?? new MemorySlidingWindow();
    const rules = this.engine?.rules ?? null;
    if (rules !== null) this.setRules(rules);
  }

  /** The request gate (see RequestGate in guard-instrumentation.ts). */
  readonly gate = (req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> => this.check(req, res);

  /** The same rules for an upgrade or CONNECT request: a block is answered on the socket. */
  readonly upgradeGate = (req: IncomingMessage, socket: Duplex): boolean | Promise<boolean> => this.check(req, socket);

  private check(req: IncomingMessage, res: ServerResponse | Duplex): boolean | Promise<boolean> {
    const engine = this.engine;
    if (engine === null) return false;
    this.stats.evaluated++;
    const o = this.options;
    const ua = req.headers['user-agent'];
    const ruleReq = {
      ip: clientIp(req, o.trustedProxyDepth),
      userAgent: ua,
      country: o.countryHeader === undefined ? undefined : countryFrom(req.headers[o.countryHeader]),
      path: pathOf(req.url),
      method: req.method,
    };
    const decision = engine.evaluate(ruleReq);
    if (typeof (decision as Promise<Decision>).then !== 'function') return this.act(decision as Decision, req, res, ruleReq, engine);
    const pending = (decision as Promise<Decision>).then(
      (d) => this.act(d, req, res, ruleReq, engine),
      (err: unknown) => {
        diag.error('guard-agent-otel: rate limit check failed; the request goes on', err);
        return false;
      },
    );
    if (o.mode === 'enforce') return pending;
    return false;
  }

  private act(decision: Decision, req: IncomingMessage, res: ServerResponse | Duplex, r: { ip: string; userAgent?: string; country?: string; path: string }, engine: RuleEngine): boolean {
    if (decision.action === 'allow') return false;
    const enforce = this.options.mode === 'enforce';
    const by = this.stats.byEventType;
    by[decision.eventType] = (by[decision.eventType] ?? 0) + 1;
    if (enforce) {
      this.stats.blocked++;
      this.answer(decision, res);
    } else {
      this.stats.loggedOnly++;
    }
    this.emitEvent(decision, req, r, engine.rules, enforce);
    return enforce;
  }

  private answer(d: Blocked, res: ServerResponse | Duplex): void {
    if (isResponse(res) ? res.headersSent || res.writableEnded : res.destroyed || res.writableEnded) return;
    try {
      const body = d.status === 429 ? TOO_MANY_BODY : this.forbiddenBody;
      const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'no-store' };
      if (d.status === 429 && d.retryAfterSeconds !== undefined) headers['retry-after'] = d.retryAfterSeconds;
      if (isResponse(res)) {
        res.writeHead(d.status, headers);
        res.end(body);
      } else {
        answerOnSocket(res, d.status, headers, body);
      }
    } catch (err) {
      diag.error('guard-agent-otel: could not answer a blocked request', err);
    }
  }

  private emitEvent(d: Blocked, req: IncomingMessage, r: { ip: string; userAgent?: string; country?: string; path: string }, rules: DynamicRules, enforce: boolean): void {
    const emit = this.options.emit();
    if (emit === undefined) return;
    const input: SecurityEventInput = {
      eventType: d.eventType,
      ipAddress: r.ip || 'unknown',
      userAgent: r.userAgent ?? '',
      actionTaken: enforce ? ACTION_BLOCKED : ACTION_LOGGED,
      reason: d.reason,
      endpoint: r.path,
      method: (req.method ?? 'GET').toUpperCase(),
      statusCode: d.status,
      ...(r.country === undefined ? {} : { country: r.country }),
      metadata: {
        source: this.options.source,
        mode: this.options.mode,
        rule_id: rules.ruleId,
        rule_version: rules.version,
        ...(d.rule === undefined ? {} : { rule: d.rule }),
        ...(d.retryAfterSeconds === undefined ? {} : { retry_after: d.retryAfterSeconds }),
      },
    };
    try {
      const result = emit(input);
      if (result !== undefined && typeof (result as Promise<unknown>).catch === 'function') {
        (result as Promise<unknown>).catch((err: unknown) => diag.error('guard-agent-otel: emitting an enforcement event failed', err));
      }
    } catch (err) {
      diag.error('guard-agent-otel: emitting an enforcement event failed', err);
    }
  }
}

const TOO_MANY_BODY = jsonBody('Too many requests', null);

function isResponse(target: ServerResponse | Duplex): target is ServerResponse {
  return typeof (target as ServerResponse).writeHead === 'function';
}

/** An HTTP/1.1 answer written on the raw socket of an upgrade or CONNECT request, which is then closed. */
function answerOnSocket(socket: Duplex, status: number, headers: Record<string, string | number>, body: Buffer): void {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  socket.end(Buffer.concat([Buffer.from(head + 'connection: close\r\n\r\n', 'latin1'), body]));
  // An HTTP server's sockets allow half-open connections: end() alone would leave it to the client to close.
  socket.once('finish', () => socket.destroy());
}

function jsonBody(detail: string, message: string | null): Buffer {
  return Buffer.from(JSON.stringify(message ? { detail, message } : { detail }));
}

/** A two-letter code from the trusted header, upper-cased; undefined otherwise (an unknown country is never blocked). */
export function countryFrom(value: string | string[] | undefined): string | undefined {
  // The usual case, two upper-case letters (`US`), without a trim, a new string or a regex.
  if (typeof value === 'string' && value.length === 2) {
    const a = value.charCodeAt(0);
    const b = value.charCodeAt(1);
    if (a >= 65 && a <= 90 && b >= 65 && b <= 90) return value;
  }
  const v = (Array.isArray(value) ? value[0] : value)?.trim().toUpperCase();
  return v !== undefined && v.length === 2 && /^[A-Z]{2}$/.test(v) ? v : undefined;
}
