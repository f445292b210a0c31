import { CotError, optionRef } from '../errors.js';
import { type LoadPrivateKeyOptions, loadSigningKey, loadVerificationKeys } from '../keys/keys.js';
import { loadPgp } from '../pgp/lazy.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkOptions } from '../util/options.js';
import { assertDistinctOutputs } from '../util/output-paths.js';

export interface CertifyOptions extends LoadPrivateKeyOptions {
  /** the trusted root's private key (armored OpenPGP) */
  withPrivate: string;
  /** the worker's public key to certify */
  keyPublic: string;
  /** where to write the certified public key (armored) */
  out: string;
  /** certification time */
  now: Date;
  /** replace an existing `out` (default: refuse with FILE_EXISTS; a key file is never replaced silently) */
  force?: boolean;
}

export interface CertifyResult {
  certified: string;
  certifiedBy: string;
  userIds: string[];
  out: string;
}

/**
 * A trusted root certifies every user id of a worker's OpenPGP key (exportable, as `gpg --sign-key`). `out` may be
 * neither the root's key file nor the worker's (OPTIONS_INVALID), nor an existing file unless `force` (FILE_EXISTS), nor a
 * folder (FILE_IS_DIRECTORY). A public key given as the root's is KEY_INVALID (loadSigningKey).
 */
export async function certifyKeyFile(o: CertifyOptions): Promise<CertifyResult> {
  checkOptions('certifyKeyFile', o, {
    withPrivate: { kind: 'string' },
    keyPublic: { kind: 'string' },
    out: { kind: 'string' },
    now: { kind: 'date', hint: 'the certification time' },
  });
  await assertDistinctOutputs(
    [{ path: o.out, what: `the certified key file (${optionRef('out')})`, option: 'out' }],
    [
      {
        path: o.withPrivate,
        what: `root's private key (${optionRef('withPrivate')})`,
        option: 'withPrivate',
      },
      { path: o.keyPublic, what: `worker's public key (${optionRef('keyPublic')})`, option: 'keyPublic' },
    ],
  );
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
  if (target.fingerprint === root.fingerprint)
    throw new CotError('OPTIONS_INVALID', 'a key cannot certify itself');
  const pgp = await loadPgp();
  const certified = await pgp.certifyKey(target.key, root.key, o.now);
  await writeFileAtomic(o.out, pgp.armorKey(certified), 0o644, { noReplace: !o.force });
  return {
    certified: target.fingerprint,
    certifiedBy: root.fingerprint,
    userIds: target.userIds,
    out: o.out,
  };
}
