import type { KeyObject } from 'node:crypto';
import { CotError } from '../errors.js';
import { isJsonObject, type JsonObject, type JsonValue, parseJsonBytes } from '../json/parse.js';
import { isSigstoreBundle, verifySigstoreBundle } from './bundle.js';
import { attestationKeyId, envelopeFromJson, verifyEnvelope } from './dsse.js';
import {
  type InTotoStatement,
  PROVENANCE_PREDICATE_TYPE,
  type ResourceDescriptor,
  STATEMENT_TYPE,
  VSA_PREDICATE_TYPE,
} from './statement.js';

/** Hex lengths of the DigestSet algorithms whose form cot checks (in-toto digest_set.md); others: any hex. */
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128, sha1: 40, gitCommit: 40 };
/** RFC 3339 date-time in UTC with an upper-case Z (in-toto field_types.md Timestamp; SLSA timestamps). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
/** An absolute URI (RFC 3986 scheme, then anything but whitespace). */
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

/** The field problems of a statement and its predicate, collected (empty: well formed). */
class Shape {
  readonly problems: string[] = [];
  bad(path: string, what: string): void {
    this.problems.push(`${path} ${what}`);
  }
  string(
    o: JsonObject,
    key: string,
    path: string,
    required: boolean,
    form?: RegExp,
    formName?: string,
  ): void {
    const v = o[key];
    if (v === undefined) {
      if (required) this.bad(`${path}.${key}`, 'is required');
    } else if (typeof v !== 'string') this.bad(`${path}.${key}`, 'must be a string');
    else if (form && !form.test(v)) this.bad(`${path}.${key}`, `must be ${formName} (${JSON.stringify(v)})`);
  }
  object(o: JsonObject, key: string, path: string, required: boolean): JsonObject | undefined {
    const v = o[key];
    if (v === undefined) {
      if (required) this.bad(`${path}.${key}`, 'is required');
      return undefined;
    }
    if (!isJsonObject(v)) {
      this.bad(`${path}.${key}`, 'must be an object');
      return undefined;
    }
    return v;
  }
  digest(v: JsonValue | undefined, path: string, required: boolean): void {
    if (v === undefined) {
      if (required) this.bad(path, 'is required');
      return;
    }
    if (!isJsonObject(v) || Object.keys(v).length === 0) {
      this.bad(path, 'must be a non-empty map of algorithm to hex digest');
      return;
    }
    for (const [alg, hex] of Object.entries(v)) {
      const len = HEX_LENGTH[alg];
      if (typeof hex !== 'string' || !/^[0-9a-f]+$/.test(hex) || (len !== undefined && hex.length !== len))
        this.bad(`${path}.${alg}`, `must be lowercase hex${len ? ` of ${len} digits` : ''}`);
    }
  }
  /** A ResourceDescriptor v1: at least one of uri, digest, content; typed fields. */
  descriptor(v: JsonValue | undefined, path: string, needDigest: boolean): void {
    if (!isJsonObject(v)) {
      this.bad(path, 'must be a ResourceDescriptor object');
      return;
    }
    for (const k of ['name', 'downloadLocation', 'mediaType', 'content']) this.string(v, k, path, false);
    this.string(v, 'uri', path, false, URI, 'an absolute URI');
    if (v.annotations !== undefined && !isJsonObject(v.annotations))
      this.bad(`${path}.annotations`, 'must be an object');
    this.digest(v.digest, `${path}.digest`, needDigest);
    if (v.uri === undefined && v.digest === undefined && v.content === undefined)
      this.bad(path, 'needs one of uri, digest, content');
  }
  descriptors(o: JsonObject, key: string, path: string): void {
    const v = o[key];
    if (v === undefined) return;
    if (!Array.isArray(v)) this.bad(`${path}.${key}`, 'must be a list');
    else for (const [i, d] of v.entries()) this.descriptor(d, `${path}.${key}[${i}]`, false);
  }
}

