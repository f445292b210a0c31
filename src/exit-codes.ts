import type { ErrorCode } from './errors.js';

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

export const EXIT_CODE_FOR = {
  USAGE: EXIT.USAGE,
  OPTIONS_INVALID: EXIT.USAGE,
  FILE_NOT_FOUND: EXIT.BAD_INPUT,
  FILE_UNREADABLE: EXIT.BAD_INPUT,
  OUTPUT_FAILED: EXIT.OUTPUT,
  OUTPUT_UNSAFE_FOLDER: EXIT.OUTPUT,
  FILE_EXISTS: EXIT.OUTPUT,
  FILE_IS_DIRECTORY: EXIT.OUTPUT,
  FILE_NOT_DIRECTORY: EXIT.OUTPUT,
  JSON_INVALID: EXIT.BAD_INPUT,
  JSON_NUMBER_UNREPRESENTABLE: EXIT.BAD_INPUT,
  DOCUMENT_INVALID: EXIT.BAD_INPUT,
  DOCUMENT_UNSUPPORTED_VERSION: EXIT.BAD_INPUT,
  ARTIFACT_NAME_INVALID: EXIT.BAD_INPUT,
  ARTIFACT_UNSAFE_FILE: EXIT.BAD_INPUT,
  ARTIFACT_RESERVED_NAME: EXIT.BAD_INPUT,
  ARTIFACT_DUPLICATE_NAME: EXIT.BAD_INPUT,
  ARTIFACT_CHANGED: EXIT.OUTPUT,
  ARTIFACT_NOT_LISTED: EXIT.VERIFY_FAILED,
  ARTIFACT_MISSING: EXIT.VERIFY_FAILED,
  HASH_MISMATCH: EXIT.VERIFY_FAILED,
  HASH_UNSUPPORTED_ALGORITHM: EXIT.VERIFY_FAILED,
  KEY_INVALID: EXIT.BAD_INPUT,
  KEY_INSECURE_PERMISSIONS: EXIT.BAD_INPUT,
  KEY_NOT_FOUND: EXIT.VERIFY_FAILED,
  KEY_WEAK: EXIT.VERIFY_FAILED,
  KEY_EXPIRED: EXIT.VERIFY_FAILED,
  KEY_REVOKED: EXIT.VERIFY_FAILED,
  KEY_NOT_YET_VALID: EXIT.VERIFY_FAILED,
  KEY_WRONG_IMPLEMENTATION: EXIT.VERIFY_FAILED,
  KEY_UNCERTIFIED: EXIT.VERIFY_FAILED,
  KEY_CERTIFIED_BY_UNTRUSTED: EXIT.VERIFY_FAILED,
  KEY_CERTIFIER_UNKNOWN: EXIT.VERIFY_FAILED,
  KEY_CERTIFIER_INVALID: EXIT.VERIFY_FAILED,
  KEY_READABLE_BY_TASK_USER: EXIT.VERIFY_FAILED,
  TRUST_UNKNOWN_IMPLEMENTATION: EXIT.USAGE,
  REPO_NO_SIGNED_TAG: EXIT.VERIFY_FAILED,
  REPO_TAG_NOT_HEAD: EXIT.VERIFY_FAILED,
  REPO_GIT_FAILED: EXIT.BAD_INPUT,
  KEY_REPO_INVALID: EXIT.BAD_INPUT,
  KEYS_CHECK_ERRORS: EXIT.VERIFY_FAILED,
  KEYS_CHECK_WARNINGS: EXIT.WARNINGS,
  SIGNATURE_MISSING: EXIT.VERIFY_FAILED,
  SIGNATURE_MALFORMED: EXIT.VERIFY_FAILED,
  SIGNATURE_INVALID: EXIT.VERIFY_FAILED,
  SIGNATURE_WEAK_HASH: EXIT.VERIFY_FAILED,
  SIGNATURE_FROM_FUTURE: EXIT.VERIFY_FAILED,
  SIGNATURE_BEFORE_TASK: EXIT.VERIFY_FAILED,
  SIGNATURE_KIND_REFUSED: EXIT.VERIFY_FAILED,
  SIGNATURE_HASH_HEADER_MISMATCH: EXIT.VERIFY_FAILED,
  SIGNING_FAILED: EXIT.OUTPUT,
  SIGNING_LINE_TOO_LONG: EXIT.OUTPUT,
  LINK_ID_MISMATCH: EXIT.VERIFY_FAILED,
  QUEUE_NOT_FOUND: EXIT.BAD_INPUT,
  QUEUE_REQUEST_REFUSED: EXIT.BAD_INPUT,
  TRANSPORT_HTTP: EXIT.TRANSPORT,
  TRANSPORT_NETWORK: EXIT.TRANSPORT,
  TRANSPORT_TOO_LARGE: EXIT.VERIFY_FAILED,
  TRANSPORT_REDIRECT_REFUSED: EXIT.VERIFY_FAILED,
  TRANSPORT_AUTH: EXIT.BAD_INPUT,
  TRANSPORT_CONFLICT: EXIT.OUTPUT,
  FETCH_INCOMPLETE: EXIT.VERIFY_FAILED,
  TRANSPORT_LIST_TOO_LONG: EXIT.TRANSPORT,
  POLICY_INVALID: EXIT.BAD_INPUT,
  CHAIN_VERIFICATION_FAILED: EXIT.VERIFY_FAILED,
  CHAIN_COT_MISSING: EXIT.VERIFY_FAILED,
  CHAIN_CYCLE: EXIT.VERIFY_FAILED,
  CHAIN_TOO_DEEP: EXIT.VERIFY_FAILED,
  CHAIN_TOO_MANY_TASKS: EXIT.VERIFY_FAILED,
  CHAIN_UNKNOWN_WORKER_TYPE: EXIT.VERIFY_FAILED,
  CHAIN_TASK_MISMATCH: EXIT.VERIFY_FAILED,
  CHAIN_DECISION_WORKER_TYPE: EXIT.VERIFY_FAILED,
  CHAIN_NOT_IN_TASK_GRAPH: EXIT.VERIFY_FAILED,
  CHAIN_TASK_GRAPH_MISMATCH: EXIT.VERIFY_FAILED,
  CHAIN_IMAGE_HASH_MISMATCH: EXIT.VERIFY_FAILED,
  CHAIN_PARENT_INVALID: EXIT.VERIFY_FAILED,
  CHAIN_NO_DECISION: EXIT.VERIFY_FAILED,
  CHAIN_UPSTREAM_INVALID: EXIT.VERIFY_FAILED,
  CHAIN_RUN_AMBIGUOUS: EXIT.VERIFY_FAILED,
  CHAIN_PREBUILT_IMAGE: EXIT.VERIFY_FAILED,
  CHAIN_INTERACTIVE_TASK: EXIT.VERIFY_FAILED,
  TREE_FILE_MISSING: EXIT.BAD_INPUT,
  TREE_FILE_INVALID: EXIT.BAD_INPUT,
  TREE_TEMPLATE_INVALID: EXIT.BAD_INPUT,
  TREE_RENDER_FAILED: EXIT.BAD_INPUT,
  TREE_RENDER_LIMIT: EXIT.BAD_INPUT,
  TREE_TASKS_FOR_UNKNOWN: EXIT.BAD_INPUT,
  TREE_TASK_INVALID: EXIT.VERIFY_FAILED,
  TREE_PROJECT_UNKNOWN: EXIT.VERIFY_FAILED,
  TREE_COMMIT_MESSAGE_INVALID: EXIT.VERIFY_FAILED,
  TREE_ACTION_UNKNOWN: EXIT.VERIFY_FAILED,
  TREE_ACTION_KIND_INVALID: EXIT.VERIFY_FAILED,
  TREE_ACTION_TASK_GROUP_INVALID: EXIT.VERIFY_FAILED,
  TREE_TASK_MISMATCH: EXIT.VERIFY_FAILED,
  INTERNAL: EXIT.INTERNAL,
} as const satisfies Record<ErrorCode, ExitCode>;

