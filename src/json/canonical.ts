import { CotError } from '../errors.js';

/**
 * The canonical chain-of-trust serialisation: byte-for-byte what Python writes with
 * `json.dumps(value, indent=2, sort_keys=True)` (ensure_ascii on, separators "," and ": ",
 * keys sorted by code point at every level, no trailing newline). The result is pure ASCII.
 *
 * Numbers: a JS number is written as Python writes `json.loads(JSON.stringify(n))`, i.e. integers
 * as integers and other values with Python's float repr (shortest round-trip digits; exponent form
 * when the decimal exponent is < -4 or >= 16).
 */
export function canonicalize(value: unknown): string {
  const out: string[] = [];
  write(value, 0, out, new Set());
  return out.join('');
}

const INDENT = '  ';

function write(v: unknown, level: number, out: string[], stack: Set<object>): void {
  if (v === null) {
    out.push('null');
    return;
  }
  switch (typeof v) {
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return;
    case 'number':
      out.push(pyNumber(v));
      return;
    case 'string':
      out.push(pyString(v));
      return;
    case 'object':
      break;
    default:
      throw new CotError('DOCUMENT_INVALID', `cannot serialise a value of type ${typeof v} as JSON`);
  }
  const obj = v as object;
  if (stack.has(obj)) throw new CotError('DOCUMENT_INVALID', 'cannot serialise a cyclic structure as JSON');
  stack.add(obj);
  const pad = INDENT.repeat(level + 1);
  if (Array.isArray(obj)) {
    if (obj.length === 0) out.push('[]');
    else {
      out.push('[\n');
      for (let i = 0; i < obj.length; i++) {
        if (i > 0) out.push(',\n');
        out.push(pad);
        write(obj[i] === undefined ? null : obj[i], level + 1, out, stack);
      }
      out.push('\n', INDENT.repeat(level), ']');
    }
  } else {
    const keys = Object.keys(obj)
      .filter((k) => (obj as Record<string, unknown>)[k] !== undefined)
      .sort(compareCodePoints);
    if (keys.length === 0) out.push('{}');
    else {
      out.push('{\n');
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (i > 0) out.push(',\n');
        out.push(pad, pyString(k), ': ');
        write((obj as Record<string, unknown>)[k], level + 1, out, stack);
      }
      out.push('\n', INDENT.repeat(level), '}');
    }
  }
  stack.delete(obj);
}

/** Compare two strings by Unicode code point, as Python compares str (JS sort compares UTF-16 units). */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length;
  // if the shared prefix ends with a high surrogate, it may pair with the differing unit: compare whole code points
  const prev = i > 0 ? a.charCodeAt(i - 1) : 0;
  if (prev >= 0xd800 && prev <= 0xdbff) {
    const ca = a.codePointAt(i - 1)!;
    const cb = b.codePointAt(i - 1)!;
    if (ca !== cb) return ca - cb;
  }
  return a.codePointAt(i)! - b.codePointAt(i)!;
}

const PLAIN = /^[ !#-[\]-~]*$/; // printable ASCII except " and \

function pyString(s: string): string {
  if (PLAIN.test(s)) return `"${s}"`;
  let r = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) r += '\\"';
    else if (c === 0x5c) r += '\\\\';
    else if (c >= 0x20 && c <= 0x7e) r += s[i];
    else if (c === 0x0a) r += '\\n';
    else if (c === 0x0d) r += '\\r';
    else if (c === 0x09) r += '\\t';
    else if (c === 0x08) r += '\\b';
    else if (c === 0x0c) r += '\\f';
    else r += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${r}"`;
}

/** Python's output for json.loads(JSON.stringify(n)). */
function pyNumber(n: number): string {
  if (!Number.isFinite(n)) throw new CotError('DOCUMENT_INVALID', `cannot serialise ${n} as JSON`);
  const s = String(n);
  if (!/[.e]/.test(s)) return s; // an integer lexeme: Python keeps it an int
  return pyFloatRepr(n);
}

/** Python's repr(float) for a finite number. */
function pyFloatRepr(n: number): string {
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  // toExponential() gives the shortest digits that round-trip, like Python's repr
  const [mant, expStr] = Math.abs(n).toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  const digits = mant.replace('.', '');
  const sign = n < 0 ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intLen = exp + 1;
  if (digits.length <= intLen) return `${sign}${digits}${'0'.repeat(intLen - digits.length)}.0`;
  return `${sign}${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
}