/** SLSA Provenance v1 predicate fields (slsa.dev/spec/v1.0/provenance). */
function checkProvenance(p: JsonObject, s: Shape): void {
  const bd = s.object(p, 'buildDefinition', 'predicate', true);
  if (bd) {
    s.string(bd, 'buildType', 'predicate.buildDefinition', true, URI, 'an absolute URI');
    s.object(bd, 'externalParameters', 'predicate.buildDefinition', true);
    s.object(bd, 'internalParameters', 'predicate.buildDefinition', false);
    s.descriptors(bd, 'resolvedDependencies', 'predicate.buildDefinition');
  }
  const rd = s.object(p, 'runDetails', 'predicate', true);
  if (rd) {
    const b = s.object(rd, 'builder', 'predicate.runDetails', true);
    if (b) {
      s.string(b, 'id', 'predicate.runDetails.builder', true, URI, 'an absolute URI');
      s.descriptors(b, 'builderDependencies', 'predicate.runDetails.builder');
      const ver = s.object(b, 'version', 'predicate.runDetails.builder', false);
      for (const [k, v] of Object.entries(ver ?? {}))
        if (typeof v !== 'string') s.bad(`predicate.runDetails.builder.version.${k}`, 'must be a string');
    }
    const m = s.object(rd, 'metadata', 'predicate.runDetails', false);
    if (m) {
      s.string(m, 'invocationId', 'predicate.runDetails.metadata', false);
      s.string(m, 'startedOn', 'predicate.runDetails.metadata', false, RFC3339, 'an RFC 3339 time');
      s.string(m, 'finishedOn', 'predicate.runDetails.metadata', false, RFC3339, 'an RFC 3339 time');
    }
    s.descriptors(rd, 'byproducts', 'predicate.runDetails');
  }
}

/** SLSA Verification Summary v1 predicate fields (slsa.dev/spec/v1.0/verification_summary). */
function checkVsa(p: JsonObject, s: Shape): void {
  const v = s.object(p, 'verifier', 'predicate', true);
  if (v) s.string(v, 'id', 'predicate.verifier', true, URI, 'an absolute URI');
  s.string(p, 'timeVerified', 'predicate', true, RFC3339, 'an RFC 3339 time');
  s.string(p, 'resourceUri', 'predicate', true, URI, 'an absolute URI');
  if (p.policy === undefined) s.bad('predicate.policy', 'is required');
  else {
    s.descriptor(p.policy, 'predicate.policy', false);
    if (isJsonObject(p.policy) && p.policy.uri === undefined) s.bad('predicate.policy.uri', 'is required');
  }
  s.descriptors(p, 'inputAttestations', 'predicate');
  if (p.verificationResult !== 'PASSED' && p.verificationResult !== 'FAILED')
    s.bad(
      'predicate.verificationResult',
      `must be PASSED or FAILED (${JSON.stringify(p.verificationResult ?? null)})`,
    );
  const levels = p.verifiedLevels;
  if (!Array.isArray(levels) || levels.length === 0 || levels.some((l) => typeof l !== 'string'))
    s.bad('predicate.verifiedLevels', 'must be a non-empty list of strings');
  else if (p.verificationResult === 'FAILED' && !levels.includes('FAILED'))
    s.bad('predicate.verifiedLevels', 'must say FAILED when the verification failed');
  else if (p.verificationResult === 'PASSED' && levels.includes('FAILED'))
    s.bad('predicate.verifiedLevels', 'cannot say FAILED when the verification passed');
  const deps = p.dependencyLevels;
  if (
    deps !== undefined &&
    (!isJsonObject(deps) || Object.values(deps).some((n) => !Number.isInteger(n) || (n as number) < 0))
  )
    s.bad('predicate.dependencyLevels', 'must map levels to non-negative integers');
  s.string(p, 'slsaVersion', 'predicate', false);
}

/**
 * Check that `value` is an in-toto Statement v1 (statement.md: `_type`, a non-empty `subject` list of
 * ResourceDescriptors each with a digest, `predicateType` a URI, `predicate` an object), and, for the SLSA
 * Provenance v1 and Verification Summary v1 predicate types, the predicate's fields. Throws ATTESTATION_INVALID
 * listing every problem.
 */
