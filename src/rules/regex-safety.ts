/**
 * A conservative static check for regular expressions that can backtrack
 * catastrophically in V8's backtracking engine, used on rule patterns that
 * come from the backend before they are run against every request.
 *
 * It flags a repeated group (`*`, `+`, `{n,}`, `{n,m}` with m > 1) whose body
 * itself repeats without bound (`(a+)+`, `(.*)*`, `(?:\d+){2,}`) or whose
 * alternatives overlap (`(x|x)*`, `(a|aa)+`: one alternative equals or is a
 * prefix of another). It is a heuristic: it may reject a harmless pattern of
 * that shape, and it does not prove a pattern safe; the length cap and the
 * bounded input length in the rule engine are the other two guards.
 */

interface OpenGroup {
  start: number;
  /** The body contains an unbounded quantifier (directly or in a nested group). */
  unbounded: boolean;
  /** Start index of each top-level alternative in the body. */
  alternatives: number[];
}

/** The quantifier at `s[i]`, if any: its length and whether it repeats (max > 1) and is unbounded. */
function quantifierAt(s: string, i: number): { len: number; repeats: boolean; unbounded: boolean } | null {
  const c = s[i];
  if (c === '*' || c === '+') return { len: 1, repeats: true, unbounded: true };
  if (c === '?') return { len: 1, repeats: false, unbounded: false };
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(i, i + 24));
    if (!m) return null;
    const unbounded = m[2] !== undefined && m[3] === '';
    const max = m[2] === undefined ? Number(m[1]) : unbounded ? Infinity : Number(m[3]);
    return { len: m[0].length, repeats: max > 1, unbounded };
  }
  return null;
}

/** Returns why `pattern` looks catastrophically backtracking, or null. */
export function catastrophicBacktrackingReason(pattern: string): string | null {
  const stack: OpenGroup[] = [{ start: 0, unbounded: false, alternatives: [0] }];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '[') {
      // Skip a character class; `]` right after `[` or `[^` is literal.
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      i++;
      const q = quantifierAt(pattern, i);
      if (q?.unbounded) stack[stack.length - 1].unbounded = true;
      continue;
    }
    if (c === '(') {
      let bodyStart = i + 1;
      const m = /^\(\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>)/.exec(pattern.slice(i, i + 64));
      if (m) bodyStart = i + m[0].length;
      stack.push({ start: bodyStart, unbounded: false, alternatives: [bodyStart] });
      i = bodyStart;
      continue;
    }
    if (c === '|') {
      stack[stack.length - 1].alternatives.push(i + 1);
      i++;
      continue;
    }
    if (c === ')') {
      if (stack.length === 1) return null; // unbalanced: the RegExp compile check reports it
      const group = stack.pop() as OpenGroup;
      const q = quantifierAt(pattern, i + 1);
      if (q?.repeats) {
        if (group.unbounded) return `nested quantifier: repeated group "${pattern.slice(group.start - 1, i + 1 + q.len)}" contains an unbounded repeat`;
        const alts = group.alternatives.map((a, k) => pattern.slice(a, k + 1 < group.alternatives.length ? group.alternatives[k + 1] - 1 : i));
        for (let x = 0; x < alts.length; x++) {
          for (let y = 0; y < alts.length; y++) {
            if (x !== y && alts[y].startsWith(alts[x]) && (alts[x] !== alts[y] || x < y)) {
              return `overlapping alternatives "${alts[x]}" and "${alts[y]}" in a repeated group`;
            }
          }
        }
      }
      const parent = stack[stack.length - 1];
      if (group.unbounded || q?.unbounded) parent.unbounded = true;
      i += 1 + (q ? q.len : 0);
      continue;
    }
    const q = quantifierAt(pattern, i);
    if (q) {
      if (q.unbounded) stack[stack.length - 1].unbounded = true;
      i += q.len;
      continue;
    }
    i++;
  }
  return null;
}
