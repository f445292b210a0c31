import { CotError } from '../errors.js';
import { type LoadPrivateKeyOptions, loadSigningKey, loadVerificationKeys } from '../keys/keys.js';
import { loadPgp } from '../pgp/lazy.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkOptions } from '../util/options.js';

export interface CertifyOptions extends LoadPrivateKeyOptions {
  /** the trusted root's private key (armored OpenPGP) */
  withPrivate: string;
  /** the worker's public key to certify */
  keyPublic: string;
  /** where to write the certified public key (armored) */
  out: string;
  /** certification time */
  now: Date;
}

export interface CertifyResult {
  certified: string;
  certifiedBy: string;
  userIds: string[];
  out: string;
}

/** A trusted root certifies every user id of a worker's OpenPGP key (exportable, as `gpg --sign-key`). */
export async function certifyKeyFile(o: CertifyOptions): Promise<CertifyResult> {
  checkOptions('certifyKeyFile', o, {
    withPrivate: { kind: 'string' },
    keyPublic: { kind: 'string' },
    out: { kind: 'string' },
    now: { kind: 'date', hint: 'the certification time' },
  });
  const root = await loadSigningKey(o.withPrivate, o);
  if (root.kind !== 'openpgp')
    throw new CotError('KEY_INVALID', `${o.withPrivate}: certifying needs an OpenPGP private key`);
  const keys = await loadVerificationKeys([o.keyPublic]);
  if (keys.length !== 1 || keys[0]!.kind !== 'openpgp') {
    throw new CotError(
      'KEY_INVALID',
      `${o.keyPublic}: expected exactly one OpenPGP public key, found ${keys.length} key(s)`,
    );
  }
  const target = keys[0]!;
  if (target.fingerprint === root.fingerprint) throw new CotError('USAGE', 'a key cannot certify itself');
  const pgp = await loadPgp();
  const certified = await pgp.certifyKey(target.key, root.key, o.now);
  await writeFileAtomic(o.out, pgp.armorKey(certified), 0o644);
  return {
    certified: target.fingerprint,
    certifiedBy: root.fingerprint,
    userIds: target.userIds,
    out: o.out,
  };
}
