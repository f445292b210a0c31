/**
 * The chain rules that follow Python code (the reference verifier and taskgraph are Python), checked against python3
 * itself: glob patterns against the real `fnmatch.fnmatch`, and relative datestamps against Python's `re.search`,
 * `int()`, `timedelta` and `isoformat(timespec="milliseconds")` used as taskgraph's util/time.py uses them.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fnmatch } from '../../src/chain/glob.js';
import { resolveRelativeDatestamp } from '../../src/chain/task-graph.js';
import { HAVE_PYTHON } from '../helpers/env.js';

const RUNS = Number(process.env.COT_FUZZ_RUNS ?? 300);

function python(script: string, input: unknown): unknown {
  const r = spawnSync('python3', ['-c', script], {
    input: JSON.stringify(input),
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString('utf8'));
}

const FNMATCH = [
  'import fnmatch, json, sys',
  'pairs = json.loads(sys.stdin.read())',
  'print(json.dumps([fnmatch.fnmatch(n, p) for n, p in pairs]))',
].join('\n');

// taskgraph util/time.py semantics, in Python: the first "<number> <unit>" found anywhere (re.search), int() of the
// number, days for months (30) and years (365), naive UTC, ISO with milliseconds and a Z
const DATESTAMP = [
  'import datetime, json, re, sys',
  'P = re.compile(r"((?:\\d+)?\\.?\\d+) *([a-z]+)")',
  'U = {"seconds": 1, "second": 1, "s": 1, "minutes": 60, "minute": 60, "min": 60, "hours": 3600, "hour": 3600,',
  '     "h": 3600, "days": 86400, "day": 86400, "d": 86400, "months": 2592000, "month": 2592000, "mo": 2592000,',
  '     "years": 31536000, "year": 31536000, "y": 31536000}',
  'def one(s, now):',
  '    m = P.search(s)',
  '    if m is None: return None',
  '    value, unit = m.groups()',
  '    if unit not in U: return None',
  '    try: n = int(value)',
  '    except ValueError: return None',
  '    base = datetime.datetime.fromisoformat(now[:-1])',
  '    try: t = base + datetime.timedelta(seconds=n * U[unit])',
  '    except OverflowError: return None',
  '    return t.isoformat(timespec="milliseconds") + "Z"',
  'print(json.dumps([one(s, now) for s, now in json.loads(sys.stdin.read())]))',
].join('\n');

describe.skipIf(!HAVE_PYTHON)('against python3', () => {
  it('glob patterns match exactly as Python fnmatch.fnmatch (* also matches /, ?, [seq], [!seq], ranges)', () => {
    const alphabet = fc.constantFrom(
      'a',
      'b',
      'z',
      '/',
      '.',
      '-',
      '*',
      '?',
      '[',
      ']',
      '!',
      '^',
      '\\',
      'é',
      ' ',
    );
    const text = fc.string({ unit: alphabet, maxLength: 10 });
    const fixed: [string, string][] = [
      ['public/build/target.tar.gz', 'public/build/*'],
      ['public/build/sub/x.zip', 'public/*.zip'],
      ['public/a', 'public/?'],
      ['public/ab', 'public/?'],
      ['b', '[a-c]'],
      ['d', '[!a-c]'],
      ['[', '['],
      ['a]', '[!]]]'],
      ['-', '[a-]'],
      ['x', '[z-a]'],
      ['\\', '[\\]'],
      ['A', 'a'],
    ];
    // one python3 process for every case: generated pairs, plus the fixed ones
    const all = [...fixed, ...fc.sample(fc.tuple(text, text), RUNS * 10)];
    const py = python(FNMATCH, all) as boolean[];
    const differ = all.filter(([n, p], i) => fnmatch(n, p) !== py[i]);
    expect(differ).toEqual([]);
    expect(py.filter(Boolean).length).toBeGreaterThan(fixed.length / 2); // the cases do exercise matches
  });

  it('relative datestamps resolve exactly as taskgraph json_time_from_now does', () => {
    const unit = fc.constantFrom(
      's',
      'second',
      'seconds',
      'min',
      'minute',
      'minutes',
      'h',
      'hour',
      'hours',
      'd',
      'day',
      'days',
      'mo',
      'month',
      'months',
      'y',
      'year',
      'years',
      'weeks',
      'ms',
      'Days',
    );
    const number = fc.oneof(
      fc.integer({ min: 0, max: 5000 }).map(String),
      fc.constantFrom('1.5', '.5', '007', '0', '10000000000000'),
    );
    const input = fc
      .tuple(fc.constantFrom('', 'in ', '-', '+'), number, fc.constantFrom('', ' ', '  '), unit)
      .map(([a, n, sp, u]) => `${a}${n}${sp}${u}`);
    const now = fc
      .date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2030-01-01T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString());
    const cases = fc.sample(fc.tuple(input, now), RUNS * 10);
    const py = python(DATESTAMP, cases) as (string | null)[];
    const js = cases.map(([s, n]) => {
      try {
        return resolveRelativeDatestamp(s, new Date(n));
      } catch {
        return null;
      }
    });
    expect(cases.flatMap((c, i) => (js[i] === py[i] ? [] : [[c, js[i], py[i]]]))).toEqual([]);
    expect(py.filter((x) => x === null).length).toBeGreaterThan(0); // refusals are exercised too
    expect(py.filter((x) => x !== null).length).toBeGreaterThan(cases.length / 4);
  });
});
