/**
 * The only module that imports `openpgp` (OpenPGP.js). Every error it raises is converted here to a coded
 * CotError with the original kept as `cause`.
 */
import * as openpgp from 'openpgp';
import { CotError, type ErrorCode, toCotError } from '../errors.js';
import { assertCleartextSignable, frameCleartext, parseCleartext } from './cleartext.js';

export type PgpPublicKey = openpgp.PublicKey;
export type PgpPrivateKey = openpgp.PrivateKey;

/** Hash algorithms refused for message signatures. */
const WEAK_HASHES = new Set<number>([
  openpgp.enums.hash.md5,
  openpgp.enums.hash.sha1,
  openpgp.enums.hash.ripemd,
]);

const HASH_NAMES: Record<number, string> = {
  [openpgp.enums.hash.md5]: 'MD5',
  [openpgp.enums.hash.sha1]: 'SHA1',
  [openpgp.enums.hash.ripemd]: 'RIPEMD160',
  [openpgp.enums.hash.sha256]: 'SHA256',
  [openpgp.enums.hash.sha384]: 'SHA384',
  [openpgp.enums.hash.sha512]: 'SHA512',
  [openpgp.enums.hash.sha224]: 'SHA224',
  [openpgp.enums.hash.sha3_256]: 'SHA3-256',
  [openpgp.enums.hash.sha3_512]: 'SHA3-512',
};

export function hashName(id: number): string {
  return HASH_NAMES[id] ?? `hash#${id}`;
}

const VERIFY_CONFIG: openpgp.PartialConfig = {
  minRSABits: 2048,
  rejectMessageHashAlgorithms: new Set(WEAK_HASHES),
  rejectPublicKeyAlgorithms: new Set([openpgp.enums.publicKey.dsa, openpgp.enums.publicKey.elgamal]),
};

/** The same settings as a complete Config, for the lower-level OpenPGP.js calls that require one. */
const FULL_VERIFY_CONFIG = { ...openpgp.config, ...VERIFY_CONFIG } as openpgp.Config;

/**
 * Classify an OpenPGP.js verification error into our code (the boundary conversion). OpenPGP.js has no error
 * codes, so this matches its messages (as of 6.3); anything unrecognised is SIGNATURE_INVALID, never success.
 */
export function classifyPgpError(e: unknown): ErrorCode {
  const m = e instanceof Error ? e.message : String(e);
  if (/revoked/i.test(m)) return 'KEY_REVOKED';
  if (/newer than the signature|creation time is in the future/i.test(m)) return 'KEY_NOT_YET_VALID';
  if (/expired/i.test(m)) return 'KEY_EXPIRED';
  if (/Insecure message hash algorithm|Hash algorithm too weak/i.test(m)) return 'SIGNATURE_WEAK_HASH';
  if (/keys are considered too weak|keys shorter than|Insecure hash algorithm/i.test(m)) return 'KEY_WEAK';
  return 'SIGNATURE_INVALID';
}

export function fingerprintOf(key: openpgp.Key): string {
  return key.getFingerprint().toUpperCase();
}

export function userIdsOf(key: openpgp.Key): string[] {
  return key.getUserIDs();
}

/** Read one or more OpenPGP public keys (armored or binary). Private key material is refused here. */
export async function readPgpPublicKeys(bytes: Uint8Array, source: string): Promise<PgpPublicKey[]> {
  let keys: openpgp.Key[];
  try {
    const text = Buffer.from(bytes).toString('utf8');
    keys = text.includes('-----BEGIN PGP')
      ? await openpgp.readKeys({ armoredKeys: text })
      : await openpgp.readKeys({ binaryKeys: bytes });
  } catch (e) {
    throw toCotError(e, 'KEY_INVALID', `${source}: not an OpenPGP public key`);
  }
  return keys.map((k) => (k.isPrivate() ? k.toPublic() : (k as PgpPublicKey)));
}

