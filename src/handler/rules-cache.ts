/**
 * The last good dynamic rules, fetched with `If-None-Match` and served from
 * cache within their `ttl` (reference 6.6, with 11.21 fixed): a failed or
 * malformed fetch keeps the rules in force instead of returning nothing,
 * `expiresAt` is honoured, and an older version of the same ruleset never
 * replaces a newer one.
 */
import { diag } from '@opentelemetry/api';
import { parseDynamicRules, type DynamicRules } from '../models/index.js';
import type { RulesFetchResult } from '../transport/types.js';

export interface RulesSource {
  fetchRules(etag?: string): Promise<RulesFetchResult>;
}

export class RulesCache {
  private rules: DynamicRules | null = null;
  private etag: string | undefined;
  private fetchedAt = 0;
  private inflight: Promise<DynamicRules | null> | null = null;
  fetches = 0;
  failures = 0;
  lastUpdate: number | null = null;

  constructor(
    private readonly source: RulesSource,
    private readonly onChange: (rules: DynamicRules, previous: DynamicRules | null) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** The rules in force, or null when none were ever received or they expired. */
  current(): DynamicRules | null {
    if (this.rules?.expiresAt && Date.parse(this.rules.expiresAt) <= this.now()) return null;
    return this.rules;
  }

  /** Cached rules while fresh; otherwise one shared fetch. Never throws. */
  get(): Promise<DynamicRules | null> {
    const r = this.current();
    if (r && this.now() - this.fetchedAt < r.ttl * 1000) return Promise.resolve(r);
    return this.refresh();
  }

  refresh(): Promise<DynamicRules | null> {
    this.inflight ??= this.fetchOnce().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async fetchOnce(): Promise<DynamicRules | null> {
    this.fetches++;
    let res: RulesFetchResult;
    try {
      res = await this.source.fetchRules(this.rules ? this.etag : undefined);
    } catch (err) {
      res = { status: 'error', error: (err as Error).message };
    }
    if (res.status === 'ok') {
      try {
        const next = parseDynamicRules(res.body, new Date(this.now()));
        this.fetchedAt = this.now();
        const prev = this.rules;
        if (prev && prev.ruleId === next.ruleId && next.version < prev.version) {
          diag.warn(`guard-agent: ignored rules ${next.ruleId} v${next.version}: older than v${prev.version} in force`);
        } else {
          this.rules = next;
          this.etag = res.etag;
          this.lastUpdate = this.now();
          if (!prev || prev.ruleId !== next.ruleId || prev.version !== next.version) this.onChange(next, prev);
        }
      } catch (err) {
        this.failures++;
        diag.warn(`guard-agent: ignored an invalid rules payload (keeping the rules in force): ${(err as Error).message}`);
      }
    } else if (res.status === 'not_modified') {
      this.fetchedAt = this.now();
    } else if (res.status === 'none') {
      this.fetchedAt = this.now();
    } else {
      this.failures++;
    }
    return this.current();
  }
}
