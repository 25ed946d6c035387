import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { defaultDynamicRules, type DynamicRules } from '../../src/models/dynamic-rules.js';
import { RuleEngine } from '../../src/rules/rule-engine.js';
import { checkRulePattern } from '../../src/rules/rule-pattern.js';
import { UserAgentMatcher } from '../../src/rules/user-agent-matcher.js';

const CHILD = fileURLToPath(new URL('../fixtures/user-agent-check.ts', import.meta.url));
/** Generous: each check below takes milliseconds; V8's backtracking took seconds to hours on them. */
const BOUND_MS = 2000;

interface ChildResult {
  kept: string[];
  problems: number;
  rules: Array<string | null>;
}

/**
 * Builds a RuleEngine with `patterns` and checks `userAgents` in a child
 * process; rejects when that takes longer than `BOUND_MS` after the child is
 * ready (a stuck event loop cannot time itself out, so the parent does).
 */
function checkInChild(patterns: string[], userAgents: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(JSON.stringify({ patterns, userAgents }));
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (timer === undefined && out.startsWith('ready\n')) {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the user-agent check did not finish within ${BOUND_MS} ms`));
        }, BOUND_MS);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.split('\n')[1];
      if (code === 0 && line) resolve(JSON.parse(line) as ChildResult);
      else reject(new Error(`child exited with ${String(code)}: ${err}`));
    });
  });
}

const rules = (over: Partial<DynamicRules>): DynamicRules => ({ ...defaultDynamicRules(), ...over });
const ruleFor = (engine: RuleEngine, userAgent: string): string | null => {
  const d = engine.checkAccess({ ip: '198.51.100.7', userAgent, path: '/' });
  return d?.action === 'block' ? (d.rule ?? null) : null;
};

describe('rules/user-agent patterns (RE2)', function () {
  this.timeout(30_000);

  // The review's patterns: each passed the old sanitizer and held V8's event loop for seconds (the last ones for hours).
  const pathological: Array<[string, string, boolean]> = [
    ['(\\w|\\d)+$', '1'.repeat(30) + '!', false],
    ['(a|A)+$', 'a'.repeat(28) + '!', false],
    ['.*.*.*.*.*=', 'x'.repeat(1024), false],
    ['\\d*\\d*\\d*\\d*x', '1'.repeat(1024), false],
    ['(?:[a-z]|[0-9a-f])+z$', '0'.repeat(28) + '!', false],
    ['(a?){24}a{24}', 'a'.repeat(24), true],
    ['(.|\\s)*$', 'x'.repeat(1024), true],
    ['(a+)+$', 'a'.repeat(500) + '!', false],
    ['^(\\w+\\s?)*$', 'word '.repeat(90) + '!', false],
  ];

  for (const [pattern, userAgent, matches] of pathological) {
    it(`accepts ${pattern} and checks a ${userAgent.length}-character user agent against it at once`, async () => {
      const r = await checkInChild([pattern], [userAgent]);
      assert.deepEqual(r.kept, [pattern], 'the sanitizer keeps it: RE2 runs it in linear time');
      assert.deepEqual(r.rules, [matches ? pattern : null]);
    });
  }

  it('checks 1,000 patterns (as many as the program-size budget keeps) against long user agents at once', async () => {
    const bots = Array.from({ length: 1000 }, (_, i) => `.*bot${i}=`);
    const browser = 'Mozilla/5.0 (X11; Linux x86_64) '.repeat(32).slice(0, 1024);
    const r = await checkInChild(bots, [browser, browser.slice(0, 400) + 'bot300=', ...pathological.map(([, ua]) => ua)]);
    assert.ok(r.kept.length > 300, `kept ${r.kept.length}`);
    assert.equal(r.problems, 1000 - r.kept.length, 'the rest is dropped and reported');
    assert.deepEqual(r.rules.slice(0, 2), [null, '.*bot300=']);
    const alternatives = Array.from({ length: 254 }, (_, i) => String.fromCharCode(0x100 + i)).join('|');
    const wide = Array.from({ length: 1000 }, (_, i) => `(${alternatives}|${String.fromCharCode(0x2000 + i)})+`);
    const w = await checkInChild(wide, ['Mozilla/5.0 '.repeat(85), '\u2000'.repeat(1024)]);
    assert.ok(w.kept.length > 500, `kept ${w.kept.length}`);
    assert.deepEqual(w.rules, [null, wide[0]]);
  });

  it('refuses what RE2 cannot run in linear time, naming the pattern by its index, and keeps the rest', () => {
    const engine = new RuleEngine(rules({ blockedUserAgents: ['curl', '(?=x)bot', '(ab)\\1', '(?<!a)b', '(?<n>x)\\k<n>', 'wget'] }));
    assert.deepEqual(engine.rules.blockedUserAgents, ['curl', 'wget']);
    assert.deepEqual(
      engine.problems.map((p) => p.field),
      ['blockedUserAgents[1]', 'blockedUserAgents[2]', 'blockedUserAgents[3]', 'blockedUserAgents[4]'],
    );
    assert.match(engine.problems[0].reason, /lookahead and lookbehind are not supported/);
    assert.match(engine.problems[1].reason, /backreferences are not supported/);
    assert.match(engine.problems[2].reason, /lookahead and lookbehind are not supported/);
    assert.match(engine.problems[3].reason, /backreferences are not supported/);
    assert.equal(engine.problems[0].value, '(?=x)bot');
    assert.equal(ruleFor(engine, 'Wget/1.21'), 'wget');
  });

  it('keeps the semantics of ordinary patterns: case-insensitive search, JavaScript syntax, the first pattern in list order named', () => {
    const engine = new RuleEngine(rules({ blockedUserAgents: ['zz', 'ab', 'python-requests/\\d+', '^Go-http', 'caf\\u00e9\\/\\d', '(?<v>\\d+)x', '(?<v>\\d+)y'] }));
    assert.equal(engine.problems.length, 0);
    assert.equal(ruleFor(engine, 'abzz'), 'zz', 'list order, not position in the user agent');
    assert.equal(ruleFor(engine, 'xxABxx'), 'ab');
    assert.equal(ruleFor(engine, 'my Python-Requests/2.31'), 'python-requests/\\d+');
    assert.equal(ruleFor(engine, 'go-http-client/1.1'), '^Go-http');
    assert.equal(ruleFor(engine, 'x Go-http'), null, '^ anchors at the start of the user agent');
    assert.equal(ruleFor(engine, 'CAFÉ/1'), 'caf\\u00e9\\/\\d');
    // Two patterns naming a group alike cannot share one program: each runs on its own.
    assert.equal(ruleFor(engine, 'v 42y'), '(?<v>\\d+)y');
    assert.equal(ruleFor(engine, 'Mozilla/5.0'), null);
  });

  it('caches verdicts per user agent, bounded, and computes an evicted one again', () => {
    const matcher = new UserAgentMatcher(['evil', 'bad\\d'], { cacheSize: 2 });
    for (let round = 0; round < 3; round++) {
      assert.equal(matcher.match('an EVIL bot'), 'evil');
      assert.equal(matcher.match('bad7'), 'bad\\d');
      assert.equal(matcher.match('Mozilla/5.0'), null);
    }
    const bounded = new UserAgentMatcher(['evil'], { maxLength: 8 });
    assert.equal(bounded.match('x'.repeat(8) + 'evil'), null, 'only the first maxLength characters are searched');
    assert.equal(bounded.match('xx evil' + 'x'.repeat(100)), 'evil');
  });

  it('a new ruleset starts with its own verdicts', () => {
    const ua = 'Scanner/1.0 (+sqlmap)';
    const before = new RuleEngine(rules({ blockedUserAgents: ['sqlmap'] }));
    assert.equal(ruleFor(before, ua), 'sqlmap');
    assert.equal(ruleFor(before, ua), 'sqlmap');
    const after = new RuleEngine(rules({ blockedUserAgents: ['nikto'] }));
    assert.equal(ruleFor(after, ua), null);
  });

  it('reports RE2 program sizes for the budget and closes a quote left open', () => {
    const literal = checkRulePattern('curl');
    assert.ok('program' in literal && literal.program.programSize() < 10);
    const wide = checkRulePattern('.{1000}');
    assert.ok('program' in wide && wide.program.programSize() > 1000);
    const quoted = new RuleEngine(rules({ blockedUserAgents: ['\\Qa.b', 'zz'] }));
    assert.equal(ruleFor(quoted, 'xa.bx'), '\\Qa.b');
    assert.equal(ruleFor(quoted, 'axb'), null, 'quoted: the dot is literal');
    assert.equal(ruleFor(quoted, 'zz'), 'zz', 'the open quote did not swallow the next pattern');
  });
});