/** Read an unencrypted, v4 OpenPGP private key (armored). */
export async function readPgpPrivateKey(text: string, source: string): Promise<PgpPrivateKey> {
  let key: PgpPrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: text });
  } catch (e) {
    throw toCotError(e, 'KEY_INVALID', `${source}: not an OpenPGP private key`);
  }
  if (!key.isDecrypted()) {
    throw new CotError(
      'KEY_INVALID',
      `${source}: the OpenPGP private key is passphrase-protected; worker signing keys are stored unencrypted and protected by file permissions`,
    );
  }
  if (key.keyPacket.version !== 4) {
    throw new CotError(
      'KEY_INVALID',
      `${source}: OpenPGP key version ${key.keyPacket.version}; only v4 keys are used for signing, so that GnuPG can verify`,
    );
  }
  return key;
}

export interface GeneratedPgpKey {
  privateArmored: string;
  publicArmored: string;
  fingerprint: string;
}

export interface GeneratePgpKeyOptions {
  algorithm: 'rsa4096' | 'ed25519';
  userId: { name?: string; email?: string };
  date: Date;
  /** seconds until expiry; 0 = never */
  expiresInSeconds?: number;
}

/** Generate a v4 key (RSA-4096 or EdDSA/ed25519 "legacy", both understood by GnuPG 2.2). */
export async function generatePgpKey(o: GeneratePgpKeyOptions): Promise<GeneratedPgpKey> {
  try {
    const common = {
      userIDs: [o.userId],
      date: o.date,
      keyExpirationTime: o.expiresInSeconds ?? 0,
      format: 'armored' as const,
      config: { v6Keys: false },
    };
    const k =
      o.algorithm === 'rsa4096'
        ? await openpgp.generateKey({ ...common, type: 'rsa', rsaBits: 4096 })
        : await openpgp.generateKey({ ...common, type: 'ecc', curve: 'ed25519Legacy' });
    const pub = await openpgp.readKey({ armoredKey: k.publicKey });
    return { privateArmored: k.privateKey, publicArmored: k.publicKey, fingerprint: fingerprintOf(pub) };
  } catch (e) {
    throw toCotError(e, 'OPTIONS_INVALID', 'cannot generate the OpenPGP key');
  }
}

/**
 * Clearsign `text` (SHA512, v4 signature) and frame it exactly as GnuPG does: LF line endings, so that
 * `gpg --decrypt` gives back `text` plus the newline that ends the last line.
 */
export async function clearsign(
  text: string,
  key: PgpPrivateKey,
  date: Date,
  source = 'document',
): Promise<string> {
  assertCleartextSignable(text, source);
  let armored: string;
  let signature: openpgp.Signature;
  try {
    const message = await openpgp.createCleartextMessage({ text });
    armored = await openpgp.sign({
      message,
      signingKeys: key,
      date,
      config: { preferredHashAlgorithm: openpgp.enums.hash.sha512 },
    });
  } catch (e) {
    throw toCotError(e, 'SIGNING_FAILED', `cannot sign ${source} with OpenPGP key ${fingerprintOf(key)}`);
  }
  // OpenPGP.js frames the text with CRLF; take its signature block and frame it as GnuPG does (LF).
  const parsed = parseCleartext(armored, 'OpenPGP.js output');
  if (parsed.text !== text)
    throw new CotError('SIGNING_FAILED', `${source}: OpenPGP.js changed the signed text`);
  try {
    signature = await openpgp.readSignature({ armoredSignature: parsed.armoredSignature });
  } catch (e) {
    throw toCotError(e, 'SIGNING_FAILED', `${source}: OpenPGP.js produced an unreadable signature`);
  }
  const packet = signature.packets[0];
  if (packet?.version !== 4 || signature.packets.length !== 1) {
    throw new CotError(
      'SIGNING_FAILED',
      `${source}: OpenPGP.js produced a signature that is not a single v4 signature`,
    );
  }
  return frameCleartext(text, hashName(packet.hashAlgorithm as number), parsed.armoredSignature);
}

/** A revocation of a key or subkey, checked to be made by the key itself. */
export interface Revocation {
  /** HARD (no reason, compromised, unknown): every signature by the key is void, past ones included.
   *  SOFT (superseded, retired): only signatures made at or after `revokedAt` are void. */
  hard: boolean;
  reason: string;
  revokedAt: Date;
  /** fingerprint of the revoked (sub)key */
  fingerprint: string;
  subkey: boolean;
}

