/**
 * Glob patterns in `upstreamArtifacts[].paths`, with the reference verifier's semantics: a path is a pattern when it
 * contains `*` (scriptworker `download_cot_artifacts`), and it is matched against the producer's artifact names
 * with Python's `fnmatch.fnmatch` on POSIX, which is case-sensitive and whose `*` also matches `/`:
 *   `*` any run of characters (including `/` and none), `?` one character, `[seq]` one character of seq (ranges
 *   `a-z`), `[!seq]` one character not in seq; a `[` without a closing `]` is a literal `[`.
 * The translation follows CPython's `fnmatch.translate` (3.11+).
 */
export function isGlob(path: string): boolean {
  return path.includes('*');
}

const cache = new Map<string, RegExp>();

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** The RegExp equivalent of an fnmatch pattern (anchored at both ends; `.` matches newlines, as `(?s:)` does). */
export function fnmatchRegExp(pattern: string): RegExp {
  const hit = cache.get(pattern);
  if (hit) return hit;
  let out = '';
  const n = pattern.length;
  let i = 0;
  while (i < n) {
    const c = pattern[i]!;
    i++;
    if (c === '*') {
      if (!out.endsWith('.*')) out += '.*';
    } else if (c === '?') out += '.';
    else if (c === '[') {
      let j = i;
      if (j < n && pattern[j] === '!') j++;
      if (j < n && pattern[j] === ']') j++;
      while (j < n && pattern[j] !== ']') j++;
      if (j >= n) out += '\\[';
      else {
        let stuff = pattern.slice(i, j);
        i = j + 1;
        const negate = stuff.startsWith('!');
        if (negate) stuff = stuff.slice(1);
        // one class member per character or range; reversed ranges (z-a) match nothing, as in Python
        const members: string[] = [];
        for (let k = 0; k < stuff.length; k++) {
          const a = stuff[k]!;
          if (stuff[k + 1] === '-' && k + 2 < stuff.length) {
            const b = stuff[k + 2]!;
            if (a <= b) members.push(`${escapeRegExp(a)}-${escapeRegExp(b)}`);
            k += 2;
          } else members.push(escapeRegExp(a));
        }
        if (members.length === 0) out += negate ? '[\\s\\S]' : '(?!)';
        else out += `[${negate ? '^' : ''}${members.join('')}]`;
      }
    } else out += escapeRegExp(c);
  }
  const re = new RegExp(`^(?:${out})$`, 's');
  cache.set(pattern, re);
  return re;
}

/** Python `fnmatch.fnmatch(name, pattern)` on POSIX. */
export function fnmatch(name: string, pattern: string): boolean {
  return fnmatchRegExp(pattern).test(name);
}
