/**
 * Every failure the library reports is a CotError with a stable, SCREAMING_SNAKE code.
 * Codes are a public contract (documented in the README); messages are for people.
 * Foreign errors (openpgp, fs, crypto) are converted at the boundary and kept as `cause`.
 */

export const ERROR_CODES = {
  // usage and local input
  USAGE: 'bad command-line usage',
  OPTIONS_INVALID:
    'a library function was called with missing or wrong options (the message names the option and what it takes)',
  FILE_NOT_FOUND: 'an input file or directory does not exist',
  FILE_UNREADABLE: 'an input file could not be read',
  OUTPUT_FAILED: 'an output file could not be written (nothing was left half-written)',
  OUTPUT_UNSAFE_FOLDER:
    'the output folder (or its logs/ subfolder) is a symlink or not a folder, or was reached outside the task folder it must lie in: nothing was written there',
  // outputs that would replace what the tool does not own (issue 10, §1)
  FILE_EXISTS:
    'an output would replace a file the tool does not own (a key, or anything it did not write itself): nothing was written; the force option replaces it where a command offers it',
  FILE_IS_DIRECTORY: 'a path given for a file to write is a folder: nothing was written',
  FILE_NOT_DIRECTORY:
    'a path given for a folder to write in is a file (or another non-folder): nothing was written',
  // JSON and the document
  JSON_INVALID: 'bytes are not valid strict JSON (syntax, duplicate key, depth or size bound)',
  JSON_NUMBER_UNREPRESENTABLE:
    'a number cannot be carried exactly (unsafe integer, or a float with an integral value)',
  DOCUMENT_INVALID: 'the chain-of-trust document does not satisfy schema v1 (every bad field path is listed)',
  DOCUMENT_UNSUPPORTED_VERSION: 'chainOfTrustVersion is not 1',
  // artifacts and hashing
  ARTIFACT_NAME_INVALID:
    'an artifact name is empty, absolute, or contains "..", a backslash, NUL or an empty segment',
  ARTIFACT_UNSAFE_FILE:
    'an artifact (or the certified log) is a symlink, was opened outside the folder it must lie in, or is a socket, FIFO, device or folder',
  ARTIFACT_RESERVED_NAME: "an artifact claims one of the chain-of-trust document's own names",
  ARTIFACT_DUPLICATE_NAME: 'two artifacts were given the same name',
  ARTIFACT_CHANGED:
    'an artifact changed between hashing and upload: the upload was stopped before the document',
  ARTIFACT_NOT_LISTED: 'a consumed artifact is not listed in the signed document',
  ARTIFACT_MISSING: 'an artifact listed in the document (and required) is absent',
  HASH_MISMATCH: 'artifact bytes do not hash to the value the signed document lists',
  HASH_UNSUPPORTED_ALGORITHM: 'the document lists only hash algorithms this verifier does not accept',
  // keys
  KEY_INVALID: 'a key file could not be parsed as the expected key type',
  KEY_INSECURE_PERMISSIONS:
    'a private key file is accessible by group/others or not owned by the running user',
  KEY_NOT_FOUND: 'no allowed key matches the signature',
  KEY_WEAK: 'the key uses refused material (DSA, ElGamal, RSA under 2048 bits)',
  KEY_EXPIRED: 'the key had expired when the signature was made',
  KEY_REVOKED: 'the key is revoked',
  KEY_NOT_YET_VALID: 'the key was created after the signature',
  KEY_WRONG_IMPLEMENTATION: 'the signing key belongs to another worker implementation than the link',
  KEY_UNCERTIFIED: 'a key that needs a certification by a trusted root has none',
  KEY_CERTIFIED_BY_UNTRUSTED: 'a key is certified only by other worker keys, not by a trusted root',
  KEY_CERTIFIER_UNKNOWN: 'a key is certified only by keys that are not trusted roots',
  KEY_CERTIFIER_INVALID:
    'no certification by a trusted root counts: the root was not valid (expired, revoked, not yet created) when it certified, or the certification had expired when the document was signed',
  KEY_READABLE_BY_TASK_USER: 'the signing key can be read by the task user, so tasks could forge signatures',
  TRUST_UNKNOWN_IMPLEMENTATION: 'the trust store has no keys for this worker implementation',
  REPO_NO_SIGNED_TAG:
    'the key repository has no tag, or its newest tag is not signed by an allowed git signer',
  REPO_TAG_NOT_HEAD: "the key repository's newest tag does not point at the checked-out commit",
  REPO_GIT_FAILED: 'git could not be run on the key repository',
  KEY_REPO_INVALID:
    'a folder given as a key repository is not one: no implementation folder, or an implementation folder itself (trusted/, valid/ at its top)',
  KEYS_CHECK_ERRORS: 'the key repository lint found errors',
  KEYS_CHECK_WARNINGS: 'the key repository lint found warnings only',
  // signatures
  SIGNATURE_MISSING: 'no signature was found where one is required',
  SIGNATURE_MALFORMED:
    'the signature or its cleartext framing is malformed (including more than 8 signature packets, or one signer twice)',
  SIGNATURE_INVALID: 'the signature does not verify over the signed bytes',
  SIGNATURE_WEAK_HASH: 'the signature uses a refused hash algorithm (e.g. SHA-1)',
  SIGNATURE_FROM_FUTURE: 'the signature creation time is later than the reference time plus the allowed skew',
  SIGNATURE_BEFORE_TASK:
    "the signature is dated before the task's created time minus the allowed skew (a worker cannot sign a task that did not exist yet)",
  SIGNATURE_KIND_REFUSED:
    'the signature is of a kind the caller does not accept (e.g. OpenPGP where only raw ed25519 is allowed)',
  SIGNATURE_HASH_HEADER_MISMATCH: 'the cleartext Hash: header disagrees with the signature',
  SIGNING_FAILED: 'a signature could not be produced',
  SIGNING_LINE_TOO_LONG:
    'a line of the document is longer than GnuPG can verify in a cleartext signature (19,998 characters)',
  // identity of the link
  LINK_ID_MISMATCH:
    'taskId, runId, workerGroup or workerId in the signed document differs from the expected value',
  QUEUE_NOT_FOUND:
    'the task, run or artifact does not exist in the queue (404), has expired (410) or is an error artifact (424): a retry cannot fix it',
  QUEUE_REQUEST_REFUSED:
    'the queue or storage refused the request itself (a 4xx status other than 401, 403, 404, 409, 410 and 424): a retry cannot fix it',
  TRANSPORT_HTTP:
    'the queue or storage answered 5xx, 408 or 429 (after bounded retries), or a response cot cannot use',
  TRANSPORT_NETWORK: 'the connection failed, was reset or timed out (after bounded retries)',
  TRANSPORT_TOO_LARGE: 'a download exceeded its byte limit or its declared length',
  TRANSPORT_REDIRECT_REFUSED:
    'a redirect to a host that is not allowed, a redirect loop, or too many redirects',
  TRANSPORT_AUTH: 'the queue refused the credentials, or their absence (401/403)',
  TRANSPORT_CONFLICT: 'the artifact already exists with different content (409)',
  FETCH_INCOMPLETE:
    'cot fetch could not mirror everything the chain needs (bounds, missing or unsigned artifacts); the mirror keeps what it got',
  TRANSPORT_LIST_TOO_LONG:
    "the queue's artifact listing exceeded its bounds (pages, entries or time), or repeated a continuation token",
  POLICY_INVALID: 'the policy file is not valid (unknown keys are named, with a hint)',
  CHAIN_VERIFICATION_FAILED:
    'the chain did not verify: at least one link failed (each failure has its own code)',
  CHAIN_COT_MISSING: 'a task of the chain has no chain-of-trust files in the format the policy requires',
  CHAIN_CYCLE: 'the upstream links of the chain form a cycle',
  CHAIN_TOO_DEEP: 'the chain is deeper than the policy allows',
  CHAIN_TOO_MANY_TASKS: 'the chain has more tasks than the policy allows',
  CHAIN_UNKNOWN_WORKER_TYPE: "the policy maps no worker implementation to the task's worker type",
  CHAIN_TASK_MISMATCH:
    "the task definition in the signed document differs from the queue's (a diff is shown)",
  CHAIN_DECISION_WORKER_TYPE:
    'a decision or action task ran on a worker type the policy does not allow for them',
  CHAIN_NOT_IN_TASK_GRAPH: "a task is missing from its decision task's task-graph.json",
  CHAIN_TASK_GRAPH_MISMATCH: "a task differs from its entry in the decision task's task-graph.json",
  CHAIN_IMAGE_HASH_MISMATCH:
    "a task's imageArtifactHash differs from the image in the docker-image task's document",
  CHAIN_PARENT_INVALID:
    'a task does not trace to a verified decision or action task (it is its own parent off a decision worker type, names no valid parent, or its parent did not verify)',
  CHAIN_NO_DECISION: 'the chain reaches no verified decision task',
  CHAIN_UPSTREAM_INVALID:
    'an upstreamArtifacts entry or chain-of-trust input names no valid task id, or a path that is not a relative artifact name',
  CHAIN_RUN_AMBIGUOUS:
    'consumers of one task could only have used different runs of it (cot verifies one run per task)',
  CHAIN_PREBUILT_IMAGE:
    'a task runs a prebuilt or indexed docker image where the policy does not allow it (task kind, restricted scope)',
  CHAIN_INTERACTIVE_TASK:
    'an interactive task (a person could have changed its outputs) is part of the chain',
  // rebuilding a decision, cron or action task from its tree (src/tree/)
  TREE_FILE_MISSING:
    "a file the rebuild of a parent task needs (`.taskcluster.yml`, `pushlog.json`, `projects.yml`, `actions.json`, `parameters.yml`) is absent from the tree, or an action's decision task artifact from the queue (the file or URL is named)",
  TREE_FILE_INVALID:
    'a tree file is not valid YAML or JSON, is over its size bound, or lacks what the rebuild reads (the file and the field are named)',
  TREE_TEMPLATE_INVALID:
    'the in-tree template is over its size bound, not YAML, not a mapping, or renders no `tasks` list',
  TREE_RENDER_FAILED:
    'JSON-e cannot render the in-tree template (or an action hook payload) with the context (the JSON-e error is quoted)',
  TREE_RENDER_LIMIT: 'a JSON-e render was stopped at its bound: its deadline, its memory or its result size',
  TREE_TASKS_FOR_UNKNOWN:
    "the parent task's `extra.tasks_for` is missing, not one cot can rebuild (hg-push, cron, action, github-push, github-pull-request, github-pull-request-untrusted, github-release, pr-action), or not one its repository (hg or GitHub) has",
  TREE_TASK_INVALID:
    'the parent or decision task lacks a field the rebuild needs or holds one of the wrong type (the field is named)',
  TREE_PROJECT_UNKNOWN:
    "the decision task's repository is not a project of `projects.yml` (or that project names another repository, or has no level)",
  TREE_COMMIT_MESSAGE_INVALID:
    'the decision task\'s commit message is neither " " nor the `try:` line of the push comment',
  TREE_ACTION_UNKNOWN: "no action of the decision task's `actions.json` has the action task's callback",
  TREE_ACTION_KIND_INVALID: 'the action the callback names is not a hook action',
  TREE_ACTION_TASK_GROUP_INVALID:
    "the rebuilt action's ACTION_TASK_GROUP_ID is neither the action's taskId nor its decision task's",
  TREE_TASK_MISMATCH:
    'the parent task matches no task its in-tree template renders (the differing paths of the closest one are shown)',
  TREE_ENV_PREFIX_UNKNOWN:
    "the prefix of the decision task's repository variables (`<PREFIX>_HEAD_REPOSITORY`) is not given and cannot be told from its env: none, or several that hold its `metadata.source` (the candidates are named)",
  TREE_GITHUB_LOOKUP_FAILED:
    'a GitHub lookup a context needs (commit, pull request, release) has no answer: its file is absent from the tree, or the API answered 404 (the lookup and the file or URL are named)',
  TREE_FETCH_FAILED:
    'a tree file or GitHub answer could not be fetched from the repository host (network, HTTP error status, refused credentials; the URL is named)',
  TREE_HOST_REFUSED:
    "a tree URL (from the task's repository, or a redirect) names a host the allowed tree hosts do not list, or is not https (the URL and the allowed hosts are named)",
  TREE_NOT_TRACED:
    "the policy's `tree` section requires every decision, cron and action task to be traced, and there is no tree material for one (its repository and revision are named)",
  TREE_SOURCE_MISMATCH:
    "a task's `metadata.source` is not in the repository its `<PREFIX>_HEAD_REPOSITORY` names",
  TREE_REPOSITORY_MISMATCH: 'tasks of one decision task come from different repositories',
  TREE_REPOSITORY_UNTRUSTED:
    'a task holds a restricted scope and a task of its chain (from another decision task) comes from no trusted repository',
  TREE_SCOPE_NOT_ALLOWED:
    'the verified task holds a restricted scope its repository is not allowed (the scope, its level and the repositories that level allows are named)',
  TREE_TRY_RESTRICTED:
    'the verified task holds a restricted scope and a task of its chain is a try push or a pull request',
  TREE_KIND_NOT_SCRIPTWORKER:
    'a task of a kind that must run on scriptworker (signing, beetmover, balrog...) ran on another worker implementation',
  // attestations (SLSA provenance, verification summaries: src/attest)
  ATTEST_NO_SUBJECT:
    "no attestation subject: the root task's own chain-of-trust document was not verified (the policy's verifyRootTask is false, or it failed), so its artifacts have no signed digests",
  ATTEST_KEY_REFUSED:
    'the attestation signing key is refused: not an ed25519 private key, or a worker key the policy trusts (attestations are signed by the verifier, never by a worker)',
  ATTESTATION_INVALID:
    'an attestation file is not a DSSE envelope or Sigstore bundle, or its statement breaks the in-toto Statement v1 / SLSA predicate field definitions (the field is named)',
  ATTESTATION_SIGNATURE_INVALID: "no signature of the attestation's envelope verifies with the key given",
  ATTESTATION_PAYLOAD_TYPE:
    'the envelope is genuine but its payload type is not application/vnd.in-toto+json (it is no in-toto statement)',
  ATTESTATION_SUBJECT_MISMATCH:
    "a file given to check is not a subject of the attestation: its name is not listed, or its bytes' digest differs",
  ATTESTATION_FAILED: 'a genuine verification summary says the verification FAILED',
  INTERNAL: 'an unexpected internal error (a bug: please report it)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A field-level problem in a document, reported all at once. */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * The shape of `details` per code, for the codes whose raising sites give structured details (machine-readable;
 * `toJSON` spreads them next to `code` and `message`, as the `--json` error envelope shows). Every field is optional
 * on the error (`CotError<C>['details']` is `Partial<ErrorDetails[C]>`): a site with nothing to add leaves `{}`.
 * Codes not listed here carry a free-form `Record<string, unknown>` (often an inner error's details, kept when it is
 * re-raised with more context). `options` (any code): the caller's options the message names as `` `name` ``
 * (optionRef), which the command line shows as its flags.
 */
