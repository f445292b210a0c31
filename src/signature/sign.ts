import { COT_ARTIFACT_NAMES, COT_FILE_NAMES } from '../document/names.js';
import { CotError, optionRef } from '../errors.js';
import { ed25519PublicFromRaw, ed25519Sign, ed25519Verify } from '../keys/ed25519.js';
import { describeKey, type SigningKey } from '../keys/keys.js';
import { assertCleartextSignable } from '../pgp/cleartext.js';
import { loadPgp } from '../pgp/lazy.js';
import { verifySignature } from './verify.js';

/** The signature formats a worker can produce: OpenPGP cleartext (.asc), raw ed25519 (.json + .sig), or both. */
export type SignatureFormat = 'openpgp' | 'ed25519' | 'both';

/** One file a signer produces: its artifact name in the queue, its basename in the output folder, its bytes. */
export interface SignedFile {
  artifact: string;
  name: string;
  data: Buffer;
  /**
   * A signature file (.sig, .asc): an old one is removed before any new file is put in place, and it is put in place
   * after the document it signs, so a crash never leaves a signature beside a document it does not sign.
   */
  signature: boolean;
}

/** What a document is signed for: the signature creation time and the task, for messages. */
interface SigningContext {
  now: Date;
  taskId: string;
}

/**
 * Signing as a role: one implementation per format (Ed25519DocumentSigner, OpenPgpCleartextSigner). A signer turns
 * the canonical document into the files to publish, and proves before returning that they verify with its key.
 */
export interface DocumentSigner {
  readonly format: 'ed25519' | 'openpgp';
  /** the key, as describeKey names it (`ed25519:<base64>`, `openpgp:<fingerprint> (<user id>)`) */
  readonly description: string;
  /** the key file, for "an input is an output" checks */
  readonly source: string;
  /** Refuse, before anything is signed, a document this format cannot carry (OpenPGP: SIGNING_LINE_TOO_LONG). */
  check(canonical: string): void;
  /** Sign the canonical document (pure ASCII). Throws SIGNING_FAILED when the result does not verify. */
  sign(canonical: string, context: SigningContext): Promise<SignedFile[]>;
}

/**
 * Raw ed25519 over the canonical bytes (generic-worker's format since 2019): `public/chain-of-trust.json` holds the
 * bytes, `public/chain-of-trust.json.sig` the 64-byte signature, checked against the key's own public half.
 */
class Ed25519DocumentSigner implements DocumentSigner {
  readonly format = 'ed25519';
  readonly description: string;
  readonly source: string;
  constructor(private readonly key: Extract<SigningKey, { kind: 'ed25519' }>) {
    this.description = describeKey(key);
    this.source = key.source;
  }
  check(): void {}
  async sign(canonical: string): Promise<SignedFile[]> {
    const bytes = Buffer.from(canonical, 'latin1');
    const sig = ed25519Sign(bytes, this.key.privateKey);
    if (!ed25519Verify(bytes, sig, ed25519PublicFromRaw(Buffer.from(this.key.publicKey, 'base64')))) {
      throw new CotError(
        'SIGNING_FAILED',
        `the ed25519 signature made with ${this.key.source} does not verify`,
      );
    }
    return [
      { artifact: COT_ARTIFACT_NAMES.json, name: COT_FILE_NAMES.json, data: bytes, signature: false },
      { artifact: COT_ARTIFACT_NAMES.sig, name: COT_FILE_NAMES.sig, data: sig, signature: true },
    ];
  }
}

/**
 * An OpenPGP cleartext signature (docker-worker, scriptworker): `public/chainOfTrust.json.asc`. The armored result is
 * verified with the key's public half (verifySignature) and must carry exactly the canonical text.
 */
class OpenPgpCleartextSigner implements DocumentSigner {
  readonly format = 'openpgp';
  readonly description: string;
  readonly source: string;
  constructor(private readonly key: Extract<SigningKey, { kind: 'openpgp' }>) {
    this.description = describeKey(key);
    this.source = key.source;
  }
  /** GnuPG could not verify a line over GNUPG_MAX_CLEARTEXT_LINE: SIGNING_LINE_TOO_LONG (details line/length/limit). */
  check(canonical: string): void {
    assertCleartextSignable(canonical, 'the chain-of-trust document');
  }
  async sign(canonical: string, context: SigningContext): Promise<SignedFile[]> {
    const k = this.key;
    const asc = await (await loadPgp()).clearsign(
      canonical,
      k.key,
      context.now,
      `chain of trust of task ${context.taskId}`,
    );
    const data = Buffer.from(asc, 'utf8');
    // prove the file we are about to write verifies and carries exactly the canonical text
    const check = await verifySignature({
      data,
      keys: [
        {
          kind: 'openpgp',
          key: k.key.toPublic(),
          fingerprint: k.fingerprint,
          userIds: k.userIds,
          source: k.source,
        },
      ],
      at: context.now,
    });
    if (!check.signedBytes.equals(Buffer.from(canonical, 'latin1'))) {
      throw new CotError(
        'SIGNING_FAILED',
        'the OpenPGP cleartext signature does not carry the canonical bytes',
      );
    }
    return [{ artifact: COT_ARTIFACT_NAMES.openpgp, name: COT_FILE_NAMES.openpgp, data, signature: true }];
  }
}

/**
 * The signers `format` needs, from `keys`: exactly one key per format asked for and none of another
 * (OPTIONS_INVALID, naming every problem: "`format` both needs exactly one OpenPGP private key (got 0) and ...",
 * with `details.options` ['format']). Order: ed25519 first, so its files are written before the OpenPGP document.
 */
export function documentSigners(keys: readonly SigningKey[], format: SignatureFormat): DocumentSigner[] {
  const pgp = keys.filter((k) => k.kind === 'openpgp');
  const ed = keys.filter((k) => k.kind === 'ed25519');
  const needPgp = format !== 'ed25519';
  const needEd = format !== 'openpgp';
  const problems: string[] = [];
  if (needPgp && pgp.length !== 1) problems.push(`exactly one OpenPGP private key (got ${pgp.length})`);
  if (needEd && ed.length !== 1) problems.push(`exactly one ed25519 private key (got ${ed.length})`);
  if (!needPgp && pgp.length > 0) problems.push('no OpenPGP key');
  if (!needEd && ed.length > 0) problems.push('no ed25519 key');
  if (problems.length > 0) {
    throw new CotError(
      'OPTIONS_INVALID',
      `${optionRef('format')} ${format} needs ${problems.join(' and ')}`,
      {
        details: { options: ['format'] },
      },
    );
  }
  return [
    ...(ed[0] ? [new Ed25519DocumentSigner(ed[0])] : []),
    ...(pgp[0] ? [new OpenPgpCleartextSigner(pgp[0])] : []),
  ];
}
