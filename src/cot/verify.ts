import { assertCotDocument, type CotDocument } from '../document/document.js';
import { HASH_ALGORITHMS, type HashAlgorithm } from '../document/schema.js';
import { CotError, IntegrityError } from '../errors.js';
import { type ArtifactSource, checkArtifactSources } from '../hashing/artifacts.js';
import { DEFAULT_HASH_CONCURRENCY, digestFile, mapBounded } from '../hashing/digest.js';
import { type JsonValue, parseJsonBytes } from '../json/parse.js';
import { ed25519Verify } from '../keys/ed25519.js';
import type { VerificationKey } from '../keys/keys.js';
import { isCleartextSigned } from '../pgp/cleartext.js';
import { loadPgp } from '../pgp/lazy.js';
import type { PgpPublicKey, PgpSigner } from '../pgp/openpgp.js';

export interface Ed25519Signer {
  kind: 'ed25519';
  /** base64 of the 32-byte public key that verified */
  publicKey: string;
  /** where the key came from (file name) */
  keySource: string;
}

export type Signer = Ed25519Signer | PgpSigner;

export type SignatureKind = 'openpgp-cleartext' | 'openpgp-detached' | 'ed25519';

export interface VerifySignatureInput {
  /** the signed file: a cleartext-signed message, or the exact bytes a detached signature covers */
  data: Uint8Array;
  /** detached signature: raw 64-byte ed25519, or an OpenPGP signature (armored or binary) */
  signature?: Uint8Array;
  /** allowed keys; a signature by any other key fails */
  keys: readonly VerificationKey[];
  /** reference time of this verification run */
  at: Date;
  /** allowed clock skew for future-dated OpenPGP signatures, seconds (default 300) */
  skewSeconds?: number;
  /** label for messages */
  source?: string;
}

export interface VerifiedSignature {
  kind: SignatureKind;
  /** exactly the bytes the signature covers; the only bytes callers may parse */
  signedBytes: Buffer;
  signers: Signer[];
}

function isArmored(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.subarray(0, 15)).toString('latin1') === '-----BEGIN PGP ';
}

/**
 * The signature layer alone, for any file. A cleartext-signed file needs no separate signature; a 64-byte
 * raw signature is ed25519; anything else given as signature is read as OpenPGP.
 */
