import { describe, expect, it } from 'vitest';
import { parseJson, parseJsonBytes } from '../../../src/json/parse.js';
import { codeOf } from '../../helpers/env.js';

describe('parseJson (strict)', () => {
  it('parses ordinary JSON', () => {
    expect(parseJson(' {"a": [1, 2.5, "x", true, null, {}], "b": "\\u00e9\\ud83d\\udca9"} ')).toEqual({
      a: [1, 2.5, 'x', true, null, {}],
      b: 'é💩',
    });
  });

  it('rejects duplicate keys instead of letting the last one win', async () => {
    expect(await codeOf(() => parseJson('{"taskId": "a", "taskId": "b"}'))).toBe('JSON_INVALID');
    expect(() => parseJson('{"a": {"x": 1, "x": 1}}')).toThrow(/duplicate key "x"/);
  });

  it('keeps a "__proto__" key as data, never as the prototype', () => {
    const v = parseJson('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['trailing data', '{} {}'],
    ['trailing comma', '[1,]'],
    ['single quotes', "{'a': 1}"],
    ['NaN', '[NaN]'],
    ['leading zero', '[01]'],
    ['raw control character', '["a\u0001"]'],
    ['bad escape', '["\\x41"]'],
    ['unterminated', '{"a": '],
    ['empty', ''],
    ['byte-order mark', '\ufeff{}'],
  ])('rejects %s', async (_name, text) => {
    expect(await codeOf(() => parseJson(text))).toBe('JSON_INVALID');
  });

  it('bounds nesting depth without overflowing the stack', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(await codeOf(() => parseJson(deep))).toBe('JSON_INVALID');
    expect(() => parseJson(`${'['.repeat(10)}${']'.repeat(10)}`, { maxDepth: 9 })).toThrow(
      /nesting deeper than 9/,
    );
    expect(parseJson(`${'['.repeat(9)}${']'.repeat(9)}`, { maxDepth: 9 })).toBeDefined();
  });

  it('bounds input size', async () => {
    expect(await codeOf(() => parseJsonBytes(Buffer.from('[1,2,3]'), { maxLength: 3 }))).toBe('JSON_INVALID');
  });

  it('rejects invalid UTF-8', async () => {
    expect(await codeOf(() => parseJsonBytes(Buffer.from([0x22, 0xc3, 0x28, 0x22])))).toBe('JSON_INVALID');
  });

  it('refuses non-finite numbers', async () => {
    expect(await codeOf(() => parseJson('[1e999]'))).toBe('JSON_NUMBER_UNREPRESENTABLE');
  });

  it('in exact mode refuses numbers whose Python form a JS number cannot carry', async () => {
    expect(await codeOf(() => parseJson('[12345678901234567890]', { exactNumbers: true }))).toBe(
      'JSON_NUMBER_UNREPRESENTABLE',
    );
    expect(await codeOf(() => parseJson('{"timeout": 1.0}', { exactNumbers: true }))).toBe(
      'JSON_NUMBER_UNREPRESENTABLE',
    );
    expect(await codeOf(() => parseJson('[1e2]', { exactNumbers: true }))).toBe(
      'JSON_NUMBER_UNREPRESENTABLE',
    );
    expect(parseJson('[1.5, 1e21, 9007199254740991, -0.25]', { exactNumbers: true })).toEqual([
      1.5, 1e21, 9007199254740991, -0.25,
    ]);
    // without exact mode (verification never re-serialises) they are read as numbers
    expect(parseJson('[1.0, 12345678901234567890]')).toEqual([1, 12345678901234567000]);
  });

  it('says where the problem is', () => {
    expect(() => parseJson('{\n  "a": 1,\n  "a": 2\n}', { source: 'task.json' })).toThrow(
      /task\.json: duplicate key "a" at line 3 column 3/,
    );
  });
});
