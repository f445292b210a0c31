// Public API of cot. Named exports only; everything else is internal.

export { chainEdges, type Edge } from './chain/edges.js';
export { renderChainHtml } from './chain/html.js';
export {
  implementationFor,
  type LoadedPolicy,
  loadPolicy,
  POLICY_SCHEMA,
  type Policy,
  toPolicy,
} from './chain/policy.js';
export { type PolicyQueueOptions, policyQueueOptions } from './chain/queue-options.js';
export { chainReportJson, JSON_SCHEMA_VERSION, renderChainText } from './chain/report.js';
export {
  type ChainError,
  type ChainLink,
  type ChainReport,
  type JsonDifference,
  jsonDifferences,
  showDifference,
  type VerifyChainOptions,
  verifyChain,
} from './chain/verify-chain.js';
export {
  type GenerateOptions,
  type GenerateResult,
  type GenerateWarning,
  generateChainOfTrust,
  type SignatureFormat,
  type StagedFile,
  type WrittenFile,
} from './cot/generate.js';
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
export { type DemoOptions, type DemoResult, runDemo, slugid } from './demo/demo.js';
export { mergeAdditionalData } from './document/additional-data.js';
export {
  type ArtifactDigests,
  assertCotDocument,
  type BuildDocumentInput,
  buildDocument,
  type CotDocument,
  type TaskDefinition,
} from './document/document.js';
export {
  ADDITIONAL_DATA_FILE,
  CERTIFIED_LOG_NAME,
  COT_ARTIFACT_NAMES,
  COT_FILE_NAMES,
  isChainOfTrustFile,
  RESERVED_ARTIFACT_NAMES,
} from './document/names.js';
export { COT_V1_SCHEMA, HASH_ALGORITHMS, type HashAlgorithm, SLUGID_PATTERN } from './document/schema.js';
export {
  CotError,
  type DetailsOf,
  DocumentError,
  ERROR_CODES,
  type ErrorCode,
  type ErrorDetails,
  type FieldProblem,
  fsError,
  IntegrityError,
  isCotError,
  notAFile,
} from './errors.js';
export {
  type CodedFailure,
  EXIT,
  EXIT_CODE_FOR,
  type ExitCode,
  exitCodeFor,
  type FailureOutcome,
  failureOutcome,
} from './exit-codes.js';
export {
  type ArtifactSource,
  assertArtifactName,
  enumerateArtifactDir,
  type HashedArtifact,
  hashArtifacts,
  parseArtifactPair,
  toArtifactDigests,
} from './hashing/artifacts.js';
export {
  type DigestCopy,
  type DigestFileOptions,
  digestBytes,
  digestFile,
  type FileDigest,
} from './hashing/digest.js';
export { canonicalBytes, canonicalize } from './json/canonical.js';
export {
  type JsonObject,
  type JsonValue,
  type ParseJsonOptions,
  parseJson,
  parseJsonBytes,
} from './json/parse.js';
export { type GeneratedKeyPair, type GenerateKeyPairOptions, generateKeyPair } from './keys/generate.js';
export {
  checkPrivateKeyPermissions,
  describeKey,
  type LoadPrivateKeyOptions,
  loadSigningKey,
  loadVerificationKeys,
  parseVerificationKeys,
  type SigningKey,
  type VerificationKey,
} from './keys/keys.js';
export {
  type FetchedTask,
  type FetchOptions,
  type FetchResult,
  fetchChain,
  upstreamOf,
} from './mirror/fetch.js';
export { GNUPG_MAX_CLEARTEXT_LINE } from './pgp/cleartext.js';
export type { PgpSigner } from './pgp/openpgp.js';
export { uploadContentType } from './transport/content-type.js';
export { DirectoryQueue } from './transport/dir-store.js';
export { type DownloadedArtifact, type DownloadOptions, downloadArtifact } from './transport/download.js';
export {
  DEFAULT_DEADLINE_MS,
  DEFAULT_MIN_BYTES_PER_SECOND,
  DEFAULT_RATE_WINDOW_MS,
  type HttpBody,
  type HttpGetOptions,
  httpGet,
  httpPutFile,
  redactUrl,
} from './transport/http.js';
export type {
  ArtifactInfo,
  CreateArtifactInput,
  DownloadLimits,
  OpenedArtifact,
  TaskQueue,
} from './transport/queue.js';
export {
  type Fault,
  FaultPlan,
  type FaultTarget,
  type QueueServer,
  type QueueServerOptions,
  startQueueServer,
} from './transport/server.js';
export {
  QUEUE_API_DEFAULTS,
  TaskclusterQueue,
  type TaskclusterQueueOptions,
} from './transport/taskcluster.js';
export {
  type UploadedFile,
  type UploadFile,
  type UploadOptions,
  uploadArtifacts,
} from './transport/upload.js';
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
  SHARED_KEY_IMPLEMENTATIONS,
} from './trust/lint.js';
export {
  addEd25519TrustFile,
  type CertificationResult,
  candidateKeys,
  emptyTrustStore,
  getImplementation,
  type ImplementationKeys,
  type KeyCache,
  type KeyFileEntry,
  type KeyRole,
  type LoadKeyRepoOptions,
  loadKeyRepo,
  mergedImplementation,
  newKeyCache,
  resolveCertification,
  type TrustStore,
} from './trust/store.js';
export {
  type LinkTrust,
  type VerifiedTrustedSignature,
  type VerifyTrustedInput,
  verifySignatureTrusted,
} from './trust/verify.js';
export { descriptorPath } from './util/fs-paths.js';
export { type OpenRegularOptions, openRegularFile } from './util/read.js';
export { createStagingDir, type StagingDir } from './util/staging.js';
export { escapeControls, terminalSafe } from './util/terminal.js';
export {
  type CollectEnvironmentOptions,
  collectEc2Environment,
  collectEnvironment,
  collectGcpEnvironment,
  type EnvironmentSource,
} from './worker/environment.js';
export {
  readAdditionalData,
  type WorkerChainOfTrustOptions,
  type WorkerChainOfTrustResult,
  workerChainOfTrust,
} from './worker/worker.js';