export async function verifySignature(input: VerifySignatureInput): Promise<VerifiedSignature> {
  const source = input.source ?? 'document';
  const pgpKeys: PgpPublicKey[] = [];
  const edKeys: Extract<VerificationKey, { kind: 'ed25519' }>[] = [];
  for (const k of input.keys) {
    if (k.kind === 'openpgp') pgpKeys.push(k.key);
    else edKeys.push(k);
  }
  const pgpOptions = { at: input.at, skewSeconds: input.skewSeconds ?? 300, source };

  if (input.signature === undefined) {
    if (!isCleartextSigned(input.data)) {
      if (isArmored(input.data) || input.data.length === 0) {
        // let the strict parser say exactly what it is (inline-signed, detached, text before BEGIN...)
        await (await loadPgp()).verifyCleartext(
          Buffer.from(input.data).toString('utf8'),
          pgpKeys,
          pgpOptions,
        );
      }
      const head = Buffer.from(input.data).toString('latin1');
      if (head.includes('-----BEGIN PGP SIGNED MESSAGE-----')) {
        throw new CotError(
          'SIGNATURE_MALFORMED',
          `${source}: data before the BEGIN line (only the signed block may be present)`,
        );
      }
      throw new CotError(
        'SIGNATURE_MISSING',
        `${source}: not a cleartext-signed message, and no detached signature was given (ed25519 documents need their .sig)`,
      );
    }
    if (pgpKeys.length === 0) {
      throw new CotError(
        'KEY_NOT_FOUND',
        `${source}: OpenPGP cleartext signature, but no OpenPGP key is allowed`,
      );
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input.data);
    } catch (e) {
      throw new CotError('SIGNATURE_MALFORMED', `${source}: cleartext-signed file is not UTF-8`, {
        cause: e,
      });
    }
    const v = await (await loadPgp()).verifyCleartext(text, pgpKeys, pgpOptions);
    return { kind: 'openpgp-cleartext', signedBytes: Buffer.from(v.text, 'utf8'), signers: v.signers };
  }

  const sig = input.signature;
  if (sig.length === 64 && !isArmored(sig)) {
    if (edKeys.length === 0) {
      throw new CotError('KEY_NOT_FOUND', `${source}: ed25519 signature, but no ed25519 key is allowed`);
    }
    for (const k of edKeys) {
      if (ed25519Verify(input.data, sig, k.key)) {
        return {
          kind: 'ed25519',
          signedBytes: Buffer.from(input.data),
          signers: [{ kind: 'ed25519', publicKey: k.publicKey, keySource: k.source }],
        };
      }
    }
    throw new CotError(
      'SIGNATURE_INVALID',
      `${source}: ed25519 signature does not verify against any of the ${edKeys.length} allowed key(s) (${edKeys
        .map((k) => k.publicKey)
        .join(', ')})`,
      { details: { triedKeys: edKeys.map((k) => k.publicKey) } },
    );
  }
  if (pgpKeys.length === 0) {
    throw new CotError(
      sig.length === 64 || !isArmored(sig) ? 'SIGNATURE_MALFORMED' : 'KEY_NOT_FOUND',
      `${source}: signature of ${sig.length} bytes is neither a raw ed25519 signature (64 bytes) nor usable without OpenPGP keys`,
    );
  }
  const signers = await (await loadPgp()).verifyDetachedPgp(input.data, sig, pgpKeys, pgpOptions);
  return { kind: 'openpgp-detached', signedBytes: Buffer.from(input.data), signers };
}

/** Expected identity of the link; each given value must equal the signed document's. */
export interface ExpectedLink {
  taskId?: string;
  runId?: number;
  workerGroup?: string;
  workerId?: string;
}

export interface CheckedArtifact {
  name: string;
  size: number;
  /** algorithm -> verified digest */
  digests: Partial<Record<HashAlgorithm, string>>;
}

export interface VerifyLinkInput extends VerifySignatureInput {
  expected?: ExpectedLink;
  /** artifacts to re-hash and compare with the document */
  artifacts?: readonly ArtifactSource[];
  /** hash algorithms accepted for artifacts (default sha256 and sha512) */
  hashAlgorithms?: readonly HashAlgorithm[];
  /** files hashed at once (default 8) */
  concurrency?: number;
  /** every artifact the document lists must be among `artifacts` (ARTIFACT_MISSING otherwise) */
  requireAllArtifacts?: boolean;
}

export interface VerifiedLink {
  signatureKind: SignatureKind;
  document: CotDocument;
  signers: Signer[];
  /** the verified bytes the document was parsed from */
  signedBytes: Buffer;
  artifacts: CheckedArtifact[];
  /** listed artifacts that were not given for checking */
  unchecked: string[];
}

function linkLabel(doc: { taskId?: unknown; runId?: unknown }): string {
  return `task ${String(doc.taskId)} run ${String(doc.runId)}`;
}

/**
 * Verify one link: signature first; then parse and schema-check only the verified bytes; then the expected
 * ids; then re-hash every given artifact. Returns the verified document and who signed it.
 */
