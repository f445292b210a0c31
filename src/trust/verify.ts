import { CotError } from '../errors.js';
import type { VerificationKey } from '../keys/keys.js';
import {
  checkSignatureInput,
  type VerifiedSignature,
  type VerifySignatureInput,
  verifySignature,
} from '../signature/verify.js';
import { checkOptions } from '../util/options.js';
import {
  candidateKeys,
  getImplementation,
  mergedImplementation,
  resolveCertification,
  type TrustStore,
} from './store.js';

/** Which trust applies to a link: the store, and the worker implementation the link ran on. */
export interface LinkTrust {
  store: TrustStore;
  implementation: string;
}

export interface VerifyTrustedInput extends Omit<VerifySignatureInput, 'keys'> {
  trust: LinkTrust;
}

export interface VerifiedTrustedSignature extends VerifiedSignature {
  implementation: string;
}

async function verifiesWith(
  input: VerifyTrustedInput,
  keys: VerificationKey[],
): Promise<VerifiedSignature | undefined> {
  if (keys.length === 0) return undefined;
  try {
    return await verifySignature({ ...input, keys });
  } catch {
    return undefined;
  }
}

function signerLabel(v: VerifiedSignature): string {
  return v.signers
    .map((s) =>
      s.kind === 'ed25519'
        ? `ed25519 key ${s.publicKey}`
        : `OpenPGP key ${s.fingerprint}${s.userIds[0] ? ` (${s.userIds[0]})` : ''}`,
    )
    .join(', ');
}

/**
 * The signature layer with the trust model: only keys of the link's worker implementation are allowed; a key from
 * a certified folder counts only with a certification by one of that implementation's trusted roots that counts
 * for this signature's time (resolveCertification; named in the result); the roots themselves may not sign
 * documents. Copies of one key within the implementation are merged first (mergedImplementation: a revocation on
 * any copy wins). One key may serve several implementations (e.g. docker-worker and generic-worker for d2g): it
 * is accepted for each. When the signature is refused, say whether it was made by a root or by a key of another
 * implementation (KEY_WRONG_IMPLEMENTATION).
 */
export async function verifySignatureTrusted(input: VerifyTrustedInput): Promise<VerifiedTrustedSignature> {
  checkSignatureInput('verifySignatureTrusted', input);
  checkOptions('verifySignatureTrusted', input, { trust: { kind: 'object' } });
  checkOptions(
    'verifySignatureTrusted',
    input.trust,
    { store: { kind: 'trustStore' }, implementation: { kind: 'string' } },
    'trust',
  );
  const impl = await mergedImplementation(getImplementation(input.trust.store, input.trust.implementation));
  let verified: VerifiedSignature;
  try {
    verified = await verifySignature({ ...input, keys: candidateKeys(impl) });
  } catch (e) {
    if (e instanceof CotError && (e.code === 'KEY_NOT_FOUND' || e.code === 'SIGNATURE_INVALID')) {
      const source = input.source ?? 'document';
      const byRoot = await verifiesWith(input, impl.roots);
      if (byRoot) {
        throw new CotError(
          'KEY_NOT_FOUND',
          `${source}: signed by ${signerLabel(byRoot)}, a trusted root of ${impl.name}: roots certify worker keys but may not sign documents`,
          { cause: e },
        );
      }
      for (const other of input.trust.store.implementations.values()) {
        if (other.name === impl.name) continue;
        const byOther = await verifiesWith(input, candidateKeys(await mergedImplementation(other)));
        if (byOther) {
          throw new CotError(
            'KEY_WRONG_IMPLEMENTATION',
            `${source}: signed by ${signerLabel(byOther)}, a key of ${other.name}; this link ran on ${impl.name}, whose keys are never interchangeable with another implementation's`,
            { cause: e, details: { signedBy: other.name, expected: impl.name } },
          );
        }
      }
    }
    throw e;
  }
  for (const s of verified.signers) {
    if (s.kind !== 'openpgp') continue;
    const certified = impl.certified.find((k) => k.fingerprint === s.fingerprint);
    if (!certified) continue;
    const c = await resolveCertification(impl, certified, s.signedAt);
    s.certifiedBy = { fingerprint: c.root.fingerprint, userIds: c.root.userIds, certifiedAt: c.certifiedAt };
  }
  return { ...verified, implementation: impl.name };
}