export interface ErrorDetails {
  OPTIONS_INVALID: {
    /** the library function called (optionError) */
    function: string;
    /** the option, as a path into the call (`options.out`, `taskId`) */
    option: string;
    options: string[];
    /** two paths that name one file or folder (assertDistinctOutputs, assertSeparateFolders) */
    path: string;
    conflictsWith: string;
  };
  FILE_UNREADABLE: { path: string; reason: 'directory' | 'not-a-regular-file' };
  FILE_EXISTS: { path: string; entries: string[]; options: string[] };
  FILE_IS_DIRECTORY: { path: string };
  OUTPUT_FAILED: { path: string };
  /** `opened`: the real path reached; `within`: the real folder it had to lie in */
  OUTPUT_UNSAFE_FOLDER: { path: string; opened: string; within: string };
  /** `within`: the real folder (or folders) the file had to lie in */
  ARTIFACT_UNSAFE_FILE: { path: string; opened: string; within: string | readonly string[] };
  /** where strict parsing stopped: `offset` in UTF-16 code units, `line` and `column` 1-based */
  JSON_INVALID: { offset: number; line: number; column: number };
  JSON_NUMBER_UNREPRESENTABLE: { offset: number; line: number; column: number };
  /** `problems`: every bad field; `fields`: additional-data fields a task may not set */
  DOCUMENT_INVALID: { problems: FieldProblem[]; fields: string[] };
  DOCUMENT_UNSUPPORTED_VERSION: { problems: FieldProblem[] };
  /** `leftovers`: the reserved names found among the artifacts, at `paths` */
  ARTIFACT_RESERVED_NAME: { leftovers: string[]; paths: string[]; options: string[] };
  /** sha256 hex digests: the one hashed, the one found at upload */
  ARTIFACT_CHANGED: { artifact: string; expected: string; found: string };
  /** `listedAs`: listed names ending with `/artifact`; `missingPrefix`: a folder prefix none of the given names have */
  ARTIFACT_NOT_LISTED: { artifact: string; listedAs: string[]; missingPrefix: string; artifacts: string[] };
  /** the listed artifacts that were not given */
  ARTIFACT_MISSING: { missing: string[] };
  /** hex digests of `algorithm` (IntegrityError) */
  HASH_MISMATCH: { artifact: string; algorithm: string; expected: string; found: string };
  HASH_UNSUPPORTED_ALGORITHM: { artifact: string };
  /** `mode`: octal permission bits; `uid`: the file's owner */
  KEY_INSECURE_PERMISSIONS: { path: string; mode: string; uid: number; options: string[] };
  /** `keyId`: the signature's issuer key id (hex, upper case) */
  KEY_NOT_FOUND: { keyId: string };
  /** times ISO 8601; `hard`: a revocation with no reason or a compromise reason (valid whatever the time) */
  KEY_REVOKED: { fingerprint: string; revokedAt: string; hard: boolean };
  SIGNATURE_MALFORMED: {
    reason: 'too-many-signatures' | 'duplicate-signature';
    packets: number;
    keyId: string;
    options: string[];
  };
  /** ed25519 keys (base64) that were tried */
  SIGNATURE_INVALID: { triedKeys: string[] };
  /** times ISO 8601 */
  SIGNATURE_BEFORE_TASK: { signedAt: string; taskCreated: string };
  SIGNATURE_KIND_REFUSED: { kind: string; allowedKinds: string[] };
  /** the line (1-based) and its length in characters, over `limit` (GNUPG_MAX_CLEARTEXT_LINE) */
  SIGNING_LINE_TOO_LONG: { line: number; length: number; limit: number; options: string[] };
  /** one sentence per differing field (`taskId is "x", expected "y"`) */
  LINK_ID_MISMATCH: { mismatches: string[] };
  /** one sentence per problem */
  POLICY_INVALID: { problems: string[] };
  /** the run each consumer could have used */
  CHAIN_RUN_AMBIGUOUS: { runs: { consumer: string; runId: number }[] };
  /** the bound in bytes, or the declared Content-Length that was exceeded */
  TRANSPORT_TOO_LARGE: { maxBytes: number; declared: number };
  TRANSPORT_LIST_TOO_LONG: {
    maxListPages: number;
    maxListEntries: number;
    listDeadlineMs: number;
    entries: number;
  };
  /** the findings of the lint (trust/lint.ts LintFinding) */
  KEYS_CHECK_ERRORS: { findings: readonly unknown[] };
  KEYS_CHECK_WARNINGS: { findings: readonly unknown[] };
}

