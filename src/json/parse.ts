import { CotError } from '../errors.js';

/** A JSON value as this project carries it (numbers are JS numbers). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** True when `v` is a JSON object: not null, not an array (the one guard for "must hold a JSON object"). */
export function isJsonObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

interface ParseJsonOptions {
  /** Maximum nesting of arrays/objects. Default 256. */
  maxDepth?: number;
  /** Maximum input size in characters. Default 64 MiB. */
  maxLength?: number;
  /**
   * Refuse numbers whose canonical (Python) form cannot be reproduced from a JS number:
   * integers beyond +-(2^53-1) and floats with an integral value below 1e21 (e.g. `1.0`, `1e2`).
   * Generation sets this so that the bytes it signs are exactly what Python's json.dumps writes;
   * verification leaves it off (it never re-serialises).
   */
  exactNumbers?: boolean;
  /** Name of the input, for messages. */
  source?: string;
}

const DEFAULT_MAX_DEPTH = 256;
const DEFAULT_MAX_LENGTH = 64 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decode strict UTF-8 (no BOM, no invalid sequences) and parse strict JSON (parseJson). Throws JSON_INVALID (too
 * long, not UTF-8, or what parseJson refuses) and JSON_NUMBER_UNREPRESENTABLE.
 */
export function parseJsonBytes(bytes: Uint8Array, options: ParseJsonOptions = {}): JsonValue {
  const source = options.source ?? 'input';
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
  if (bytes.length > maxLength) {
    throw new CotError('JSON_INVALID', `${source}: ${bytes.length} bytes exceeds the limit of ${maxLength}`);
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (e) {
    throw new CotError('JSON_INVALID', `${source}: not valid UTF-8`, { cause: e });
  }
  return parseJson(text, options);
}

/**
 * Strict JSON (RFC 8259) parser: rejects duplicate object keys (never "last wins"), a byte-order mark,
 * non-finite numbers, unescaped control characters and trailing data; bounds depth and size. Throws JSON_INVALID
 * (details: offset, line, column) and JSON_NUMBER_UNREPRESENTABLE (a number that cannot be carried exactly).
 */
export function parseJson(text: string, options: ParseJsonOptions = {}): JsonValue {
  const p = new Parser(text, options);
  return p.parseDocument();
}

class Parser {
  private i = 0;
  private readonly maxDepth: number;
  private readonly exact: boolean;
  private readonly source: string;

  constructor(
    private readonly s: string,
    options: ParseJsonOptions,
  ) {
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.exact = options.exactNumbers ?? false;
    this.source = options.source ?? 'input';
    const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
    if (s.length > maxLength) this.fail(`input of ${s.length} characters exceeds the limit of ${maxLength}`);
  }

  private fail(what: string, code: 'JSON_INVALID' | 'JSON_NUMBER_UNREPRESENTABLE' = 'JSON_INVALID'): never {
    const before = this.s.slice(0, this.i);
    const line = before.split('\n').length;
    const column = this.i - before.lastIndexOf('\n');
    throw new CotError(code, `${this.source}: ${what} at line ${line} column ${column}`, {
      details: { offset: this.i, line, column },
    });
  }

  parseDocument(): JsonValue {
    if (this.s.charCodeAt(0) === 0xfeff) this.fail('byte-order mark is not allowed');
    this.ws();
    const v = this.value(0);
    this.ws();
    if (this.i !== this.s.length) this.fail('unexpected data after the JSON value');
    return v;
  }

  private ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  private value(depth: number): JsonValue {
    const c = this.s[this.i];
    switch (c) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail(
          c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`,
        );
    }
  }

  private literal<T extends JsonValue>(word: string, v: T): T {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    return this.fail('invalid literal');
  }

  private object(depth: number): JsonObject {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    this.i++; // {
    const obj: JsonObject = {};
    const seen = new Set<string>();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return obj;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a string key');
      const keyAt = this.i;
      const key = this.string();
      if (seen.has(key)) {
        this.i = keyAt;
        this.fail(`duplicate key ${JSON.stringify(key)}`);
      }
      seen.add(key);
      this.ws();
      if (this.s[this.i] !== ':') this.fail('expected ":"');
      this.i++;
      this.ws();
      const v = this.value(depth);
      // defineProperty so that a key named "__proto__" is an own property, never the prototype
      Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '}') {
        this.i++;
        return obj;
      }
      this.fail('expected "," or "}"');
    }
  }

  private array(depth: number): JsonValue[] {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    this.i++; // [
    const arr: JsonValue[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return arr;
    }
    for (;;) {
      this.ws();
      arr.push(this.value(depth));
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === ']') {
        this.i++;
        return arr;
      }
      this.fail('expected "," or "]"');
    }
  }

  private string(): string {
    const s = this.s;
    let i = this.i + 1; // skip opening quote
    let out = '';
    let start = i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (Number.isNaN(c)) {
        this.i = i;
        this.fail('unterminated string');
      }
      if (c === 0x22) break; // "
      if (c < 0x20) {
        this.i = i;
        this.fail('unescaped control character in string');
      }
      if (c === 0x5c) {
        out += s.slice(start, i);
        const e = s[i + 1];
        switch (e) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            const hex = s.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
              this.i = i;
              this.fail('invalid \\u escape');
            }
            out += String.fromCharCode(Number.parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            this.i = i;
            this.fail('invalid escape');
        }
        i += 2;
        start = i;
        continue;
      }
      i++;
    }
    out += s.slice(start, i);
    this.i = i + 1;
    return out;
  }

  private number(): number {
    const s = this.s;
    const start = this.i;
    const m = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
    m.lastIndex = start;
    const r = m.exec(s);
    if (!r || r[0] === '-' || r[0].length === 0) this.fail('invalid number');
    const lexeme = r[0];
    this.i = start + lexeme.length;
    const v = Number(lexeme);
    const isFloatLexeme = r[1] !== undefined || r[2] !== undefined;
    if (!Number.isFinite(v)) {
      this.i = start;
      this.fail(`number ${lexeme} is out of range`, 'JSON_NUMBER_UNREPRESENTABLE');
    }
    if (this.exact) {
      if (!isFloatLexeme && !Number.isSafeInteger(v)) {
        this.i = start;
        this.fail(
          `integer ${lexeme} is beyond +-(2^53-1) and cannot be carried exactly; write it as a string`,
          'JSON_NUMBER_UNREPRESENTABLE',
        );
      }
      if (isFloatLexeme && Number.isInteger(v) && Math.abs(v) < 1e21) {
        this.i = start;
        this.fail(
          `number ${lexeme} is a float with an integral value, which Python writes as ${pyFloatLike(v)} but JSON in JavaScript cannot distinguish from ${String(v)}; write it as an integer`,
          'JSON_NUMBER_UNREPRESENTABLE',
        );
      }
    }
    return v;
  }
}

function pyFloatLike(v: number): string {
  return `${String(v)}.0`;
}
