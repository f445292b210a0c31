import type { ErrorCode } from './errors.js';

/**
 * Exit codes of the `cot` command. One table, checked for exhaustiveness by the compiler.
 *   0  success (verified / done)
 *   1  verification failure: the material is not trustworthy (signature, key, hash, identity)
 *   2  usage error
 *   3  reserved for transport failures (network, queue), possibly transient
 *   4  malformed input: unreadable or invalid files, JSON, chain-of-trust documents, keys, artifact names
 *      (any non-zero exit of a verify command means: NOT verified)
 *   5  local output or signing failure
 *  70  internal error (a bug)
 */
export const EXIT = {
  OK: 0,
  VERIFY_FAILED: 1,
  USAGE: 2,
  TRANSPORT: 3,
  BAD_INPUT: 4,
  OUTPUT: 5,
  INTERNAL: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODE_FOR = {
  USAGE: EXIT.USAGE,
  FILE_NOT_FOUND: EXIT.BAD_INPUT,
  FILE_UNREADABLE: EXIT.BAD_INPUT,
  OUTPUT_FAILED: EXIT.OUTPUT,
  JSON_INVALID: EXIT.BAD_INPUT,
  JSON_NUMBER_UNREPRESENTABLE: EXIT.BAD_INPUT,
  DOCUMENT_INVALID: EXIT.BAD_INPUT,
  DOCUMENT_UNSUPPORTED_VERSION: EXIT.BAD_INPUT,
  ARTIFACT_NAME_INVALID: EXIT.BAD_INPUT,
  ARTIFACT_UNSAFE_FILE: EXIT.BAD_INPUT,
  ARTIFACT_RESERVED_NAME: EXIT.BAD_INPUT,
  ARTIFACT_DUPLICATE_NAME: EXIT.BAD_INPUT,
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
  SIGNATURE_MISSING: EXIT.VERIFY_FAILED,
  SIGNATURE_MALFORMED: EXIT.VERIFY_FAILED,
  SIGNATURE_INVALID: EXIT.VERIFY_FAILED,
  SIGNATURE_WEAK_HASH: EXIT.VERIFY_FAILED,
  SIGNATURE_FROM_FUTURE: EXIT.VERIFY_FAILED,
  SIGNATURE_HASH_HEADER_MISMATCH: EXIT.VERIFY_FAILED,
  SIGNING_FAILED: EXIT.OUTPUT,
  LINK_ID_MISMATCH: EXIT.VERIFY_FAILED,
  INTERNAL: EXIT.INTERNAL,
} as const satisfies Record<ErrorCode, ExitCode>;

export function exitCodeFor(code: ErrorCode): ExitCode {
  return EXIT_CODE_FOR[code];
}