/** The type of `details` for code `C`: its ErrorDetails shape (every field optional), else a free-form record. */
export type DetailsOf<C extends ErrorCode> = [C] extends [keyof ErrorDetails]
  ? Partial<ErrorDetails[C]> & { options?: string[] }
  : Record<string, unknown>;

export interface CotErrorOptions<C extends ErrorCode = ErrorCode> {
  cause?: unknown;
  /** Extra structured detail (field paths, expected/found digests, ...), machine-readable: see ErrorDetails. */
  details?: DetailsOf<C>;
}

class CotErrorClass extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: CotErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

/**
 * A coded error. `CotError<C>` has `code: C` and `details: DetailsOf<C>`: `new CotError('HASH_MISMATCH', m,
 * { details })` checks `details` against ErrorDetails.HASH_MISMATCH at compile time. `CotError` alone is any code
 * (`details` a free-form record); `e instanceof CotError` narrows to it. A subclass names its codes:
 * `class MyError extends CotError<'KEY_INVALID'>` (or `CotError<ErrorCode>`).
 */
export interface CotError<C extends ErrorCode = ErrorCode> extends CotErrorClass {
  readonly code: C;
  readonly details: DetailsOf<C>;
}

interface CotErrorConstructor {
  new <C extends ErrorCode>(code: C, message: string, options?: CotErrorOptions<C>): CotError<C>;
  readonly prototype: CotError;
}

