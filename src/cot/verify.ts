import { assertCotDocument, type CotDocument } from '../document/document.js';
import { HASH_ALGORITHMS, type HashAlgorithm } from '../document/schema.js';
import { CotError } from '../errors.js';
import { type ArtifactSource, checkArtifactSources } from '../hashing/artifacts.js';
import { assertDigests, DEFAULT_HASH_CONCURRENCY, digestFile } from '../hashing/digest.js';
import { type JsonValue, parseJsonBytes } from '../json/parse.js';
import type { VerificationKey } from '../keys/keys.js';
import {
  checkSignatureInput,
  type SignatureKind,
  type Signer,
  type VerifySignatureInput,
  verifySignature,
} from '../signature/verify.js';
import { type LinkTrust, verifySignatureTrusted } from '../trust/verify.js';
import { mapBounded } from '../util/concurrency.js';
import { checkOptions } from '../util/options.js';

export type {
  Ed25519Signer,
  SignatureKind,
  Signer,
  VerifiedSignature,
  VerifySignatureInput,
} from '../signature/verify.js';
export { signatureKindOf, verifySignature } from '../signature/verify.js';

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

export interface VerifyLinkInput extends Omit<VerifySignatureInput, 'keys'> {
  /** allowed keys (a flat list); or give `trust` instead */
  keys?: readonly VerificationKey[];
  /** the trust model: key store and the worker implementation of this link */
  trust?: LinkTrust;
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
  /** the worker implementation whose keys verified it, when verified with a trust store */
  implementation?: string;
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
 * ids; then re-hash every given artifact. Returns the verified document and who signed it. `data` (bytes), `at` (a
 * Date: the library never reads the clock) and exactly one of `keys` / `trust` are required: OPTIONS_INVALID
 * otherwise, naming the option. Throws, in the order checked: the SIGNATURE_* and KEY_* codes of verifySignature
 * (or of verifySignatureTrusted with `trust`); DOCUMENT_INVALID when the verified text is not JSON or not a schema-v1
 * document (DOCUMENT_UNSUPPORTED_VERSION when only its version is wrong); LINK_ID_MISMATCH when an `expected` id differs; ARTIFACT_MISSING with `requireAllArtifacts`;
 * ARTIFACT_NOT_LISTED, HASH_UNSUPPORTED_ALGORITHM, HASH_MISMATCH and the file codes of the artifacts (several
 * artifact problems: one error with the first one's code and `details.failures`). To read a document from disk with
 * the signature beside it, see readLinkFiles (./inputs.ts); for a downloaded folder, artifactsToVerify.
 */
export async function verifyLink(input: VerifyLinkInput): Promise<VerifiedLink> {
  checkSignatureInput('verifyLink', input);
  checkOptions('verifyLink', input, {
    keys: { kind: 'array', optional: true, hint: 'loadVerificationKeys([...files])' },
    trust: { kind: 'object', optional: true, hint: '{ store: TrustStore, implementation: "docker-worker" }' },
    expected: { kind: 'object', optional: true },
    artifacts: { kind: 'array', optional: true },
    hashAlgorithms: { kind: 'array', optional: true },
    concurrency: { kind: 'nonNegativeInteger', optional: true },
    requireAllArtifacts: { kind: 'boolean', optional: true },
  });
  const source = input.source ?? 'chain-of-trust document';
  const { keys, trust, ...rest } = input;
  if ((keys === undefined) === (trust === undefined)) {
    throw new CotError(
      'OPTIONS_INVALID',
      'verifyLink: give either keys (allowed keys) or trust (a trust store with the worker implementation), not both',
      { details: { function: 'verifyLink', option: 'keys' } },
    );
  }
  const sig = trust
    ? await verifySignatureTrusted({ ...rest, trust })
    : await verifySignature({ ...rest, keys: keys! });
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
    ...('implementation' in sig ? { implementation: sig.implementation as string } : {}),
    document: doc,
    signers: sig.signers,
    signedBytes: sig.signedBytes,
    artifacts: checked,
    unchecked,
  };
}

/**
 * Every artifact given is unlisted, and each is listed under one longer name with the same prefix (`public/`): the
 * folder they were listed from was given one level too deep (`artifacts/public` instead of `artifacts`). One
 * ARTIFACT_NOT_LISTED that says so, with a name the document lists (details `missingPrefix`, `artifacts`).
 */
function folderTooDeep(
  given: readonly ArtifactSource[],
  listed: readonly string[],
  label: string,
): CotError | undefined {
  if (given.length === 0 || given.some((g) => !g.resolved || listed.includes(g.name))) return undefined;
  let prefix: string | undefined;
  for (const g of given) {
    const longer = listed.filter((n) => n.endsWith(`/${g.name}`));
    if (longer.length !== 1) return undefined;
    const p = longer[0]!.slice(0, -g.name.length);
    if (prefix !== undefined && p !== prefix) return undefined;
    prefix = p;
  }
  const example = given[0]!.name;
  return new CotError(
    'ARTIFACT_NOT_LISTED',
    `${label}: ${given.length === 1 ? 'the artifact given is not' : `none of the ${given.length} artifacts given is`} listed under its name: the document lists ${prefix}${example}, not ${example}; the folder of artifacts seems given one level too deep (give the folder that holds ${prefix})`,
    { details: { missingPrefix: prefix, artifacts: given.map((g) => g.name) } },
  );
}

async function checkArtifacts(
  doc: CotDocument,
  given: readonly ArtifactSource[],
  accepted: readonly HashAlgorithm[],
  label: string,
  concurrency: number,
): Promise<CheckedArtifact[]> {
  const listed = Object.keys(doc.artifacts);
  const tooDeep = folderTooDeep(given, listed, label);
  if (tooDeep) throw tooDeep;
  const plans = given.map((g) => {
    const entry = Object.hasOwn(doc.artifacts, g.name) ? doc.artifacts[g.name] : undefined;
    if (entry === undefined) {
      // a listed name that ends with this one: the name the artifact was probably meant to have
      const longer = listed.filter((n) => n.endsWith(`/${g.name}`));
      return {
        g,
        error: new CotError(
          'ARTIFACT_NOT_LISTED',
          `${label}: artifact ${g.name} is not listed in the signed document${
            longer.length > 0 ? `; the document lists ${longer.join(', ')}` : ''
          }`,
          {
            details: { artifact: g.name, ...(longer.length > 0 ? { listedAs: longer } : {}) },
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
      const d = await digestFile(p.g.path, p.algos, {
        name: p.g.name,
        noFollow: p.g.resolved,
        ...(p.g.within === undefined ? {} : { within: p.g.within }),
      });
      assertDigests(
        `${label}: artifact ${p.g.name} (${p.g.path})`,
        p.g.name,
        Object.fromEntries(p.algos.map((a) => [a, p.entry[a]])),
        d.digests,
      );
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
