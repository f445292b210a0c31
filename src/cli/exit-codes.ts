import type { ErrorCode } from '../errors.js';
import { FAILURE_KIND, type FailureKind } from '../failures.js';

/**
 * Exit codes of the `cot` command. One table, checked for exhaustiveness by the compiler.
 *   0  success (verified / done)
 *   1  verification failure: the material is not trustworthy (signature, key, hash, identity, task, graph)
 *   2  usage error (command line, library options, a malformed task id)
 *   3  a failure a retry may fix, and only that: connection refused or reset, timeouts, 5xx / 408 / 429
 *   4  bad input a retry cannot fix: unreadable or invalid files, JSON, documents, keys, artifact names, a task or
 *      artifact that does not exist or has expired, credentials refused
 *      (any non-zero exit of a verify command means: NOT verified)
 *   5  output or signing failure (local files, an upload that conflicts)
 *   6  warnings only (cot keys check)
 *  70  internal error (a bug)
 */
export const EXIT = {
  OK: 0,
  VERIFY_FAILED: 1,
  USAGE: 2,
  TRANSPORT: 3,
  BAD_INPUT: 4,
  OUTPUT: 5,
  WARNINGS: 6,
  INTERNAL: 70,
} as const;

type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code of each kind of failure (src/failures.ts): the command line's, never the library's. */
const EXIT_FOR_KIND = {
  untrusted: EXIT.VERIFY_FAILED,
  usage: EXIT.USAGE,
  transient: EXIT.TRANSPORT,
  'bad-input': EXIT.BAD_INPUT,
  output: EXIT.OUTPUT,
  warning: EXIT.WARNINGS,
  internal: EXIT.INTERNAL,
} as const satisfies Record<FailureKind, ExitCode>;

/** The exit code of every error code, by its kind (the README's table lists it). */
export const EXIT_CODE_FOR = Object.fromEntries(
  Object.entries(FAILURE_KIND).map(([code, kind]) => [code, EXIT_FOR_KIND[kind]]),
) as Record<ErrorCode, ExitCode>;

export function exitCodeFor(code: ErrorCode): ExitCode {
  return EXIT_FOR_KIND[FAILURE_KIND[code]];
}
