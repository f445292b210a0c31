import type { Signer } from '../signature/verify.js';

/** How one signer is shown: every report (text, JSON, HTML; one link or a chain) takes it from presentSigner. */
export interface SignerPresentation {
  /**
   * The full sentence after "signed by" in `cot verify-link`, `verify-signature` and `keys verify-repo`:
   * `ed25519 key KEY (SOURCE)`, or `OpenPGP key FPR UID, certified by trusted root FPR UID on TIME, signed TIME with
   * HASH; key expired since TIME` (the certification and expiry parts only when they apply).
   */
  text: string;
  /** The short form of a chain report's `signer` (text, JSON and HTML): `ed25519 KEY`, `openpgp FPR (UID)`. */
  brief: string;
  /** The certifying root in a chain report's `certifiedBy`, `FPR (UID)`; absent when the key is not certified. */
  certifiedBy?: string;
  /** The `signers[]` entry of the --json outputs (schemas/verify-link.schema.json and others); times ISO 8601. */
  json: Record<string, unknown>;
}

/** `FPR (UID)` when the key has a user id, else `FPR`. */
const withUid = (fingerprint: string, userIds: readonly string[]) =>
  `${fingerprint}${userIds[0] ? ` (${userIds[0]})` : ''}`;

/**
 * The one presenter of a signer, in every form the reports show. `at` is the reference time of the verification:
 * an OpenPGP key that expired before it is said to be expired (`keyExpiredAtReferenceTime` in JSON). Pure.
 */
export function presentSigner(s: Signer, at: Date): SignerPresentation {
  if (s.kind === 'ed25519') {
    return {
      text: `ed25519 key ${s.publicKey} (${s.keySource})`,
      brief: `ed25519 ${s.publicKey}`,
      json: { kind: s.kind, publicKey: s.publicKey, keySource: s.keySource },
    };
  }
  const c = s.certifiedBy;
  const uid = s.userIds[0] ? ` ${s.userIds[0]}` : '';
  const cert = c
    ? `, certified by trusted root ${c.fingerprint}${c.userIds[0] ? ` ${c.userIds[0]}` : ''} on ${c.certifiedAt.toISOString()}`
    : '';
  const expiredAtRef = s.keyExpires ? s.keyExpires.getTime() < at.getTime() : false;
  const expired = expiredAtRef ? `; key expired since ${s.keyExpires!.toISOString()}` : '';
  return {
    text: `OpenPGP key ${s.fingerprint}${uid}${cert}, signed ${s.signedAt.toISOString()} with ${s.hashAlgorithm}${expired}`,
    brief: `openpgp ${withUid(s.fingerprint, s.userIds)}`,
    ...(c ? { certifiedBy: withUid(c.fingerprint, c.userIds) } : {}),
    json: {
      kind: s.kind,
      fingerprint: s.fingerprint,
      signingKeyFingerprint: s.signingKeyFingerprint,
      userIds: s.userIds,
      signedAt: s.signedAt.toISOString(),
      hashAlgorithm: s.hashAlgorithm,
      keyExpires: s.keyExpires ? s.keyExpires.toISOString() : null,
      keyExpiredAtReferenceTime: expiredAtRef,
      certifiedBy: c
        ? { fingerprint: c.fingerprint, userIds: c.userIds, certifiedAt: c.certifiedAt.toISOString() }
        : null,
    },
  };
}

/**
 * The signers of one verified document as a chain link records them: `signer`, their brief forms joined by `, `;
 * `certifiedBy`, the root of the first certified OpenPGP signer (absent when none is certified).
 */
export function presentLinkSigners(
  signers: readonly Signer[],
  at: Date,
): { signer: string; certifiedBy?: string } {
  const shown = signers.map((s) => presentSigner(s, at));
  const certifiedBy = shown.find((p) => p.certifiedBy !== undefined)?.certifiedBy;
  return { signer: shown.map((p) => p.brief).join(', '), ...(certifiedBy ? { certifiedBy } : {}) };
}

/** The signers of a verification as the one-line CLI results show them: full sentences joined by `; `. */
export function describeSigners(signers: readonly Signer[], at: Date): string {
  return signers.map((s) => presentSigner(s, at).text).join('; ');
}
