/**
 * UserAgentMatcher: which blocked-user-agent pattern, if any, matches a
 * request's User-Agent. One per ruleset (the RuleEngine builds it), so its
 * verdict cache is dropped with the rules it was computed from.
 *
 * - Only the first `maxLength` characters are searched: with RE2 (see
 *   rule-pattern.ts) a search is linear in that length, and 512 covers
 *   real user agents (browsers send 100 to 300 characters) at half the
 *   worst-case cost of the 1024 used before.
 * - A clean user agent costs one search of one combined RE2 program (it
 *   stops at the first match and skips ahead on literals); only a match asks
 *   an RE2Set of the same patterns, which names every pattern that matches in
 *   one pass, for the first in list order. Asking each pattern in turn cost
 *   about 5 µs a pattern (0.5 ms to reach the 97th of 100), and each pattern
 *   keeping its own DFA cache (up to 8 MB) would not bound memory.
 * - Verdicts are cached per user agent: real traffic has few distinct ones,
 *   so most requests cost one Map lookup. The cache is bounded in two
 *   generations of cacheSize / 2: when the current one is full it becomes
 *   the previous one and the older is dropped whole; a hit in the previous
 *   generation moves forward, so user agents in use stay (an LRU in effect).
 *   Dropping a whole Map costs nothing per request; deleting the oldest entry
 *   of one Map on every miss cost about 1 µs.
 */
import { RE2JS, RE2Set } from 're2js';
import { combineRulePatterns, compileRulePattern, re2Source } from './rule-pattern.js';

export const DEFAULT_MAX_USER_AGENT_LENGTH = 512;
export const DEFAULT_USER_AGENT_CACHE_SIZE = 4096;

export interface UserAgentMatcherOptions {
  /** Longest user-agent prefix searched; default 512 (browsers send 100 to 300 characters). */
  maxLength?: number;
  /** Verdicts kept, at most; default 4096 (of at most maxLength characters each). */
  cacheSize?: number;
}

export class UserAgentMatcher {
  readonly maxLength: number;
  /** The patterns RE2 compiles, in list order: a pattern's RE2Set id is its index here. */
  private readonly sources: string[] = [];
  /** All patterns in one alternation; null when RE2 could not combine them (two name a group alike). */
  private readonly any: RE2JS | null;
  /** Names the patterns that match; null when RE2 could not build it (see `one`). */
  private readonly which: RE2Set | null;
  /** Each pattern on its own, only when there is no `which` (rules that skipped the sanitizer's budget). */
  private readonly one: Array<RE2JS | null>;
  private readonly generationSize: number;
  /** Truncated user agent -> the matching pattern's source, or null for none. */
  private verdicts = new Map<string, string | null>();
  private previous = new Map<string, string | null>();

  constructor(patterns: readonly string[], options: UserAgentMatcherOptions = {}) {
    this.maxLength = positiveInt(options.maxLength) ?? DEFAULT_MAX_USER_AGENT_LENGTH;
    this.generationSize = Math.max(1, Math.floor((positiveInt(options.cacheSize) ?? DEFAULT_USER_AGENT_CACHE_SIZE) / 2));
    const set = new RE2Set(RE2Set.UNANCHORED, RE2JS.CASE_INSENSITIVE);
    for (const source of patterns) {
      try {
        set.add(re2Source(source));
        this.sources.push(source);
      } catch {
        // Only reachable with unsanitized input (RuleEngine's `sanitized: true`): skip it.
      }
    }
    // Compiled here, not on the first request.
    let which: RE2Set | null = null;
    if (this.sources.length > 0) {
      try {
        set.compile();
        which = set;
      } catch {
        // Larger than RE2 allows for one program: each pattern runs on its own.
      }
    }
    this.which = which;
    this.one = which !== null ? [] : this.sources.map((source) => compileOrNull(source));
    this.any = combineRulePatterns(this.sources);
    this.any?.test('');
  }

  get size(): number {
    return this.sources.length;
  }

  /** The first pattern, in list order, found in the user agent's first `maxLength` characters; null when none is. */
  match(userAgent: string): string | null {
    const ua = userAgent.length > this.maxLength ? userAgent.slice(0, this.maxLength) : userAgent;
    const cached = this.verdicts.get(ua);
    if (cached !== undefined) return cached;
    const older = this.previous.get(ua);
    const verdict = older !== undefined ? older : this.search(ua);
    if (this.verdicts.size >= this.generationSize) {
      this.previous = this.verdicts;
      this.verdicts = new Map();
    }
    this.verdicts.set(ua, verdict);
    return verdict;
  }

  private search(ua: string): string | null {
    if (this.any !== null && !this.any.test(ua)) return null;
    if (this.which === null) {
      // `find` asks for the match position, which RE2 answers without a DFA cache per pattern.
      const i = this.one.findIndex((program) => program?.matcher(ua).find() === true);
      return i < 0 ? null : this.sources[i];
    }
    const ids = this.which.match(ua);
    if (ids.length === 0) return null;
    let first = ids[0];
    for (const id of ids) if (id < first) first = id;
    return this.sources[first];
  }
}

function compileOrNull(source: string): RE2JS | null {
  try {
    return compileRulePattern(source);
  } catch {
    return null;
  }
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}
