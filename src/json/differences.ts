import { canonicalize } from './canonical.js';
import { isJsonObject, type JsonValue } from './parse.js';

/**
 * Where two JSON values differ: the leaf paths with both values, and their readable forms for messages. Used by the
 * chain checks (a signed task against the queue's, a task against its task-graph.json entry) and by the tree rebuild
 * (a runtime parent task against the tasks its template renders). Pure.
 */

/** One differing leaf: `expected` absent means the leaf exists only in `actual`, and the other way round. */
export interface JsonDifference {
  path: string;
  expected?: JsonValue;
  actual?: JsonValue;
}

/** Most differences collected for one comparison (a task definition is at most 16 MiB; reports stay bounded). */
export const MAX_DIFFERENCES = 1000;

function same(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return (a === undefined) === (b === undefined) && canonicalize(a ?? null) === canonicalize(b ?? null);
}

/**
 * Every leaf at which `expected` and `actual` differ, in document order, at most `limit` (MAX_DIFFERENCES). Objects
 * are compared key by key; arrays of one length element by element; arrays of different lengths element by element
 * when one is the other with elements inserted at one place (an injected scope is then its own difference, at its
 * index in the longer array), else as one leaf holding both arrays. Pure.
 */
export function jsonDifferences(
  expected: JsonValue | undefined,
  actual: JsonValue | undefined,
  limit = MAX_DIFFERENCES,
  path = '',
  out: JsonDifference[] = [],
): JsonDifference[] {
  if (out.length >= limit || same(expected, actual)) return out;
  if (isJsonObject(expected) && isJsonObject(actual)) {
    const eo = expected;
    const ao = actual;
    for (const k of new Set([...Object.keys(eo), ...Object.keys(ao)]))
      jsonDifferences(
        Object.hasOwn(eo, k) ? eo[k] : undefined,
        Object.hasOwn(ao, k) ? ao[k] : undefined,
        limit,
        path ? `${path}.${k}` : k,
        out,
      );
    return out;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length === actual.length) {
      for (let i = 0; i < expected.length; i++)
        jsonDifferences(expected[i], actual[i], limit, `${path}[${i}]`, out);
      return out;
    }
    // one side is the other with a run of elements inserted at one place: each inserted element is a difference
    const [short, long] = expected.length < actual.length ? [expected, actual] : [actual, expected];
    let head = 0;
    while (head < short.length && same(short[head], long[head])) head++;
    let tail = 0;
    while (tail < short.length - head && same(short[short.length - 1 - tail], long[long.length - 1 - tail]))
      tail++;
    if (head + tail === short.length) {
      for (let i = head; i < long.length - tail && out.length < limit; i++)
        out.push(
          long === actual
            ? { path: `${path}[${i}]`, actual: long[i]! }
            : { path: `${path}[${i}]`, expected: long[i]! },
        );
      return out;
    }
  }
  out.push({
    path: path || '(root)',
    ...(expected === undefined ? {} : { expected }),
    ...(actual === undefined ? {} : { actual }),
  });
  return out;
}

/** Characters kept on each side of a difference when a value is shortened for a message. */
const CONTEXT_CHARS = 24;
/** Values up to this many characters are shown whole. */
const WHOLE_CHARS = 160;
/** The differing middle of a value longer than this is itself cut (the full value is in `details`). */
const MIDDLE_CHARS = 400;

/**
 * Both sides of a difference as JSON text for a message: whole when short; else each cut to the part that differs
 * (from the first differing character to the last, a few characters of context around it), with an ellipsis (…)
 * where common text was left out, so an injected word in a long command is visible on both sides.
 */
export function showDifference(d: JsonDifference): string {
  const a = d.expected === undefined ? 'absent' : JSON.stringify(d.expected);
  const b = d.actual === undefined ? 'absent' : JSON.stringify(d.actual);
  if (a.length <= WHOLE_CHARS && b.length <= WHOLE_CHARS) return `${d.path}: ${a} vs ${b}`;
  let head = 0;
  const min = Math.min(a.length, b.length);
  while (head < min && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < min - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const cut = (x: string) => {
    const from = Math.max(0, head - CONTEXT_CHARS);
    const to = x.length - Math.max(0, tail - CONTEXT_CHARS);
    let mid = x.slice(from, to);
    if (mid.length > MIDDLE_CHARS)
      mid = `${mid.slice(0, MIDDLE_CHARS / 2)}…${mid.slice(mid.length - MIDDLE_CHARS / 2)}`;
    return `${from > 0 ? '…' : ''}${mid}${to < x.length ? '…' : ''}`;
  };
  return `${d.path}: ${cut(a)} vs ${cut(b)}`;
}

/** Most differences named in one message; the rest are counted (all are in `details.differences`). */
const MAX_DIFFERENCES_SHOWN = 20;

/** The differences for a message: each by its path with both values (showDifference), the rest counted. */
export function describeDifferences(diffs: readonly JsonDifference[], truncated = false): string[] {
  const shown = diffs.slice(0, MAX_DIFFERENCES_SHOWN).map(showDifference);
  const more = diffs.length - shown.length;
  if (more > 0) shown.push(`and ${more}${truncated ? ' or more' : ''} other difference(s)`);
  return shown;
}

/**
 * Paths at which two JSON values differ, as readable `path: expected vs actual` lines (jsonDifferences, then
 * showDifference), at most `limit`.
 */
export function diffPaths(a: JsonValue | undefined, b: JsonValue | undefined, limit = 20): string[] {
  return jsonDifferences(a, b, limit).map(showDifference);
}