export const CotError: CotErrorConstructor = CotErrorClass as unknown as CotErrorConstructor;

/**
 * How a library message names one of its caller's options: the option's name in backticks (`` `force` ``), never a
 * command-line flag. An error whose message does so lists those names in `details.options`; the command line shows
 * its flag in their place (`--force`) and drops `options` from the details it prints.
 */
export function optionRef(name: string): string {
  return `\`${name}\``;
}

export class DocumentError extends CotError<'DOCUMENT_INVALID' | 'DOCUMENT_UNSUPPORTED_VERSION'> {
  readonly problems: FieldProblem[];
  constructor(
    code: 'DOCUMENT_INVALID' | 'DOCUMENT_UNSUPPORTED_VERSION',
    message: string,
    problems: FieldProblem[],
  ) {
    super(code, message, { details: { problems } });
    this.problems = problems;
  }
}

export class IntegrityError extends CotError<'HASH_MISMATCH'> {
  constructor(
    message: string,
    readonly artifact: string,
    readonly algorithm: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super('HASH_MISMATCH', message, { details: { artifact, algorithm, expected, found } });
  }
}

export function isCotError(e: unknown): e is CotError {
  return e instanceof CotError;
}

/** Convert anything thrown by foreign code into a CotError, keeping it as the cause. */
export function toCotError(e: unknown, code: ErrorCode, message: string): CotError {
  if (e instanceof CotError) return e;
  const reason = e instanceof Error ? e.message : String(e);
  return new CotError(code, `${message}: ${reason}`, { cause: e });
}

