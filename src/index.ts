// The main entry of chain-of-trust (`import ... from 'chain-of-trust'`): generate a chain-of-trust document, verify
// one link or a whole chain, the policy, the trust store and keys, documents, errors. Queues and transport are in
// `chain-of-trust/queue` (src/queue.ts), fault injection and the demo chain builder in `chain-of-trust/testing`
// (src/testing.ts). Named exports only; every other module is internal (package.json `exports` lists these three
// entries, so a deep import does not resolve). Exit codes belong to the command line (src/cli/exit-codes.ts); the
// library classifies failures by kind (src/failures.ts).

export { renderChainHtml } from './chain/html.js';
// policy
export { type LoadedPolicy, loadPolicy, type Policy, toPolicy } from './chain/policy.js';
export { chainReportJson, JSON_SCHEMA_VERSION, renderChainText, rootCause } from './chain/report.js';
export {
  type ChainError,
  type ChainLink,
  type ChainReport,
  type ChainTreeFetch,
  type LinkConsumed,
  type LinkDocument,
  type LinkImage,
  type LinkTree,
  type RootEvidence,
  type VerifyChainOptions,
  verifyChain,
} from './chain/verify-chain.js';
// generate
export {
  type GenerateOptions,
  type GenerateResult,
  type GenerateWarning,
  generateChainOfTrust,
  type SignatureFormat,
  type StagedFile,
  type WrittenFile,
} from './cot/generate.js';
// verify a link: the inputs as `cot verify-link` and `cot hash` read them
export {
  type ArtifactInputs,
  artifactsFromPaths,
  artifactsToVerify,
  type LinkFiles,
  readLinkFiles,
  signatureFormatFor,
} from './cot/inputs.js';
export { presentSigner, type SignerPresentation } from './cot/present-signer.js';
export {
  type CheckedArtifact,
  type Ed25519Signer,
  type ExpectedLink,
  type SignatureKind,
  type Signer,
  signatureKindOf,
  type VerifiedLink,
  type VerifiedSignature,
  type VerifyLinkInput,
  type VerifySignatureInput,
  verifyLink,
  verifySignature,
} from './cot/verify.js';
// documents
export {
  type ArtifactDigests,
  assertCotDocument,
  type BuildDocumentInput,
  buildDocument,
  type CotDocument,
  type TaskDefinition,
} from './document/document.js';
export type { HashAlgorithm } from './document/schema.js';
// errors
export {
  CotError,
  type CotErrorOptions,
  type DetailsOf,
  DocumentError,
  ERROR_CODES,
  type ErrorCode,
  type ErrorDetails,
  type FieldProblem,
  IntegrityError,
  isCotError,
} from './errors.js';
// verify a chain
export {
  type CodedFailure,
  type FailureKind,
  type FailureOutcome,
  failureKind,
  failureOutcome,
  isTrustFailure,
} from './failures.js';
export {
  type ArtifactSource,
  type HashArtifactsOptions,
  type HashedArtifact,
  hashArtifacts,
} from './hashing/artifacts.js';
export type { JsonObject, JsonValue } from './json/parse.js';
// keys
export { type GeneratedKeyPair, type GenerateKeyPairOptions, generateKeyPair } from './keys/generate.js';
export {
  type LoadPrivateKeyOptions,
  loadSigningKey,
  loadVerificationKeys,
  parseVerificationKeys,
  type SigningKey,
  type VerificationKey,
} from './keys/keys.js';
export type { PgpSigner } from './pgp/openpgp.js';
// key repository tools (`cot keys certify | list | check | verify-repo | guard`)
export { type CertifyOptions, type CertifyResult, certifyKeyFile } from './trust/certify.js';
export { type VerifiedRepoTag, verifyRepoTag } from './trust/git-repo.js';
export { type GuardOptions, type GuardResult, guardKey } from './trust/guard.js';
export {
  type CheckKeyRepoOptions,
  checkKeyRepo,
  type Finding,
  type KeyListing,
  type KeyRepoReport,
  listKeys,
} from './trust/lint.js';
// trust store
export {
  addEd25519TrustFile,
  emptyTrustStore,
  type ImplementationKeys,
  type KeyFileEntry,
  type KeyRole,
  type LoadKeyRepoOptions,
  loadKeyRepo,
  type TrustStore,
} from './trust/store.js';
export {
  type LinkTrust,
  type VerifiedTrustedSignature,
  type VerifyTrustedInput,
  verifySignatureTrusted,
} from './trust/verify.js';
// printing text that others chose (task and artifact names, error bodies) on a terminal
export { terminalSafe } from './util/terminal.js';
export type { EnvironmentSource } from './worker/environment.js';
export {
  type WorkerChainOfTrustOptions,
  type WorkerChainOfTrustResult,
  workerChainOfTrust,
} from './worker/worker.js';