const SOFT_REASONS = new Set<number>([
  openpgp.enums.reasonForRevocation.keySuperseded,
  openpgp.enums.reasonForRevocation.keyRetired,
]);

function reasonName(flag: number | null): string {
  if (flag === null) return 'no reason given';
  switch (flag) {
    case openpgp.enums.reasonForRevocation.noReason:
      return 'no reason specified';
    case openpgp.enums.reasonForRevocation.keySuperseded:
      return 'key superseded';
    case openpgp.enums.reasonForRevocation.keyCompromised:
      return 'key compromised';
    case openpgp.enums.reasonForRevocation.keyRetired:
      return 'key retired';
    default:
      return `reason ${flag}`;
  }
}

/**
 * Every valid self-revocation of `key` and of the subkey holding `keyId` (when given). Revocation signatures are
 * verified without any clock (their validity does not depend on when we look).
 */
export async function revocationsOf(key: PgpPublicKey, keyId?: openpgp.KeyID): Promise<Revocation[]> {
  const out: Revocation[] = [];
  const noClock = null as unknown as Date;
  const record = (rev: openpgp.SignaturePacket, fingerprint: string, subkey: boolean) => {
    const flag = rev.reasonForRevocationFlag ?? null;
    out.push({
      hard: flag === null || !SOFT_REASONS.has(flag),
      reason: `${reasonName(flag)}${rev.reasonForRevocationString ? `: ${rev.reasonForRevocationString}` : ''}`,
      revokedAt: rev.created ?? new Date(0),
      fingerprint,
      subkey,
    });
  };
  for (const rev of key.revocationSignatures) {
    try {
      await rev.verify(key.keyPacket, openpgp.enums.signature.keyRevocation, { key: key.keyPacket }, noClock);
      record(rev, fingerprintOf(key), false);
    } catch {
      // not made by this key (or corrupt): no effect
    }
  }
  if (keyId) {
    for (const sub of key.subkeys) {
      if (!sub.getKeyID().equals(keyId)) continue;
      for (const rev of sub.revocationSignatures) {
        try {
          await rev.verify(
            key.keyPacket,
            openpgp.enums.signature.subkeyRevocation,
            { key: key.keyPacket, bind: sub.keyPacket },
            noClock,
          );
          record(rev, sub.getFingerprint().toUpperCase(), true);
        } catch {
          // ignore invalid revocations
        }
      }
    }
  }
  return out;
}

/** The revocation that voids a signature made at `at` by this key, if any (hard first). */
export async function revocationAt(
  key: PgpPublicKey,
  at: Date,
  keyId?: openpgp.KeyID,
): Promise<Revocation | undefined> {
  const revs = await revocationsOf(key, keyId);
  return revs.find((r) => r.hard) ?? revs.find((r) => r.revokedAt.getTime() <= at.getTime());
}

export function describeRevocation(r: Revocation): string {
  return `${r.subkey ? 'subkey' : 'key'} ${r.fingerprint} was revoked on ${r.revokedAt.toISOString()} (${r.reason}; ${
    r.hard
      ? 'a hard revocation voids every signature, past ones included'
      : 'a soft revocation voids signatures made from then on'
  })`;
}

/** Who signed, as established by a successful verification. */
export interface PgpSigner {
  kind: 'openpgp';
  /** primary key fingerprint */
  fingerprint: string;
  /** fingerprint of the (sub)key that made the signature */
  signingKeyFingerprint: string;
  userIds: string[];
  /** signature creation time */
  signedAt: Date;
  hashAlgorithm: string;
  /** the primary key's expiry (null = never), for "expired since" reporting */
  keyExpires: Date | null;
  /** for a key that needs certification: the trusted root that certified it */
  certifiedBy?: { fingerprint: string; userIds: string[]; certifiedAt: Date };
}

export interface PgpVerifyOptions {
  /** reference time of this verification run */
  at: Date;
  /** allowed clock skew for signatures dated slightly in the future (or before `taskCreated`), in seconds
   *  (default 300) */
  skewSeconds?: number;
  /** when the task was created (from the queue, never from the signed document): a signature dated earlier
   *  (minus the skew) is SIGNATURE_BEFORE_TASK */
  taskCreated?: Date;
  source?: string;
  /** hash names from a cleartext Hash: header, to cross-check */
  hashHeaders?: string[];
}

