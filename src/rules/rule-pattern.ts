/**
 * Regular expressions from the backend's rules (blockedUserAgents,
 * suspiciousPatterns), compiled with RE2 (re2js, a pure-JavaScript port):
 * a search takes time linear in the input whatever the pattern, so no rule
 * can stall the host. V8's backtracking RegExp could: `(\w|\d)+$` against 30
 * digits and a `!` ran for about 19 s, and no static check of a pattern's shape
 * catches every such case.
 *
 * Syntax: JavaScript's, as before (RE2JS.translateRegExp maps `\uXXXX`, `\cX`,
 * `[^]` and identity escapes such as `\y` to RE2's), matched as a
 * case-insensitive search, not a full match. What RE2 cannot run in linear
 * time does not compile and is refused: lookahead and lookbehind, and
 * backreferences (`\1`, `\k<name>`).
 *
 * Cost: a search costs up to about (input length x program size) steps when
 * RE2's DFA gives up on a pattern; `programSize()` is RE2's own measure of
 * that second factor, and the sanitizer's budget bounds it.
 */
import { RE2JS } from 're2js';

/** RE2 source for a rule pattern: JavaScript syntax translated, a `\Q` quote left open closed. */
export function re2Source(pattern: string): string {
  // translateRegExp reads `\k` as the letter k; with a named group it is a backreference in JavaScript.
  if (hasEscape(pattern, 'k')) throw new Error('error parsing regexp: invalid escape sequence: `\\k`');
  const source = RE2JS.translateRegExp(pattern) as string;
  // Open to the end in RE2, a quote would swallow the `)` around the pattern in the combined program.
  return hasOpenQuote(source) ? source + '\\E' : source;
}

/** Compiles one rule pattern, case-insensitive. Throws (an RE2JSException) when RE2 refuses it. */
export function compileRulePattern(pattern: string): RE2JS {
  return RE2JS.compile(re2Source(pattern), RE2JS.CASE_INSENSITIVE);
}

/** The pattern compiled, or why RE2 refuses it (the reason names lookarounds and backreferences as such). */
export function checkRulePattern(pattern: string): { program: RE2JS } | { reason: string } {
  try {
    return { program: compileRulePattern(pattern) };
  } catch (err) {
    return { reason: refusal((err as Error)?.message ?? String(err)) };
  }
}

/**
 * One program that matches where any of `patterns` does, so a user agent
 * that matches none costs one search; null when RE2 cannot build it (two
 * patterns name a capture group alike): then each pattern runs on its own.
 */
export function combineRulePatterns(patterns: readonly string[]): RE2JS | null {
  if (patterns.length === 0) return null;
  try {
    return RE2JS.compile(patterns.map((p) => `(?:${re2Source(p)})`).join('|'), RE2JS.CASE_INSENSITIVE);
  } catch {
    return null;
  }
}

function refusal(message: string): string {
  const detail = message.replace(/^error parsing regexp: /, '');
  // RE2's messages quote the offending syntax: `(?=`, `(?!`, `(?<=x)...`, `\1`, `\k`.
  if (/`\(\?<?[=!]/.test(detail)) return `lookahead and lookbehind are not supported (RE2 matches in linear time): ${detail}`;
  if (/`\\(?:[1-9]|k)/.test(detail)) return `backreferences are not supported (RE2 matches in linear time): ${detail}`;
  return `does not compile as an RE2 regular expression: ${detail}`;
}

/** True when `source` has the escape `\<letter>` (not `\\<letter>`). */
function hasEscape(source: string, letter: string): boolean {
  for (let i = source.indexOf('\\'); i >= 0 && i < source.length; i = source.indexOf('\\', i + 2)) {
    if (source[i + 1] === letter) return true;
  }
  return false;
}

/** True when a `\Q` opens a quote that no `\E` closes (RE2 then quotes to the end). */
function hasOpenQuote(source: string): boolean {
  for (let i = 0; i < source.length; i++) {
    if (source[i] !== '\\') continue;
    if (source[i + 1] === 'Q') {
      const end = source.indexOf('\\E', i + 2);
      if (end < 0) return true;
      i = end + 1;
    } else {
      i++;
    }
  }
  return false;
}
