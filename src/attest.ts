// The attestation entry of chain-of-trust (`import ... from 'chain-of-trust/attest'`): what a verified chain proves,
// in the formats the rest of the supply chain reads. In-toto Statement v1 with a SLSA Provenance v1
// (`buildProvenance`) or Verification Summary v1 (`buildVerificationSummary`) predicate, built from a ChainReport
// (the main entry's `verifyChain`); signed as a DSSE envelope with the verifier's ed25519 key and wrapped in a
// Sigstore bundle v0.3 (`signStatement`); checked offline (`verifyAttestation`, through @sigstore/verify for bundles).

export {
  isSigstoreBundle,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  toSigstoreBundle,
  verifySigstoreBundle,
} from './attest/bundle.js';
export {
  attestationKeyId,
  type DsseEnvelope,
  envelopeFromJson,
  IN_TOTO_PAYLOAD_TYPE,
  parseEnvelope,
  preAuthEncoding,
  signEnvelope,
  verifyEnvelope,
} from './attest/dsse.js';
export { type SignedAttestation, signStatement } from './attest/sign.js';
export {
  buildProvenance,
  buildVerificationSummary,
  COT_VERIFIER_ID,
  type InTotoStatement,
  PROVENANCE_PREDICATE_TYPE,
  type ProvenanceOptions,
  policyDigest,
  type ResourceDescriptor,
  type SourceTrace,
  STATEMENT_TYPE,
  sourceOf,
  TASKCLUSTER_BUILD_TYPE,
  TASKCLUSTER_BUILDER_PREFIX,
  taskUri,
  VERIFIED_LEVEL,
  type VerificationSummaryOptions,
  VSA_PREDICATE_TYPE,
  type VsaPolicy,
} from './attest/statement.js';
export {
  type AttestedArtifact,
  checkStatement,
  matchSubjects,
  type VerifiedAttestation,
  type VerifyAttestationOptions,
  verifyAttestation,
} from './attest/verify.js';