async function keyExpiry(key: PgpPublicKey): Promise<Date | null> {
  try {
    const t = await key.getExpirationTime();
    return t instanceof Date ? t : null;
  } catch {
    return null;
  }
}

/** Most signature packets one message may carry; workers make one (two during a key rotation). */
export const MAX_SIGNATURE_PACKETS = 8;

/**
 * Refuse, before any cryptography, a signature block with more than MAX_SIGNATURE_PACKETS packets or with one
 * issuer twice (the same packet repeated, or two signatures by one key): no worker makes either, and each packet
 * costs a verification. SIGNATURE_MALFORMED, `details.reason` `too-many-signatures` or `duplicate-signature`.
 */
function assertSignaturePacketSet(packets: readonly openpgp.SignaturePacket[], source: string): void {
  if (packets.length > MAX_SIGNATURE_PACKETS) {
    throw new CotError(
      'SIGNATURE_MALFORMED',
      `${source}: ${packets.length} signature packets; at most ${MAX_SIGNATURE_PACKETS} are accepted`,
      { details: { reason: 'too-many-signatures', packets: packets.length } },
    );
  }
  const seen = new Map<string, number>();
  packets.forEach((p, i) => {
    // OpenPGP.js keeps packets it cannot parse (unknown tags or versions) in the list, without these fields
    if (!(p instanceof openpgp.SignaturePacket) || !p.issuerKeyID || !(p.created instanceof Date)) {
      throw new CotError(
        'SIGNATURE_MALFORMED',
        `${source}: packet ${i + 1} of the signature block is not a readable signature packet with an issuer and a creation time`,
      );
    }
    const issuer = p.issuerKeyID.toHex().toUpperCase();
    const first = seen.get(issuer);
    if (first !== undefined) {
      throw new CotError(
        'SIGNATURE_MALFORMED',
        `${source}: signature packets ${first + 1} and ${i + 1} are both by key ID ${issuer}; one signer may sign once`,
        { details: { reason: 'duplicate-signature', keyId: issuer } },
      );
    }
    seen.set(issuer, i);
  });
}

/** A time check not requested: `null` makes OpenPGP.js skip it (it would otherwise read the clock). */
const NO_CLOCK = null as unknown as Date;

/**
 * Merge copies of one key (same primary fingerprint, e.g. the same key in two files of a repository) into one
 * key carrying every copy's revocations, certifications, self-signatures and subkeys, so that a revocation on any
 * copy applies (a stale copy without it cannot be used instead). Each copy is re-read from its bytes first, so
 * the given key objects are never modified. Uses OpenPGP.js `Key.update` without a clock: nothing is dropped for
 * having expired (expiry is judged later, as of the signature's time).
 */
export async function mergeKeyCopies(copies: readonly PgpPublicKey[]): Promise<PgpPublicKey> {
  const first = copies[0];
  if (!first) throw new CotError('INTERNAL', 'mergeKeyCopies: no key');
  if (copies.length === 1) return first;
  const fingerprint = fingerprintOf(first);
  try {
    const fresh = async (k: PgpPublicKey) =>
      (await openpgp.readKey({ binaryKey: k.write() })) as unknown as PgpPublicKey;
    let merged = await fresh(first);
    for (const copy of copies.slice(1)) {
      if (fingerprintOf(copy) !== fingerprint)
        throw new Error(`${fingerprintOf(copy)} is not a copy of ${fingerprint}`);
      merged = (await merged.update(await fresh(copy), NO_CLOCK, openpgp.config)) as PgpPublicKey;
    }
    return merged;
  } catch (e) {
    throw toCotError(e, 'INTERNAL', `cannot merge the copies of key ${fingerprint}`);
  }
}

/** Group keys by primary fingerprint and merge each group's copies (order of first appearance kept). */
export async function mergeDuplicateKeys(keys: readonly PgpPublicKey[]): Promise<PgpPublicKey[]> {
  const groups = new Map<string, PgpPublicKey[]>();
  for (const k of keys) {
    const fpr = fingerprintOf(k);
    const g = groups.get(fpr);
    if (g) g.push(k);
    else groups.set(fpr, [k]);
  }
  return Promise.all([...groups.values()].map((g) => mergeKeyCopies(g)));
}

