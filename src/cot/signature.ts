import { CotError } from '../errors.js';
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
