/**
 * What `@guardcore/core` does with `agentHandler.getDynamicRules()`, mirrored
 * here because the package is not published on npm: its zod schema for the
 * camelCase rules, and the rule of its DynamicRuleManager for when a ruleset
 * is applied (a different `ruleId`, or a higher `version`).
 *
 * Used by examples/guardcore.ts and by the test that checks the handler
 * against it (test/integration/guardcore.test.ts).
 */
import { z } from 'zod';

const countryCodes = z.array(z.string().length(2)).default([]);
const nullableInt = z.number().int().nullable().default(null);
const nullableBool = z.boolean().nullable().default(null);

/** The camelCase rules schema of @guardcore/core (its field names, types and defaults). */
export const DynamicRulesSchema = z.object({
  ruleId: z.string(),
  version: z.number().int(),
  timestamp: z.string().datetime(),
  expiresAt: z.string().datetime().nullable().default(null),
  ttl: z.number().int().default(300),
  ipBlacklist: z.array(z.string()).default([]),
  ipWhitelist: z.array(z.string()).default([]),
  ipBanDuration: z.number().int().default(3600),
  blockedCountries: countryCodes,
  whitelistCountries: countryCodes,
  globalRateLimit: nullableInt,
  globalRateWindow: nullableInt,
  endpointRateLimits: z.record(z.string(), z.tuple([z.number(), z.number()])).default({}),
  // `.prefault` is zod 4's spelling of a default that still goes through the
  // transform (zod 3's `.default([])` behaved that way), so it is a Set either way.
  blockedCloudProviders: z
    .array(z.enum(['AWS', 'GCP', 'Azure']))
    .transform((a) => new Set(a))
    .prefault([]),
  blockedUserAgents: z.array(z.string()).default([]),
  suspiciousPatterns: z.array(z.string()).default([]),
  enablePenetrationDetection: nullableBool,
  enableIpBanning: nullableBool,
  enableRateLimiting: nullableBool,
  emergencyMode: z.boolean().default(false),
  emergencyWhitelist: z.array(z.string()).default([]),
});

export type GuardCoreRules = z.infer<typeof DynamicRulesSchema>;

/** The agent handler as @guardcore/core's DynamicRuleManager sees it. */
export interface RulesAgent {
  getDynamicRules(): Promise<unknown>;
  sendEvent(event: Record<string, unknown>): Promise<void>;
}

export type RulesOutcome =
  | { kind: 'applied'; rules: GuardCoreRules }
  | { kind: 'unchanged'; rules: GuardCoreRules }
  | { kind: 'none' }
  | { kind: 'invalid'; issues: string[] };

/**
 * One round of the DynamicRuleManager: fetch, validate, apply when new, and
 * report the change with a `dynamic_rule_applied` event (`ipAddress: 'system'`,
 * no timestamp: the agent stamps it).
 */
export class RulesManager {
  current: GuardCoreRules | null = null;

  constructor(private readonly agent: RulesAgent) {}

  async update(): Promise<RulesOutcome> {
    const raw = await this.agent.getDynamicRules();
    if (raw === null || raw === undefined) return { kind: 'none' };
    const parsed = DynamicRulesSchema.safeParse(raw);
    if (!parsed.success) return { kind: 'invalid', issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) };
    const next = parsed.data;
    const prev = this.current;
    if (prev && prev.ruleId === next.ruleId && next.version <= prev.version) return { kind: 'unchanged', rules: prev };
    this.current = next;
    await this.agent.sendEvent({
      eventType: 'dynamic_rule_applied',
      ipAddress: 'system',
      actionTaken: 'rules_applied',
      reason: `Applied dynamic rules ${next.ruleId} v${next.version}`,
      ruleType: 'dynamic',
      metadata: {
        rule_id: next.ruleId,
        version: next.version,
        ip_blacklist: next.ipBlacklist.length,
        blocked_countries: next.blockedCountries,
        emergency_mode: next.emergencyMode,
      },
    });
    return { kind: 'applied', rules: next };
  }
}