/**
 * Verify every signature packet of `signature` over `message`. Each must come from one of `keys`
 * and verify as of its own creation time (so keys that expired since still verify old signatures; a
 * revocation is judged by OpenPGP.js as of that time too). Returns one signer per signature.
 * Copies of one key among `keys` are merged first (a revocation on any copy counts). Refused before any
 * verification: more than MAX_SIGNATURE_PACKETS packets or one issuer twice (SIGNATURE_MALFORMED); per packet,
 * a creation time after `at` + skew (SIGNATURE_FROM_FUTURE) or before `taskCreated` - skew
 * (SIGNATURE_BEFORE_TASK: a worker signs a task's document after the task exists, so an earlier date is a
 * backdated signature, e.g. by a key that has expired since).
 */
async function verifyMessage(
  message: openpgp.Message<Uint8Array | string>,
  signature: openpgp.Signature,
  keys: readonly PgpPublicKey[],
  o: PgpVerifyOptions,
): Promise<PgpSigner[]> {
  const source = o.source ?? 'signature';
  const packets = signature.packets;
  if (packets.length === 0) throw new CotError('SIGNATURE_MISSING', `${source}: no signature packet`);
  assertSignaturePacketSet(packets, source);
  const signers: PgpSigner[] = [];
  for (const packet of packets) {
    const created = checkPacket(packet, o, source);
    signers.push(await verifyPacket(message, packet, created, keys, source));
  }
  return signers;
}

type SignaturePacket = openpgp.Signature['packets'][number];

/**
 * What is refused of one signature packet before any cryptography: a hash other than the Hash: header's
 * (SIGNATURE_HASH_HEADER_MISMATCH), a weak hash (SIGNATURE_WEAK_HASH), no creation time (SIGNATURE_MALFORMED), a
 * creation time after `at` + skew (SIGNATURE_FROM_FUTURE) or before `taskCreated` - skew (SIGNATURE_BEFORE_TASK).
 * Returns the creation time.
 */
function checkPacket(packet: SignaturePacket, o: PgpVerifyOptions, source: string): Date {
  const skewMs = (o.skewSeconds ?? 300) * 1000;
  const hashAlgo = packet.hashAlgorithm as number;
  const hname = hashName(hashAlgo);
  if (o.hashHeaders && o.hashHeaders.length > 0 && !o.hashHeaders.includes(hname)) {
    throw new CotError(
      'SIGNATURE_HASH_HEADER_MISMATCH',
      `${source}: the Hash: header says ${o.hashHeaders.join(',')} but the signature uses ${hname}`,
    );
  }
  if (WEAK_HASHES.has(hashAlgo)) {
    throw new CotError('SIGNATURE_WEAK_HASH', `${source}: signature uses ${hname}, which is refused`);
  }
  const created = packet.created;
  if (!(created instanceof Date))
    throw new CotError('SIGNATURE_MALFORMED', `${source}: signature has no creation time`);
  if (created.getTime() > o.at.getTime() + skewMs) {
    throw new CotError(
      'SIGNATURE_FROM_FUTURE',
      `${source}: signature made at ${created.toISOString()}, later than the reference time ${o.at.toISOString()} plus ${skewMs / 1000}s skew`,
    );
  }
  if (o.taskCreated && created.getTime() < o.taskCreated.getTime() - skewMs) {
    throw new CotError(
      'SIGNATURE_BEFORE_TASK',
      `${source}: signature made at ${created.toISOString()}, before the task was created (${o.taskCreated.toISOString()}, minus ${skewMs / 1000}s skew): a worker cannot sign a task that did not exist yet`,
      { details: { signedAt: created.toISOString(), taskCreated: o.taskCreated.toISOString() } },
    );
  }
  return created;
}

/**
 * One packet against the allowed keys holding its issuer (copies merged): the first that is not revoked as of
 * `created` and verifies wins. KEY_NOT_FOUND (no allowed key has the issuer), KEY_REVOKED, else the code
 * classifyPgpError gives the last failure.
 */
