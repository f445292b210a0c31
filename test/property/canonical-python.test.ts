import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../../src/json/canonical.js';
import { parseJson } from '../../src/json/parse.js';
import { HAVE_PYTHON } from '../helpers/env.js';

const RUNS = Number(process.env.COT_FUZZ_RUNS ?? 300);

/** Python's own bytes for each value, in one python3 process per batch. */
function pythonDumps(values: unknown[]): string[] {
  const script = [
    'import json, sys',
    'docs = json.loads(sys.stdin.buffer.read().decode("utf-8"))',
    'sys.stdout.write("\\0".join(json.dumps(d, indent=2, sort_keys=True) for d in docs))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script], {
    input: JSON.stringify(values),
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr.toString()}`);
  return r.stdout.toString('latin1').split('\0');
}

const tricky = fc.constantFrom(
  '',
  'a',
  'é',
  '💩',
  '\ud800',
  'x\udfffy',
  '\uffff',
  '\ue000',
  '𝄞',
  '"\\/\b\f\n\r\t',
  '\u0000\u001f\u007f',
  'Z',
  '~',
);
const str = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  tricky,
  fc.string({ unit: tricky }),
);
const leaf = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    0.1,
    1e-5,
    1e-4,
    123.456,
    1e16,
    1.5e16,
    1e21,
    1e22,
    -0,
    5e-324,
    1.7976931348623157e308,
    2 ** 53,
  ),
  str,
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(str, tie('value'), { maxKeys: 6 }),
  ),
}));
const doc = fc.dictionary(str, value, { maxKeys: 8 });

describe('canonicalize', () => {
  it('writes known shapes exactly', () => {
    expect(canonicalize({})).toBe('{}');
    expect(canonicalize([])).toBe('[]');
    expect(canonicalize({ b: [1, {}, []], a: { y: null, x: true } })).toBe(
      '{\n  "a": {\n    "x": true,\n    "y": null\n  },\n  "b": [\n    1,\n    {},\n    []\n  ]\n}',
    );
    expect(canonicalize({ k: 'é💩' })).toBe('{\n  "k": "\\u00e9\\ud83d\\udca9"\n}');
    expect(canonicalize([1.5, 1e-7, 1e21, 0.0001, 1e-5, 123.456, 1e16])).toBe(
      '[\n  1.5,\n  1e-07,\n  1e+21,\n  0.0001,\n  1e-05,\n  123.456,\n  10000000000000000\n]',
    );
  });

  it('sorts keys by code point, as Python does (not by UTF-16 unit)', () => {
    // U+FF61 sorts before U+1F4A9 by code point, after it by UTF-16 unit
    expect(canonicalize({ '💩': 1, '｡': 2 })).toBe('{\n  "\\uff61": 2,\n  "\\ud83d\\udca9": 1\n}');
    // lone surrogates compare as their own code point (found by the python property test)
    expect(canonicalize({ '\ud800\uffff': 1, '\ud800\ue000': 2 })).toBe(
      '{\n  "\\ud800\\ue000": 2,\n  "\\ud800\\uffff": 1\n}',
    );
  });

  it.skipIf(!HAVE_PYTHON)(
    `matches python3 json.dumps(indent=2, sort_keys=True) byte for byte (${RUNS} documents)`,
    () => {
      const samples = fc.sample(doc, { numRuns: RUNS, seed: Number(process.env.COT_FUZZ_SEED ?? 42) });
      const expected = pythonDumps(samples);
      expect(expected.length).toBe(samples.length);
      samples.forEach((s, i) => {
        const ours = canonicalize(JSON.parse(JSON.stringify(s)));
        if (ours !== expected[i]) {
          throw new Error(
            `mismatch for ${JSON.stringify(s)}\nours:   ${JSON.stringify(ours)}\npython: ${JSON.stringify(expected[i])}`,
          );
        }
      });
    },
  );

  it('round-trips through the strict parser: parse(canonical(v)) re-canonicalises to the same bytes', () => {
    fc.assert(
      fc.property(doc, (d) => {
        const once = canonicalize(JSON.parse(JSON.stringify(d)));
        expect(canonicalize(parseJson(once))).toBe(once);
        expect(/^[\x20-\x7e\n]*$/.test(once)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('the strict parser agrees with JSON.parse on every valid document', () => {
    fc.assert(
      fc.property(doc, (d) => {
        const text = JSON.stringify(d, null, 1);
        expect(parseJson(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: RUNS },
    );
  });
});
