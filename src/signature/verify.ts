import { CotError } from '../errors.js';
import { ed25519VerifyAsync } from '../keys/ed25519.js';
import type { VerificationKey } from '../keys/keys.js';
import { isCleartextSigned } from '../pgp/cleartext.js';
import { loadPgp } from '../pgp/lazy.js';
import type { PgpPublicKey, PgpSigner } from '../pgp/openpgp.js';
import { checkOptions } from '../util/options.js';

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
  /** allowed clock skew, seconds (default 300): for future-dated OpenPGP signatures and for `taskCreated` */
  skewSeconds?: number;
  /**
   * When the task was created, as the queue says (the task definition's `created`), never taken from the signed
   * document, which a forger writes. An OpenPGP signature dated before it (minus the skew) is refused with
   * SIGNATURE_BEFORE_TASK; ed25519 keys with a validity window are judged against it (else against `at`).
   */
  taskCreated?: Date;
  /**
   * The signature kinds accepted (default: all). A signature of another kind is refused with
   * SIGNATURE_KIND_REFUSED before any cryptography (e.g. `['ed25519']` for a policy requiring raw ed25519, so a
   * detached OpenPGP signature given as the `.sig` is not verified as OpenPGP).
   */
  allowedKinds?: readonly SignatureKind[];
  /** label for messages */
  source?: string;
}

export interface VerifiedSignature {
  kind: SignatureKind;
  /** exactly the bytes the signature covers; the only bytes callers may parse */
  signedBytes: Buffer;
  signers: Signer[];
  /**
   * An OpenPGP text-mode signature (type 0x01; every cleartext signature is one). It covers the text whatever
   * its line endings, so `signedBytes` is the text with LF line endings: for a detached one this may differ from
   * `data` (CRLF line endings in the file).
   */
  textMode?: boolean;
}

/**
 * The inputs every signature check shares (verifySignature, verifyLink, verifySignatureTrusted), for callers in
 * plain JavaScript: OPTIONS_INVALID naming the wrong one. `at` is required: the library never reads the clock.
 */
export function checkSignatureInput(fn: string, input: unknown): void {
  checkOptions(fn, input, {
    data: { kind: 'bytes', hint: 'the file as read, e.g. await readFile(path)' },
    signature: { kind: 'bytes', optional: true },
    at: { kind: 'date', hint: 'the reference time of the verification' },
    skewSeconds: { kind: 'nonNegativeInteger', optional: true },
    taskCreated: { kind: 'date', optional: true },
    allowedKinds: { kind: 'array', optional: true },
    source: { kind: 'string', optional: true },
  });
}

function isArmored(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.subarray(0, 15)).toString('latin1') === '-----BEGIN PGP ';
}

/** The kind of signature `input` holds, decided from its shape alone (no cryptography). */
export function signatureKindOf(input: { data: Uint8Array; signature?: Uint8Array }): SignatureKind {
  if (input.signature === undefined) return 'openpgp-cleartext';
  return input.signature.length === 64 && !isArmored(input.signature) ? 'ed25519' : 'openpgp-detached';
}

type Ed25519Key = Extract<VerificationKey, { kind: 'ed25519' }>;

/** Why an ed25519 key's validity window excludes `when`, if it does. */
function outsideWindow(k: Ed25519Key, when: Date): 'KEY_NOT_YET_VALID' | 'KEY_EXPIRED' | undefined {
  if (k.validFrom && when.getTime() < k.validFrom.getTime()) return 'KEY_NOT_YET_VALID';
  if (k.validUntil && when.getTime() >= k.validUntil.getTime()) return 'KEY_EXPIRED';
  return undefined;
}

function describeWindow(k: Ed25519Key): string {
  return `from ${k.validFrom ? k.validFrom.toISOString() : '(any time)'} until ${
    k.validUntil ? k.validUntil.toISOString() : '(no end)'
  }`;
}

