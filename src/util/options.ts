import { CotError } from '../errors.js';

/**
 * Checks of the options of the public entry points, for callers in plain JavaScript (or TypeScript with casts):
 * a missing or wrong option is OPTIONS_INVALID naming the function, the option and what it takes, never a raw
 * TypeError from deep inside. The command line has already checked its own arguments (USAGE); these checks are for
 * the library's callers. They check shapes only (types, presence), never content, which the functions check.
 */

/** What an option must be: a kind of value, with the words the message uses. */
type OptionKind =
  | 'string'
  | 'date'
  | 'bytes'
  | 'object'
  | 'array'
  | 'number'
  | 'nonNegativeInteger'
  | 'boolean'
  | 'function'
  | 'queue'
  | 'trustStore'
  | 'policy';

const KINDS: Record<OptionKind, { wanted: string; ok: (v: unknown) => boolean }> = {
  string: { wanted: 'a non-empty string', ok: (v) => typeof v === 'string' && v.length > 0 },
  date: {
    wanted: 'a valid Date (the library never reads the clock: pass the time, e.g. new Date())',
    ok: (v) => v instanceof Date && !Number.isNaN(v.getTime()),
  },
  bytes: { wanted: 'bytes (a Buffer or Uint8Array)', ok: (v) => v instanceof Uint8Array },
  object: { wanted: 'an object', ok: (v) => isPlainObject(v) },
  array: { wanted: 'an array', ok: (v) => Array.isArray(v) },
  number: { wanted: 'a finite number', ok: (v) => typeof v === 'number' && Number.isFinite(v) },
  nonNegativeInteger: {
    wanted: 'a non-negative integer',
    ok: (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0,
  },
  boolean: { wanted: 'true or false', ok: (v) => typeof v === 'boolean' },
  function: { wanted: 'a function', ok: (v) => typeof v === 'function' },
  queue: {
    wanted: 'a TaskQueue (a DirectoryQueue or a TaskclusterQueue)',
    ok: (v) =>
      isObject(v) &&
      ['task', 'status', 'listArtifacts', 'openArtifact'].every(
        (m) => typeof (v as Record<string, unknown>)[m] === 'function',
      ),
  },
  trustStore: {
    wanted: "a TrustStore (loadPolicy's `trust`, loadKeyRepo, emptyTrustStore)",
    ok: (v) => isObject(v) && (v as Record<string, unknown>).implementations instanceof Map,
  },
  policy: {
    wanted: "a Policy (loadPolicy's `policy`, or toPolicy)",
    ok: (v) =>
      isPlainObject(v) &&
      isPlainObject((v as Record<string, unknown>).bounds) &&
      isPlainObject((v as Record<string, unknown>).workerTypes),
  },
};

function isObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isPlainObject(v: unknown): boolean {
  return isObject(v) && !(v instanceof Date) && !(v instanceof Uint8Array) && !(v instanceof Map);
}

/** A short description of a value for a message (its type, and a short preview for scalars). */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'an invalid Date' : 'a Date';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'string')
    return v === '' ? 'an empty string' : `the string ${JSON.stringify(v.slice(0, 40))}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'object') return 'an object';
  return typeof v;
}

/** OPTIONS_INVALID for one option of `fn`. */
function optionError(fn: string, option: string, wanted: string, got: unknown, hint?: string): CotError {
  const what =
    got === undefined
      ? `${option} is required: ${wanted}`
      : `${option} must be ${wanted}, got ${describe(got)}`;
  return new CotError('OPTIONS_INVALID', `${fn}: ${what}${hint ? ` (${hint})` : ''}`, {
    details: { function: fn, option },
  });
}

/** One option's rule: its kind, whether it may be absent, and a hint for a frequent mistake. */
export interface OptionRule {
  kind: OptionKind;
  optional?: boolean;
  /** the allowed values, for an option with a fixed set */
  oneOf?: readonly string[];
  /** said after the message when this option is wrong */
  hint?: string;
}

/**
 * Check `value` (the argument named `name` of `fn`) against `kind`: OPTIONS_INVALID unless it matches. Returns it,
 * narrowed, for use in place.
 */
export function checkOption<T = unknown>(fn: string, name: string, value: unknown, rule: OptionRule): T {
  if (value === undefined && rule.optional) return value as T;
  const k = KINDS[rule.kind];
  if (!k.ok(value)) throw optionError(fn, name, k.wanted, value, rule.hint);
  if (rule.oneOf && !rule.oneOf.includes(value as string))
    throw optionError(fn, name, `one of ${rule.oneOf.join(', ')}`, value, rule.hint);
  return value as T;
}

/**
 * Check an options object of `fn` (the argument named `name`, default "options"): it must be an object, and each
 * listed option must follow its rule (unlisted options are not looked at). Throws OPTIONS_INVALID for the first
 * wrong one, naming it.
 */
export function checkOptions(
  fn: string,
  options: unknown,
  rules: Record<string, OptionRule>,
  name = 'options',
): void {
  if (!isObject(options) || options instanceof Date || options instanceof Uint8Array)
    throw optionError(fn, name, 'an object', options);
  const o = options as Record<string, unknown>;
  for (const [key, rule] of Object.entries(rules)) checkOption(fn, `${name}.${key}`, o[key], rule);
}