async function verifyPacket(
  message: openpgp.Message<Uint8Array | string>,
  packet: SignaturePacket,
  created: Date,
  keys: readonly PgpPublicKey[],
  source: string,
): Promise<PgpSigner> {
  const issuer = packet.issuerKeyID;
  const candidates = await mergeDuplicateKeys(keys.filter((k) => k.getKeys(issuer).length > 0));
  if (candidates.length === 0) {
    throw new CotError(
      'KEY_NOT_FOUND',
      `${source}: signed by OpenPGP key ID ${issuer.toHex().toUpperCase()}, which is not among the ${keys.length} allowed key(s)`,
      { details: { keyId: issuer.toHex().toUpperCase() } },
    );
  }
  let lastError: unknown;
  for (const key of candidates) {
    const revoked = await revocationAt(key, created, issuer);
    if (revoked) {
      lastError = new CotError(
        'KEY_REVOKED',
        `${source}: signature made ${created.toISOString()}: ${describeRevocation(revoked)}`,
        {
          details: {
            fingerprint: fingerprintOf(key),
            revokedAt: revoked.revokedAt.toISOString(),
            hard: revoked.hard,
          },
        },
      );
      continue;
    }
    try {
      return await verifyWithKey(message, packet, created, key);
    } catch (e) {
      lastError = e;
    }
  }
  if (lastError instanceof CotError) throw lastError;
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new CotError(
    classifyPgpError(lastError),
    `${source}: signature by ${candidates.map(fingerprintOf).join(', ')} made ${created.toISOString()} does not verify: ${reason}`,
    { cause: lastError, details: { fingerprint: fingerprintOf(candidates[0]!) } },
  );
}

/** Verify the single packet with `key` as of its creation time; the signer it describes, or what OpenPGP.js threw. */
async function verifyWithKey(
  message: openpgp.Message<Uint8Array | string>,
  packet: SignaturePacket,
  created: Date,
  key: PgpPublicKey,
): Promise<PgpSigner> {
  const single = new openpgp.Signature(new openpgp.PacketList());
  single.packets.push(packet);
  const res = await openpgp.verify({
    message,
    signature: single,
    verificationKeys: key,
    date: created,
    expectSigned: true,
    config: VERIFY_CONFIG,
  });
  const sig = res.signatures[0];
  if (!sig) throw new Error('no signature result');
  await sig.verified;
  const signingKey = key.getKeys(packet.issuerKeyID)[0]!;
  return {
    kind: 'openpgp',
    fingerprint: fingerprintOf(key),
    signingKeyFingerprint: signingKey.getFingerprint().toUpperCase(),
    userIds: userIdsOf(key),
    signedAt: created,
    hashAlgorithm: hashName(packet.hashAlgorithm as number),
    keyExpires: await keyExpiry(key),
  };
}

export interface VerifiedCleartext {
  /** exactly the text the signature covers (LF line endings); the only thing callers may parse */
  text: string;
  signers: PgpSigner[];
}

/** Verify a cleartext-signed message against allowed keys; returns only the covered text. */
export async function verifyCleartext(
  input: string,
  keys: readonly PgpPublicKey[],
  o: PgpVerifyOptions,
): Promise<VerifiedCleartext> {
  const source = o.source ?? 'cleartext';
  const parsed = parseCleartext(input, source);
  let signature: openpgp.Signature;
  try {
    signature = await openpgp.readSignature({ armoredSignature: parsed.armoredSignature });
  } catch (e) {
    throw toCotError(e, 'SIGNATURE_MALFORMED', `${source}: unreadable signature block`);
  }
  for (const p of signature.packets) {
    if (p.signatureType !== openpgp.enums.signature.text) {
      throw new CotError(
        'SIGNATURE_MALFORMED',
        `${source}: a cleartext signature must be a text signature (type 1), not type ${p.signatureType}`,
      );
    }
  }
  // A cleartext signature is a text-mode signature over the text with CRLF line endings and trailing
  // whitespace removed; parseCleartext refused trailing whitespace, so a text-mode verification of exactly
  // this text is the same computation.
  let message: openpgp.Message<string>;
  try {
    message = await openpgp.createMessage({ text: parsed.text });
  } catch (e) {
    throw toCotError(e, 'INTERNAL', `${source}: cannot prepare the text`);
  }
  const signers = await verifyMessage(message, signature, keys, {
    ...o,
    source,
    hashHeaders: parsed.hashHeaders,
  });
  return { text: parsed.text, signers };
}