/**
 * A coded error for a path that should be a regular file and is not (a directory, a FIFO, a device...):
 * FILE_UNREADABLE, saying what it is.
 */
export function notAFile(path: string, what: string, st: { isDirectory(): boolean }): CotError {
  const kind = st.isDirectory() ? 'a directory' : 'not a regular file';
  return new CotError(
    'FILE_UNREADABLE',
    `${what} ${path} is ${kind}${st.isDirectory() ? ', not a file' : ''}`,
    {
      details: { path, reason: st.isDirectory() ? 'directory' : 'not-a-regular-file' },
    },
  );
}

/** Convert an fs error for `path` to a coded error (ENOENT, ENOTDIR: FILE_NOT_FOUND; else FILE_UNREADABLE). */
export function fsError(e: unknown, path: string, action: string): CotError {
  if (e instanceof CotError) return e;
  const errno = (e as NodeJS.ErrnoException | undefined)?.code;
  if (errno === 'ENOENT')
    return new CotError('FILE_NOT_FOUND', `${action} ${path}: no such file or directory`, { cause: e });
  if (errno === 'EISDIR')
    return new CotError('FILE_UNREADABLE', `${action} ${path}: it is a directory, not a file`, {
      cause: e,
      details: { path, reason: 'directory' },
    });
  if (errno === 'ENOTDIR')
    return new CotError('FILE_NOT_FOUND', `${action} ${path}: a part of the path is not a directory`, {
      cause: e,
    });
  return toCotError(e, 'FILE_UNREADABLE', `${action} ${path}`);
}