export function exitCodeFor(code: ErrorCode): ExitCode {
  return EXIT_CODE_FOR[code];
}

/** A failure among several (a chain's, a mirror's): only its code matters here. */
interface CodedFailure {
  code: ErrorCode;
}

/** What a run that collected several failures exits with, and which failure decides it. */
interface FailureOutcome<F extends CodedFailure> {
  /** the code printed (`cot: CODE: ...`): `trustCode` for exit 1, else the deciding failure's own code */
  code: ErrorCode;
  exitCode: ExitCode;
  /** the failure that decides the exit (the first of its kind, in the order given) */
  deciding: F;
}

/**
 * The one rule for a command that collects failures instead of stopping at the first (`cot verify`, `cot fetch`,
 * `cot demo`), given its failures in their deterministic order (a chain: breadth first from the task, then by
 * taskId):
 *   1. any failure whose code exits 1 (a signature, key, hash, task, graph or chain check failed): exit 1, with
 *      `trustCode` (CHAIN_VERIFICATION_FAILED, FETCH_INCOMPLETE), whatever else failed; the first such failure
 *      decides;
 *   2. else the first failure a retry cannot fix (exit 2, 4, 5 or 70: a malformed id, a task or artifact that does
 *      not exist or has expired, a store folder that does not exist...): its own code and exit;
 *   3. else every failure is one a retry may fix (exit 3): the first one's code, exit 3.
 * Returns undefined when there is no failure (exit 0).
 */
export function failureOutcome<F extends CodedFailure>(
  failures: readonly F[],
  trustCode: ErrorCode,
): FailureOutcome<F> | undefined {
  const trust = failures.find((f) => exitCodeFor(f.code) === EXIT.VERIFY_FAILED);
  if (trust) return { code: trustCode, exitCode: exitCodeFor(trustCode), deciding: trust };
  const permanent = failures.find((f) => exitCodeFor(f.code) !== EXIT.TRANSPORT);
  const deciding = permanent ?? failures[0];
  if (!deciding) return undefined;
  return { code: deciding.code, exitCode: exitCodeFor(deciding.code), deciding };
}
