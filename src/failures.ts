import type { ErrorCode } from './errors.js';

/**
 * What kind of failure each code is: what a caller does about it. The library decides with kinds; the command line
 * turns a kind into its exit code (src/cli/exit-codes.ts), so exit codes stay the CLI's.
 *   untrusted  a trust check failed: the material is not trustworthy (signature, key, hash, identity, task, graph)
 *   usage      the command line or a library call was wrong (options, a malformed task id)
 *   transient  a retry may fix it, and only that: connection refused or reset, timeouts, 5xx / 408 / 429
 *   bad-input  a retry cannot fix it: unreadable or invalid files, JSON, documents, keys, artifact names, a task or
 *              artifact that does not exist or has expired, credentials refused
 *   output     writing, signing or uploading failed (local files, an upload that conflicts)
 *   warning    warnings only (`cot keys check`)
 *   internal   a bug
 */
export type FailureKind =
  | 'untrusted'
  | 'usage'
  | 'transient'
  | 'bad-input'
  | 'output'
  | 'warning'
  | 'internal';

/** The kind of every code: one table, checked for exhaustiveness by the compiler. */
export const FAILURE_KIND = {
  USAGE: 'usage',
  OPTIONS_INVALID: 'usage',
  FILE_NOT_FOUND: 'bad-input',
  FILE_UNREADABLE: 'bad-input',
  OUTPUT_FAILED: 'output',
  OUTPUT_UNSAFE_FOLDER: 'output',
  FILE_EXISTS: 'output',
  FILE_IS_DIRECTORY: 'output',
  FILE_NOT_DIRECTORY: 'output',
  JSON_INVALID: 'bad-input',
  JSON_NUMBER_UNREPRESENTABLE: 'bad-input',
  DOCUMENT_INVALID: 'bad-input',
  DOCUMENT_UNSUPPORTED_VERSION: 'bad-input',
  ARTIFACT_NAME_INVALID: 'bad-input',
  ARTIFACT_UNSAFE_FILE: 'bad-input',
  ARTIFACT_RESERVED_NAME: 'bad-input',
  ARTIFACT_DUPLICATE_NAME: 'bad-input',
  ARTIFACT_CHANGED: 'output',
  ARTIFACT_NOT_LISTED: 'untrusted',
  ARTIFACT_MISSING: 'untrusted',
  HASH_MISMATCH: 'untrusted',
  HASH_UNSUPPORTED_ALGORITHM: 'untrusted',
  KEY_INVALID: 'bad-input',
  KEY_INSECURE_PERMISSIONS: 'bad-input',
  KEY_NOT_FOUND: 'untrusted',
  KEY_WEAK: 'untrusted',
  KEY_EXPIRED: 'untrusted',
  KEY_REVOKED: 'untrusted',
  KEY_NOT_YET_VALID: 'untrusted',
  KEY_WRONG_IMPLEMENTATION: 'untrusted',
  KEY_UNCERTIFIED: 'untrusted',
  KEY_CERTIFIED_BY_UNTRUSTED: 'untrusted',
  KEY_CERTIFIER_UNKNOWN: 'untrusted',
  KEY_CERTIFIER_INVALID: 'untrusted',
  KEY_READABLE_BY_TASK_USER: 'untrusted',
  TRUST_UNKNOWN_IMPLEMENTATION: 'usage',
  REPO_NO_SIGNED_TAG: 'untrusted',
  REPO_TAG_NOT_HEAD: 'untrusted',
  REPO_GIT_FAILED: 'bad-input',
  KEY_REPO_INVALID: 'bad-input',
  KEYS_CHECK_ERRORS: 'untrusted',
  KEYS_CHECK_WARNINGS: 'warning',
  SIGNATURE_MISSING: 'untrusted',
  SIGNATURE_MALFORMED: 'untrusted',
  SIGNATURE_INVALID: 'untrusted',
  SIGNATURE_WEAK_HASH: 'untrusted',
  SIGNATURE_FROM_FUTURE: 'untrusted',
  SIGNATURE_BEFORE_TASK: 'untrusted',
  SIGNATURE_KIND_REFUSED: 'untrusted',
  SIGNATURE_HASH_HEADER_MISMATCH: 'untrusted',
  SIGNING_FAILED: 'output',
  SIGNING_LINE_TOO_LONG: 'output',
  LINK_ID_MISMATCH: 'untrusted',
  QUEUE_NOT_FOUND: 'bad-input',
  QUEUE_REQUEST_REFUSED: 'bad-input',
  TRANSPORT_HTTP: 'transient',
  TRANSPORT_NETWORK: 'transient',
  TRANSPORT_TOO_LARGE: 'untrusted',
  TRANSPORT_REDIRECT_REFUSED: 'untrusted',
  TRANSPORT_AUTH: 'bad-input',
  TRANSPORT_CONFLICT: 'output',
  FETCH_INCOMPLETE: 'untrusted',
  TRANSPORT_LIST_TOO_LONG: 'transient',
  POLICY_INVALID: 'bad-input',
  CHAIN_VERIFICATION_FAILED: 'untrusted',
  CHAIN_COT_MISSING: 'untrusted',
  CHAIN_CYCLE: 'untrusted',
  CHAIN_TOO_DEEP: 'untrusted',
  CHAIN_TOO_MANY_TASKS: 'untrusted',
  CHAIN_UNKNOWN_WORKER_TYPE: 'untrusted',
  CHAIN_TASK_MISMATCH: 'untrusted',
  CHAIN_DECISION_WORKER_TYPE: 'untrusted',
  CHAIN_NOT_IN_TASK_GRAPH: 'untrusted',
  CHAIN_TASK_GRAPH_MISMATCH: 'untrusted',
  CHAIN_IMAGE_HASH_MISMATCH: 'untrusted',
  CHAIN_PARENT_INVALID: 'untrusted',
  CHAIN_NO_DECISION: 'untrusted',
  CHAIN_UPSTREAM_INVALID: 'untrusted',
  CHAIN_RUN_AMBIGUOUS: 'untrusted',
  CHAIN_PREBUILT_IMAGE: 'untrusted',
  CHAIN_INTERACTIVE_TASK: 'untrusted',
  INTERNAL: 'internal',
  TREE_FILE_MISSING: 'bad-input',
  TREE_FILE_INVALID: 'bad-input',
  TREE_TEMPLATE_INVALID: 'bad-input',
  TREE_RENDER_FAILED: 'bad-input',
  TREE_RENDER_LIMIT: 'bad-input',
  TREE_TASKS_FOR_UNKNOWN: 'bad-input',
  TREE_TASK_INVALID: 'untrusted',
  TREE_PROJECT_UNKNOWN: 'untrusted',
  TREE_COMMIT_MESSAGE_INVALID: 'untrusted',
  TREE_ACTION_UNKNOWN: 'untrusted',
  TREE_ACTION_KIND_INVALID: 'untrusted',
  TREE_ACTION_TASK_GROUP_INVALID: 'untrusted',
  TREE_TASK_MISMATCH: 'untrusted',
  TREE_ENV_PREFIX_UNKNOWN: 'bad-input',
  TREE_GITHUB_LOOKUP_FAILED: 'bad-input',
  TREE_FETCH_FAILED: 'transient',
  TREE_HOST_REFUSED: 'untrusted',
  TREE_NOT_TRACED: 'bad-input',
  TREE_SOURCE_MISMATCH: 'untrusted',
  TREE_REPOSITORY_MISMATCH: 'untrusted',
  TREE_REPOSITORY_UNTRUSTED: 'untrusted',
  TREE_SCOPE_NOT_ALLOWED: 'untrusted',
  TREE_TRY_RESTRICTED: 'untrusted',
  TREE_KIND_NOT_SCRIPTWORKER: 'untrusted',
  ATTEST_NO_SUBJECT: 'usage',
  ATTEST_KEY_REFUSED: 'bad-input',
  ATTESTATION_INVALID: 'bad-input',
  ATTESTATION_SIGNATURE_INVALID: 'untrusted',
  ATTESTATION_PAYLOAD_TYPE: 'untrusted',
  ATTESTATION_SUBJECT_MISMATCH: 'untrusted',
  ATTESTATION_FAILED: 'untrusted',
} as const satisfies Record<ErrorCode, FailureKind>;