/**
 * The signature layer alone, for any file. A cleartext-signed file needs no separate signature; a 64-byte
 * raw signature is ed25519; anything else given as signature is read as OpenPGP.
 *
 * Throws (CotError): SIGNATURE_KIND_REFUSED (kind not in `allowedKinds`), SIGNATURE_MISSING,
 * SIGNATURE_MALFORMED, SIGNATURE_INVALID, KEY_NOT_FOUND; ed25519: KEY_EXPIRED / KEY_NOT_YET_VALID when the only
 * key that verifies is outside its validity window as of `taskCreated` (else `at`); OpenPGP: see verifyCleartext
 * and verifyDetachedPgp (KEY_EXPIRED, KEY_REVOKED, KEY_NOT_YET_VALID, KEY_WEAK, SIGNATURE_WEAK_HASH,
 * SIGNATURE_FROM_FUTURE, SIGNATURE_BEFORE_TASK, SIGNATURE_HASH_HEADER_MISMATCH).
 */
export async function verifySignature(input: VerifySignatureInput): Promise<VerifiedSignature> {
  checkSignatureInput('verifySignature', input);
  checkOptions('verifySignature', input, {
    keys: { kind: 'array', hint: 'loadVerificationKeys([...files])' },
  });
  const source = input.source ?? 'document';
  const kind = signatureKindOf(input);
  assertKindAllowed(input, kind, source);
  const pgpKeys: PgpPublicKey[] = [];
  const edKeys: Ed25519Key[] = [];
  for (const k of input.keys) {
    if (k.kind === 'openpgp') pgpKeys.push(k.key);
    else edKeys.push(k);
  }
  const pgpOptions: PgpOptions = {
    at: input.at,
    skewSeconds: input.skewSeconds ?? 300,
    source,
    ...(input.taskCreated ? { taskCreated: input.taskCreated } : {}),
  };
  if (input.signature === undefined) return verifyCleartext(input.data, pgpKeys, pgpOptions);
  if (kind === 'ed25519') return verifyEd25519(input, input.signature, edKeys, source);
  return verifyDetached(input.data, input.signature, pgpKeys, pgpOptions);
}

/** The options every OpenPGP check takes (verifyCleartext, verifyDetachedPgp of src/pgp/openpgp.ts). */
interface PgpOptions {
  at: Date;
  skewSeconds: number;
  source: string;
  taskCreated?: Date;
}

/**
 * SIGNATURE_KIND_REFUSED when `kind` is not among `allowedKinds`; a cleartext kind is only claimed when the data
 * really is cleartext-signed (otherwise the verification itself says what is missing).
 */
function assertKindAllowed(input: VerifySignatureInput, kind: SignatureKind, source: string): void {
  const allowed = input.allowedKinds;
  if (!allowed || allowed.includes(kind)) return;
  if (kind === 'openpgp-cleartext' && !isCleartextSigned(input.data)) return;
  throw new CotError(
    'SIGNATURE_KIND_REFUSED',
    `${source}: ${kind} signature, but only ${allowed.join(', ')} ${allowed.length === 1 ? 'is' : 'are'} accepted here`,
    { details: { kind, allowedKinds: [...allowed] } },
  );
}

/**
 * No detached signature: the data must be an OpenPGP cleartext-signed message (UTF-8). Throws SIGNATURE_MISSING
 * (not one), SIGNATURE_MALFORMED (data before the BEGIN line, not UTF-8, or what the strict parser finds),
 * KEY_NOT_FOUND (no OpenPGP key allowed), and verifyCleartext's codes.
 */