export interface VerifiedDetached {
  signers: PgpSigner[];
  /** a text-mode signature (type 0x01) rather than a binary one (type 0x00) */
  textMode: boolean;
  /**
   * What the signature covers. Binary: exactly `data`. Text mode: the text with LF line endings, which may differ
   * from `data` (a text-mode signature is computed over the text with its line endings converted to CRLF,
   * RFC 4880 section 5.2.1 / RFC 9580 section 5.2.1.2, so CRLF and LF files verify alike and the signature does
   * not fix which one the signer had; LF is the form the cleartext path gives too). Trailing whitespace is
   * covered (GnuPG 2.2 and OpenPGP.js both hash it in text mode).
   */
  signedBytes: Buffer;
}

/**
 * Verify a detached OpenPGP signature (armored or binary). A binary signature covers `data` exactly; a text-mode
 * one covers its text whatever the line endings (see VerifiedDetached.signedBytes): the data must then be UTF-8
 * (a byte-order mark is kept and covered, not skipped) and may not hold a carriage return that does not end a
 * line (SIGNATURE_MALFORMED: the signature would not fix what it means).
 */
export async function verifyDetachedPgp(
  data: Uint8Array,
  signatureBytes: Uint8Array,
  keys: readonly PgpPublicKey[],
  o: PgpVerifyOptions,
): Promise<VerifiedDetached> {
  const source = o.source ?? 'signature';
  let signature: openpgp.Signature;
  try {
    const text = Buffer.from(signatureBytes).toString('latin1');
    signature = text.startsWith('-----BEGIN PGP SIGNATURE-----')
      ? await openpgp.readSignature({ armoredSignature: text })
      : await openpgp.readSignature({ binarySignature: signatureBytes });
  } catch (e) {
    throw toCotError(e, 'SIGNATURE_MALFORMED', `${source}: not an OpenPGP signature`);
  }
  assertSignaturePacketSet(signature.packets, source);
  const types = new Set(signature.packets.map((p) => p.signatureType));
  if (types.size !== 1) throw new CotError('SIGNATURE_MALFORMED', `${source}: mixed signature types`);
  const textMode = types.has(openpgp.enums.signature.text);
  if (!textMode && !types.has(openpgp.enums.signature.binary)) {
    throw new CotError('SIGNATURE_MALFORMED', `${source}: not a document signature`);
  }
  if (!textMode) {
    let message: openpgp.Message<Uint8Array>;
    try {
      message = await openpgp.createMessage({ binary: data });
    } catch (e) {
      throw toCotError(e, 'INTERNAL', `${source}: cannot prepare the data`);
    }
    const signers = await verifyMessage(message, signature, keys, { ...o, source });
    return { signers, textMode, signedBytes: Buffer.from(data) };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(data);
  } catch (e) {
    throw toCotError(e, 'SIGNATURE_INVALID', `${source}: text-mode signature over data that is not UTF-8`);
  }
  const strayCr = /\r(?!\n)/.exec(text);
  if (strayCr) {
    const line = text.slice(0, strayCr.index).split('\n').length;
    throw new CotError(
      'SIGNATURE_MALFORMED',
      `${source}: text-mode signature over data with a carriage return that does not end a line (line ${line}); the signature would not fix what it means`,
    );
  }
  let message: openpgp.Message<string>;
  try {
    message = await openpgp.createMessage({ text });
  } catch (e) {
    throw toCotError(e, 'INTERNAL', `${source}: cannot prepare the text`);
  }
  const signers = await verifyMessage(message, signature, keys, { ...o, source });
  return { signers, textMode, signedBytes: Buffer.from(text.replace(/\r\n/g, '\n'), 'utf8') };
}