/** The kind of a failure code (FAILURE_KIND). */
export function failureKind(code: ErrorCode): FailureKind {
  return FAILURE_KIND[code];
}

/** True for the codes of a failed trust check (kind `untrusted`): a chain with one is not to be shipped. */
export function isTrustFailure(code: ErrorCode): boolean {
  return FAILURE_KIND[code] === 'untrusted';
}

/** A failure among several (a chain's, a mirror's): only its code matters here. */
export interface CodedFailure {
  code: ErrorCode;
}

/** The verdict of a run that collected several failures, and which failure decides it. */
export interface FailureOutcome<F extends CodedFailure> {
  /** the verdict's code: `trustCode` when a trust check failed, else the deciding failure's own code */
  code: ErrorCode;
  kind: FailureKind;
  /** the failure that decides the verdict (the first of its kind, in the order given) */
  deciding: F;
}

/**
 * The one rule for a run that collects failures instead of stopping at the first (`verifyChain`, `fetchChain`,
 * the demo), given its failures in their deterministic order (a chain: breadth first from the task, then by taskId):
 *   1. any trust failure (kind `untrusted`): `trustCode` (CHAIN_VERIFICATION_FAILED, FETCH_INCOMPLETE), whatever
 *      else failed; the first such failure decides;
 *   2. else the first failure a retry cannot fix (a malformed id, a task or artifact that does not exist or has
 *      expired, a store folder that does not exist...): its own code;
 *   3. else every failure is one a retry may fix (kind `transient`): the first one's code.
 * Returns undefined when there is no failure. `cot verify` and `cot fetch` exit with the verdict code's exit code.
 */
export function failureOutcome<F extends CodedFailure>(
  failures: readonly F[],
  trustCode: ErrorCode,
): FailureOutcome<F> | undefined {
  const trust = failures.find((f) => isTrustFailure(f.code));
  if (trust) return { code: trustCode, kind: failureKind(trustCode), deciding: trust };
  const permanent = failures.find((f) => failureKind(f.code) !== 'transient');
  const deciding = permanent ?? failures[0];
  if (!deciding) return undefined;
  return { code: deciding.code, kind: failureKind(deciding.code), deciding };
}
