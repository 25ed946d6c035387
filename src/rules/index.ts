/** Rule enforcement: address parsing and matching, rule sanitizing, the decision engine, rate limiters. */
export { isValidIp, parseIp, parseCidr, cidrProblem, ipProblem, formatIp, type Cidr, type IpAddress, type IpFamily } from './ip-address.js';
export { IpMatcher, type InvalidEntry } from './ip-matcher.js';
export { sanitizeRules, patternProblem, type RuleProblem, type SanitizeOptions, type SanitizeResult } from './rules-sanitizer.js';
export { checkRulePattern, compileRulePattern } from './rule-pattern.js';
export { UserAgentMatcher, type UserAgentMatcherOptions } from './user-agent-matcher.js';
export { RuleEngine, ALLOW, type Decision, type BlockEventType, type RuleRequest, type RuleEngineOptions } from './rule-engine.js';
export { MemorySlidingWindow, type HitResult, type SlidingWindowLimiter, type MemorySlidingWindowOptions } from './sliding-window.js';
export { RedisSlidingWindow, type RedisSlidingWindowOptions, type RedisSlidingWindowStats } from './redis-sliding-window.js';
export { RulePoller, type RulePollerOptions, type RulePollerStats, type RulesListener, type RulesSource } from './rule-poller.js';
export { RulesShare, type RulesShareOptions, type SharedRulesEntry } from './rules-share.js';
export { rulesShareKey } from './shared-entry-mac.js';
export { endpointPathKey } from './endpoint-path.js';