async function verifyCleartext(
  data: Uint8Array,
  pgpKeys: PgpPublicKey[],
  pgpOptions: PgpOptions,
): Promise<VerifiedSignature> {
  const source = pgpOptions.source;
  if (!isCleartextSigned(data)) {
    if (isArmored(data) || data.length === 0) {
      // let the strict parser say exactly what it is (inline-signed, detached, text before BEGIN...)
      await (await loadPgp()).verifyCleartext(Buffer.from(data).toString('utf8'), pgpKeys, pgpOptions);
    }
    const head = Buffer.from(data).toString('latin1');
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
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch (e) {
    throw new CotError('SIGNATURE_MALFORMED', `${source}: cleartext-signed file is not UTF-8`, { cause: e });
  }
  const v = await (await loadPgp()).verifyCleartext(text, pgpKeys, pgpOptions);
  return {
    kind: 'openpgp-cleartext',
    signedBytes: Buffer.from(v.text, 'utf8'),
    signers: v.signers,
    textMode: true,
  };
}

/**
 * A raw 64-byte ed25519 signature over exactly `data`. A key with a validity window (scriptworker lists keys without
 * one) counts only for tasks created inside it (`taskCreated`, else `at`): KEY_EXPIRED / KEY_NOT_YET_VALID when the
 * only keys that verify are outside theirs. KEY_NOT_FOUND (no ed25519 key allowed), SIGNATURE_INVALID.
 */
async function verifyEd25519(
  input: VerifySignatureInput,
  sig: Uint8Array,
  edKeys: readonly Ed25519Key[],
  source: string,
): Promise<VerifiedSignature> {
  if (edKeys.length === 0) {
    throw new CotError('KEY_NOT_FOUND', `${source}: ed25519 signature, but no ed25519 key is allowed`);
  }
  const when = input.taskCreated ?? input.at;
  let outside: { key: Ed25519Key; code: 'KEY_NOT_YET_VALID' | 'KEY_EXPIRED' } | undefined;
  for (const k of edKeys) {
    if (!(await ed25519VerifyAsync(input.data, sig, k.key))) continue;
    const code = outsideWindow(k, when);
    if (code) {
      outside ??= { key: k, code };
      continue;
    }
    return {
      kind: 'ed25519',
      signedBytes: Buffer.from(input.data),
      signers: [{ kind: 'ed25519', publicKey: k.publicKey, keySource: k.source }],
    };
  }
  if (outside) {
    const k = outside.key;
    throw new CotError(
      outside.code,
      `${source}: signed by ed25519 key ${k.publicKey} (${k.source}), which is trusted only ${describeWindow(k)}; the ${
        input.taskCreated ? 'task was created' : 'reference time is'
      } ${when.toISOString()}`,
      {
        details: {
          publicKey: k.publicKey,
          validFrom: k.validFrom?.toISOString() ?? null,
          validUntil: k.validUntil?.toISOString() ?? null,
          judgedAt: when.toISOString(),
        },
      },
    );
  }
  throw new CotError(
    'SIGNATURE_INVALID',
    `${source}: ed25519 signature does not verify against any of the ${edKeys.length} allowed key(s) (${edKeys
      .map((k) => k.publicKey)
      .join(', ')})`,
    { details: { triedKeys: edKeys.map((k) => k.publicKey) } },
  );
}

/**
 * A detached OpenPGP signature (armored or binary) over `data`: verifyDetachedPgp's codes; without OpenPGP keys,
 * SIGNATURE_MALFORMED (not armored, so neither format) or KEY_NOT_FOUND.
 */
async function verifyDetached(
  data: Uint8Array,
  sig: Uint8Array,
  pgpKeys: PgpPublicKey[],
  pgpOptions: PgpOptions,
): Promise<VerifiedSignature> {
  if (pgpKeys.length === 0) {
    throw new CotError(
      sig.length === 64 || !isArmored(sig) ? 'SIGNATURE_MALFORMED' : 'KEY_NOT_FOUND',
      `${pgpOptions.source}: signature of ${sig.length} bytes is neither a raw ed25519 signature (64 bytes) nor usable without OpenPGP keys`,
    );
  }
  const v = await (await loadPgp()).verifyDetachedPgp(data, sig, pgpKeys, pgpOptions);
  return {
    kind: 'openpgp-detached',
    signedBytes: v.signedBytes,
    signers: v.signers,
    ...(v.textMode ? { textMode: true } : {}),
  };
}