export function checkStatement(value: JsonValue, source: string): InTotoStatement {
  const s = new Shape();
  if (!isJsonObject(value))
    throw new CotError('ATTESTATION_INVALID', `${source}: the payload is not a JSON object`);
  if (value._type !== STATEMENT_TYPE)
    s.bad('_type', `must be ${STATEMENT_TYPE} (${JSON.stringify(value._type ?? null)})`);
  if (!Array.isArray(value.subject) || value.subject.length === 0)
    s.bad('subject', 'must be a non-empty list');
  else
    value.subject.forEach((d, i) => {
      s.descriptor(d, `subject[${i}]`, true);
    });
  s.string(value, 'predicateType', 'statement', true, URI, 'an absolute URI');
  const predicate = s.object(value, 'predicate', 'statement', true);
  if (predicate && value.predicateType === PROVENANCE_PREDICATE_TYPE) checkProvenance(predicate, s);
  if (predicate && value.predicateType === VSA_PREDICATE_TYPE) checkVsa(predicate, s);
  if (s.problems.length > 0)
    throw new CotError(
      'ATTESTATION_INVALID',
      `${source}: the statement is not a valid in-toto Statement v1${value.predicateType === PROVENANCE_PREDICATE_TYPE ? ' with SLSA Provenance v1' : value.predicateType === VSA_PREDICATE_TYPE ? ' with a SLSA Verification Summary v1' : ''}: ${s.problems.join('; ')}`,
      { details: { problems: s.problems } },
    );
  return value as unknown as InTotoStatement;
}

/** A file to check against the subjects: the name it must have and its digests (hex, by algorithm). */
export interface AttestedArtifact {
  name: string;
  digest: Record<string, string>;
  /** where the bytes came from, for messages */
  path?: string;
}

/** What verifyAttestation found. */
export interface VerifiedAttestation {
  format: 'dsse' | 'sigstore-bundle';
  /** attestationKeyId of the key that verified */
  keyId: string;
  statement: InTotoStatement;
  /** the subjects the artifacts given matched, in their order */
  matched: ResourceDescriptor[];
  /** a verification summary: its result */
  verificationResult?: 'PASSED' | 'FAILED';
}

export interface VerifyAttestationOptions {
  /** ed25519 public keys any of which may have signed */
  keys: readonly KeyObject[];
  /** files that must each be a subject: same name, and every digest algorithm both give equal */
  artifacts?: readonly AttestedArtifact[];
  /** accept a verification summary whose result is FAILED (default false: ATTESTATION_FAILED) */
  acceptFailed?: boolean;
  /** the file's name for messages */
  source?: string;
}

/**
 * Each artifact must be a subject of `statement`: a subject of the same name whose digests equal the file's for
 * every algorithm both give (at least one). Returns the subjects matched, in order; throws
 * ATTESTATION_SUBJECT_MISMATCH (details: artifact, reason not-a-subject or digest-mismatch, algorithm, expected,
 * found) for the first that is not. For a statement verifyAttestation returned.
 */
export function matchSubjects(
  statement: InTotoStatement,
  artifacts: readonly AttestedArtifact[],
  source = 'attestation',
): ResourceDescriptor[] {
  return artifacts.map((a) => matchSubject(statement, a, source));
}

