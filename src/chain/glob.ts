/**
 * Glob patterns in `upstreamArtifacts[].paths`, with the reference verifier's semantics: a path is a pattern when it
 * contains `*` (scriptworker `download_cot_artifacts`), and it is matched against the producer's artifact names
 * with Python's `fnmatch.fnmatch` on POSIX, which is case-sensitive and whose `*` also matches `/`:
 *   `*` any run of characters (including `/` and none), `?` one character, `[seq]` one character of seq (ranges
 *   `a-z`), `[!seq]` one character not in seq; a `[` without a closing `]` is a literal `[`.
 * The pattern is read as CPython's `fnmatch.translate` (3.11+) reads it, and matched without regular expressions.
 */
export function isGlob(path: string): boolean {
  return path.includes('*');
}

/** One element of a compiled pattern: `*`, or one character matched by a test. */
type Token = { star: true } | { star: false; test: (c: string) => boolean };

const cache = new Map<string, Token[]>();

/** A character class body (between `[` and `]`) as a test, with Python's rules: ranges, `!` negation, reversed
 * ranges matching nothing, everything else literal (no escapes). */
function classTest(body: string): (c: string) => boolean {
  let negate = false;
  let stuff = body;
  if (stuff.startsWith('!')) {
    negate = true;
    stuff = stuff.slice(1);
  }
  const singles = new Set<string>();
  const ranges: [number, number][] = [];
  const chars = [...stuff];
  const cp = (x: string) => x.codePointAt(0)!;
  for (let k = 0; k < chars.length; k++) {
    const a = chars[k]!;
    if (chars[k + 1] === '-' && k + 2 < chars.length) {
      const b = chars[k + 2]!;
      if (cp(a) <= cp(b)) ranges.push([cp(a), cp(b)]); // a reversed range matches nothing
      k += 2;
    } else singles.add(a);
  }
  return (c) => {
    const x = cp(c);
    const hit = singles.has(c) || ranges.some(([a, b]) => a <= x && x <= b);
    return negate ? !hit : hit;
  };
}

/** Compile an fnmatch pattern into tokens (consecutive `*` collapsed), as CPython's `fnmatch.translate` reads it. */
function fnmatchTokens(pattern: string): Token[] {
  const hit = cache.get(pattern);
  if (hit) return hit;
  const out: Token[] = [];
  const p = [...pattern];
  const n = p.length;
  let i = 0;
  while (i < n) {
    const c = p[i]!;
    i++;
    if (c === '*') {
      if (!out.at(-1)?.star) out.push({ star: true });
    } else if (c === '?') out.push({ star: false, test: () => true });
    else if (c === '[') {
      let j = i;
      if (j < n && p[j] === '!') j++;
      if (j < n && p[j] === ']') j++;
      while (j < n && p[j] !== ']') j++;
      if (j >= n) out.push({ star: false, test: (x) => x === '[' });
      else {
        out.push({ star: false, test: classTest(p.slice(i, j).join('')) });
        i = j + 1;
      }
    } else out.push({ star: false, test: (x) => x === c });
  }
  if (cache.size > 1000) cache.clear();
  cache.set(pattern, out);
  return out;
}

/**
 * Python `fnmatch.fnmatch(name, pattern)` on POSIX, in time O(len(name) * len(pattern)) whatever the pattern (the
 * classic wildcard walk: on a mismatch, resume after the last `*` one character further), so no pattern an
 * attacker writes can make matching slow. Characters are code points, as in Python.
 */
export function fnmatch(name: string, pattern: string): boolean {
  const t = fnmatchTokens(pattern);
  const s = [...name];
  let ti = 0;
  let si = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (si < s.length) {
    const tok = t[ti];
    if (tok && !tok.star && tok.test(s[si]!)) {
      ti++;
      si++;
    } else if (tok?.star) {
      starAt = ti;
      resumeAt = si;
      ti++;
    } else if (starAt >= 0) {
      ti = starAt + 1;
      resumeAt++;
      si = resumeAt;
    } else return false;
  }
  while (t[ti]?.star) ti++;
  return ti === t.length;
}
