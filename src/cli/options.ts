import { type CommandUnknownOpts, Option } from '@commander-js/extra-typings';
import { HASH_ALGORITHMS, type HashAlgorithm, SLUGID_PATTERN } from '../document/schema.js';
import { CotError } from '../errors.js';

/**
 * A command-line error: `cot: USAGE: message`, exit 2. Raised by the CLI only: the library raises OPTIONS_INVALID,
 * which main() reports as USAGE.
 */
export function usage(message: string): CotError {
  return new CotError('USAGE', message);
}

/** Library option names whose flag is not `--` and the name in kebab case. */
const FLAG_OF_OPTION: Record<string, string> = {
  outDir: '--out',
  keyPublic: '--key',
  withPrivate: '--with',
  signature: '--sig',
};

/** The command-line flag of a library option (`force` -> `--force`, `pubOut` -> `--pub-out`, `outDir` -> `--out`). */
function flagOf(option: string): string {
  return FLAG_OF_OPTION[option] ?? `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * A library error as the command line words it: each option its message names (`` `force` ``, listed in
 * `details.options`; see optionRef) becomes its flag (`--force`), and `options` leaves the details.
 */
export function withFlags(e: CotError): CotError {
  const names = e.details.options;
  if (!Array.isArray(names)) return e;
  let message = e.message;
  for (const n of names) if (typeof n === 'string') message = message.replaceAll(`\`${n}\``, flagOf(n));
  const { options: _options, ...details } = e.details;
  return new CotError(e.code, message, { details, cause: e });
}

/** The long flag of an option's flags (`-V, --version` -> `--version`; `--skew <seconds>` -> `--skew`). */
function longFlag(flags: string): string {
  return flags.split(/[ ,|]+/).find((f) => f.startsWith('--')) ?? flags;
}

function parseNonNegativeInt(v: string, what: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw usage(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

function parsePositiveInt(v: string, what: string): number {
  const n = parseNonNegativeInt(v, what);
  if (n === 0) throw usage(`${what} must be a positive integer, got 0`);
  return n;
}

/** An ISO 8601 time given as option `what`: USAGE when it is not one. */
function parseTime(v: string, what: string): Date {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw usage(`${what} expects an ISO 8601 time, got ${JSON.stringify(v)}`);
  return d;
}

/** Hash algorithm names, repeated or comma-separated, any case; sha256 alone when none is given. */
export function parseAlgorithms(values: readonly string[]): HashAlgorithm[] {
  const out = new Set<HashAlgorithm>();
  for (const v of values.flatMap((x) => x.split(','))) {
    const a = v.trim().toLowerCase();
    if (!(HASH_ALGORITHMS as string[]).includes(a)) {
      throw usage(
        `unsupported hash algorithm ${JSON.stringify(v)} (choose from ${HASH_ALGORITHMS.join(', ')})`,
      );
    }
    out.add(a as HashAlgorithm);
  }
  return out.size > 0 ? [...out] : ['sha256'];
}

const TASK_ID = new RegExp(SLUGID_PATTERN);

/** A task id given on the command line: a malformed one is a usage error (exit 2), never a task "not found". */
export function taskIdArgument(v: string, what = 'the task id'): string {
  if (!TASK_ID.test(v))
    throw usage(`${what} ${JSON.stringify(v)} is not a Taskcluster task id (a 22-character slugid)`);
  return v;
}

/** A repeatable option's parser: each value appended to the ones before. */
export const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/**
 * An option that may be given several times. It has no commander default (help would print `(default: [])`):
 * absent, its value is undefined; read it with `list()`.
 */
export function listOption<const F extends string>(flags: F, description: string, shownDefault?: string) {
  const note = shownDefault === undefined ? 'repeatable' : `repeatable; default: ${shownDefault}`;
  return new Option(flags, `${description} (${note})`).argParser(collect);
}

/** A required repeatable option: commander refuses the command line without it. */
export function requiredListOption<const F extends string>(flags: F, description: string) {
  return listOption(flags, description).makeOptionMandatory();
}

/** The values of a repeatable option: [] when it was not given. */
export const list = (v: readonly string[] | undefined): string[] => [...(v ?? [])];

/**
 * An option whose value is a non-negative integer (a positive one with `positive`), its default shown as a number
 * (`(default: 60)`); a bad value is USAGE naming the flag.
 */
export function numberOption<const F extends string>(
  flags: F,
  description: string,
  value: number,
  o: { shown?: string; positive?: boolean } = {},
) {
  const flag = longFlag(flags);
  return new Option(flags, description)
    .default(value, o.shown ?? String(value))
    .argParser((v: string) => (o.positive ? parsePositiveInt(v, flag) : parseNonNegativeInt(v, flag)));
}

/** An option whose value is a non-negative integer, without default. */
export function integerOption<const F extends string>(flags: F, description: string) {
  const flag = longFlag(flags);
  return new Option(flags, description).argParser((v: string) => parseNonNegativeInt(v, flag));
}

/** An option whose value is an ISO 8601 time (a Date); a bad value is USAGE naming the flag. */
export function timeOption<const F extends string>(flags: F, description: string) {
  const flag = longFlag(flags);
  return new Option(flags, description).argParser((v: string) => parseTime(v, flag));
}

/** The help section of required options (commander's help groups): a run without one is refused. */
const REQUIRED_GROUP = 'Required options:';

/** Every required option of every command goes to the help's required section (commander help groups). */
export function markRequired(c: CommandUnknownOpts): void {
  for (const o of c.options) if (o.mandatory) o.helpGroup(REQUIRED_GROUP);
  for (const sub of c.commands) markRequired(sub);
}

/** `Example:` lines after a command's help, as the README shows it (a line starting with a space continues one). */
export function examples(...lines: string[]): string {
  const count = lines.filter((l) => !l.startsWith(' ')).length;
  return `\n${count > 1 ? 'Examples' : 'Example'}:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}