function matchSubject(statement: InTotoStatement, a: AttestedArtifact, source: string): ResourceDescriptor {
  const named = statement.subject.filter((s) => s.name === a.name);
  const what = `${a.name}${a.path && a.path !== a.name ? ` (${a.path})` : ''}`;
  if (named.length === 0)
    throw new CotError(
      'ATTESTATION_SUBJECT_MISMATCH',
      `${source}: ${what} is not a subject of the attestation (${statement.subject.length} subject${statement.subject.length === 1 ? '' : 's'}: ${statement.subject
        .slice(0, 5)
        .map((s) => s.name)
        .join(', ')}${statement.subject.length > 5 ? ', ...' : ''})`,
      { details: { artifact: a.name, reason: 'not-a-subject' } },
    );
  for (const s of named) {
    const common = Object.keys(a.digest).filter((alg) => s.digest?.[alg] !== undefined);
    if (common.length > 0 && common.every((alg) => s.digest![alg] === a.digest[alg]!.toLowerCase())) return s;
  }
  const alg = Object.keys(a.digest).find((x) => named.some((s) => s.digest?.[x] !== undefined));
  throw new CotError(
    'ATTESTATION_SUBJECT_MISMATCH',
    alg
      ? `${source}: ${what}: its ${alg} is ${a.digest[alg]}, the attestation lists ${named.map((s) => s.digest![alg]).join(', ')}`
      : `${source}: ${what}: the subject lists no digest algorithm the file was hashed with (${Object.keys(a.digest).join(', ')})`,
    {
      details: {
        artifact: a.name,
        reason: 'digest-mismatch',
        ...(alg ? { algorithm: alg, expected: named.map((s) => s.digest![alg]), found: a.digest[alg] } : {}),
      },
    },
  );
}

/** Strict JSON (parseJsonBytes), or ATTESTATION_INVALID: `what` and the parser's reason (its error kept as cause). */
function parseOrInvalid(bytes: Uint8Array, source: string, what: string): JsonValue {
  try {
    return parseJsonBytes(bytes, { source });
  } catch (e) {
    if (!(e instanceof CotError)) throw e;
    throw new CotError('ATTESTATION_INVALID', `${what}: ${e.message}`, { cause: e });
  }
}

/**
 * Verify an attestation file's bytes: a DSSE envelope in JSON (`<name>.intoto.json`) or a Sigstore bundle
 * (`<name>.sigstore.json`, checked with @sigstore/verify offline: verifySigstoreBundle). In order: the signature
 * with one of `keys` (ATTESTATION_SIGNATURE_INVALID), the payload type (ATTESTATION_PAYLOAD_TYPE), the statement and
 * predicate fields of the verified payload only (ATTESTATION_INVALID; JSON_INVALID for bytes that are not strict
 * JSON), each artifact given against the subjects (ATTESTATION_SUBJECT_MISMATCH), and a verification summary's
 * result (ATTESTATION_FAILED for FAILED unless `acceptFailed`).
 */
export function verifyAttestation(bytes: Uint8Array, o: VerifyAttestationOptions): VerifiedAttestation {
  const source = o.source ?? 'attestation';
  if (!Array.isArray(o.keys) || o.keys.length === 0)
    throw new CotError(
      'OPTIONS_INVALID',
      'verifyAttestation: keys must list at least one ed25519 public key',
    );
  const value = parseOrInvalid(bytes, source, `${source}: not a DSSE envelope or Sigstore bundle`);
  const bundle = isSigstoreBundle(value);
  const envelope = bundle ? verifySigstoreBundle(value, o.keys, source) : envelopeFromJson(value, source);
  const { payload, key } = verifyEnvelope(envelope, o.keys, source);
  const parsed = parseOrInvalid(
    payload,
    `${source} payload`,
    `${source}: the signed payload is not strict JSON`,
  );
  const statement = checkStatement(parsed, source);
  const matched = matchSubjects(statement, o.artifacts ?? [], source);
  const result =
    statement.predicateType === VSA_PREDICATE_TYPE
      ? (statement.predicate.verificationResult as 'PASSED' | 'FAILED')
      : undefined;
  if (result === 'FAILED' && !o.acceptFailed)
    throw new CotError(
      'ATTESTATION_FAILED',
      `${source}: a genuine verification summary of ${String(statement.predicate.resourceUri)}: the verification FAILED`,
      { details: { resourceUri: statement.predicate.resourceUri } },
    );
  return {
    format: bundle ? 'sigstore-bundle' : 'dsse',
    keyId: attestationKeyId(key),
    statement,
    matched,
    ...(result ? { verificationResult: result } : {}),
  };
}