export async function verifyLink(input: VerifyLinkInput): Promise<VerifiedLink> {
  const source = input.source ?? 'chain-of-trust document';
  const sig = await verifySignature(input);
  let value: JsonValue;
  try {
    value = parseJsonBytes(sig.signedBytes, { source: `${source} (verified text)` });
  } catch (e) {
    if (e instanceof CotError) {
      throw new CotError('DOCUMENT_INVALID', `${source}: the signed text is not valid JSON: ${e.message}`, {
        cause: e,
      });
    }
    throw e;
  }
  assertCotDocument(value, source);
  const doc = value;
  const label = linkLabel(doc);

  const exp = input.expected ?? {};
  const mismatches: string[] = [];
  for (const field of ['taskId', 'runId', 'workerGroup', 'workerId'] as const) {
    const want = exp[field];
    if (want !== undefined && doc[field] !== want) {
      mismatches.push(`${field} is ${JSON.stringify(doc[field])}, expected ${JSON.stringify(want)}`);
    }
  }
  if (mismatches.length > 0) {
    throw new CotError('LINK_ID_MISMATCH', `${source} (${label}): ${mismatches.join('; ')}`, {
      details: { mismatches },
    });
  }

  const accepted = input.hashAlgorithms ?? HASH_ALGORITHMS;
  const given = input.artifacts ?? [];
  checkArtifactSources(given);
  const givenNames = new Set(given.map((g) => g.name));
  const unchecked = Object.keys(doc.artifacts)
    .filter((n) => !givenNames.has(n))
    .sort();
  if (input.requireAllArtifacts && unchecked.length > 0) {
    throw new CotError(
      'ARTIFACT_MISSING',
      `${label}: ${unchecked.length} artifact(s) listed in the signed document are missing: ${unchecked.join(', ')}`,
      { details: { missing: unchecked } },
    );
  }
  const checked = await checkArtifacts(
    doc,
    given,
    accepted,
    label,
    input.concurrency ?? DEFAULT_HASH_CONCURRENCY,
  );
  return {
    signatureKind: sig.kind,
    document: doc,
    signers: sig.signers,
    signedBytes: sig.signedBytes,
    artifacts: checked,
    unchecked,
  };
}

async function checkArtifacts(
  doc: CotDocument,
  given: readonly ArtifactSource[],
  accepted: readonly HashAlgorithm[],
  label: string,
  concurrency: number,
): Promise<CheckedArtifact[]> {
  const plans = given.map((g) => {
    const entry = Object.hasOwn(doc.artifacts, g.name) ? doc.artifacts[g.name] : undefined;
    if (entry === undefined) {
      return {
        g,
        error: new CotError(
          'ARTIFACT_NOT_LISTED',
          `${label}: artifact ${g.name} is not listed in the signed document`,
          {
            details: { artifact: g.name },
          },
        ),
      };
    }
    const algos = accepted.filter((a) => Object.hasOwn(entry, a));
    if (algos.length === 0) {
      return {
        g,
        error: new CotError(
          'HASH_UNSUPPORTED_ALGORITHM',
          `${label}: artifact ${g.name} lists only ${Object.keys(entry).join(', ')}; accepted: ${accepted.join(', ')}`,
          { details: { artifact: g.name } },
        ),
      };
    }
    return { g, entry, algos };
  });
  const results = await mapBounded(plans, concurrency, async (p) => {
    if ('error' in p) return p.error;
    try {
      const d = await digestFile(p.g.path, p.algos, { name: p.g.name, noFollow: p.g.resolved });
      for (const a of p.algos) {
        const expected = p.entry[a]!;
        const found = d.digests[a]!;
        if (expected !== found) {
          return new IntegrityError(
            `${label}: artifact ${p.g.name} (${p.g.path}): ${a} is ${found}, the signed document lists ${expected}`,
            p.g.name,
            a,
            expected,
            found,
          );
        }
      }
      return { name: p.g.name, size: d.size, digests: d.digests } satisfies CheckedArtifact;
    } catch (e) {
      if (e instanceof CotError) return e;
      throw e;
    }
  });
  const errors = results.filter((r): r is CotError => r instanceof CotError);
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    const first = errors[0]!;
    throw new CotError(
      first.code,
      `${errors.length} artifact problems: ${errors.map((e) => e.message).join(' | ')}`,
      {
        details: { failures: errors.map((e) => e.toJSON()) },
      },
    );
  }
  return results as CheckedArtifact[];
}