/** One certification (by another key) on one of a key's user ids, checked against the trusted roots. */
export interface CertificationFinding {
  userId: string;
  /** key ID of the certifying key (upper-case hex) */
  issuerKeyId: string;
  created: Date;
  /** when the certification itself expires (its signature expiration time subpacket), null = never */
  expires: Date | null;
  /** the trusted root that made it, when the issuer is one */
  root?: PgpPublicKey;
  /** for a root's certification: whether it is valid (root valid and not voided by revocation when it certified) */
  valid?: boolean;
  reason?: string;
}

/**
 * Every certification by another key on `key`'s user ids. Those made by one of `roots` are verified as of their
 * own creation time: the root must have been valid then (not expired, not yet-to-be-created), and not revoked
 * (a hard revocation of the root voids all its certifications; a soft one only those made after it). The
 * certification's own expiry is reported (`expires`) but not judged here: whether it had expired when a document
 * was signed is for the caller to decide (resolveCertification).
 */
export async function checkCertifications(
  key: PgpPublicKey,
  roots: readonly PgpPublicKey[],
): Promise<CertificationFinding[]> {
  const out: CertificationFinding[] = [];
  for (const user of key.users) {
    const userId = user.userID?.userID ?? '(user attribute)';
    for (const cert of user.otherCertifications) {
      const issuer = cert.issuerKeyID;
      const created = cert.created ?? new Date(0);
      const exp = cert.getExpirationTime();
      const finding: CertificationFinding = {
        userId,
        issuerKeyId: issuer.toHex().toUpperCase(),
        created,
        expires: exp instanceof Date ? exp : null,
      };
      const root = roots.find((r) => r.getKeys(issuer).length > 0);
      if (root) {
        finding.root = root;
        const revoked = await revocationAt(root, created, issuer);
        if (revoked) {
          finding.valid = false;
          finding.reason = `the certifying root ${describeRevocation(revoked)}`;
        } else {
          try {
            const r = await user.verifyCertificate(cert, [root], created, FULL_VERIFY_CONFIG);
            finding.valid = r === true;
            if (!finding.valid) finding.reason = 'the certification could not be checked against the root';
          } catch (e) {
            finding.valid = false;
            finding.reason = e instanceof Error ? e.message : String(e);
          }
        }
      }
      out.push(finding);
    }
  }
  return out;
}

/** Certify every user id of `target` with `signer` (exportable generic certification, as `gpg --sign-key`). */
export async function certifyKey(
  target: PgpPublicKey,
  signer: PgpPrivateKey,
  date: Date,
): Promise<PgpPublicKey> {
  try {
    return await target.signAllUsers([signer], date, FULL_VERIFY_CONFIG);
  } catch (e) {
    throw toCotError(
      e,
      'SIGNING_FAILED',
      `cannot certify ${fingerprintOf(target)} with ${fingerprintOf(signer)}`,
    );
  }
}

export function armorKey(key: PgpPublicKey): string {
  return key.armor();
}

/** Facts about a key for listings and lint. */
export interface PgpKeyFacts {
  fingerprint: string;
  keyId: string;
  userIds: string[];
  created: Date;
  /** primary key expiry as of now-independent self-signatures; null = never */
  expires: Date | null;
  algorithm: string;
  bits?: number;
  version: number;
  /** why the key material is refused, if it is */
  weak?: string;
}

export async function keyFacts(key: PgpPublicKey): Promise<PgpKeyFacts> {
  const info = key.getAlgorithmInfo();
  let weak: string | undefined;
  if (info.algorithm === 'dsa' || info.algorithm === 'elgamal')
    weak = `${info.algorithm.toUpperCase()} keys are refused`;
  if ((info.algorithm === 'rsaSign' || info.algorithm === 'rsaEncryptSign') && (info.bits ?? 0) < 2048) {
    weak = `RSA-${info.bits} is under 2048 bits`;
  }
  return {
    fingerprint: fingerprintOf(key),
    keyId: key.getKeyID().toHex().toUpperCase(),
    userIds: userIdsOf(key),
    created: key.getCreationTime(),
    expires: await keyExpiry(key),
    algorithm: info.bits
      ? `${info.algorithm}-${info.bits}`
      : `${info.algorithm}${info.curve ? `/${info.curve}` : ''}`,
    ...(info.bits ? { bits: info.bits } : {}),
    version: key.keyPacket.version,
    ...(weak ? { weak } : {}),
  };
}
