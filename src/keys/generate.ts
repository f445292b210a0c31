import { generateKeyPairSync } from 'node:crypto';
import { lstat, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { CotError, optionRef } from '../errors.js';
import { loadPgp } from '../pgp/lazy.js';
import { writeFilesAtomic } from '../util/atomic.js';
import { checkOptions } from '../util/options.js';
import { assertDistinctOutputs } from '../util/output-paths.js';
import { ED25519_PUBLIC_KEY_COMMENT, rawPublicKey, rawSeed } from './ed25519.js';
import { PUBLIC_KEY_FILE_NAME } from './keys.js';

export interface GenerateKeyPairOptions {
  type: 'openpgp' | 'ed25519';
  /** private key file (written with mode 0600) */
  out: string;
  /** optional public key file */
  pubOut?: string;
  /** OpenPGP only: "Name <email>" */
  userId?: string;
  /** OpenPGP only: 'rsa4096' (default) or 'ed25519' */
  pgpAlgorithm?: 'rsa4096' | 'ed25519';
  /** OpenPGP only: days until the key expires (default: never) */
  expiresInDays?: number;
  /** replace existing files (default: refuse with FILE_EXISTS, so a key is never lost) */
  force?: boolean;
  /** key creation time */
  now: Date;
}

export interface GeneratedKeyPair {
  type: 'openpgp' | 'ed25519';
  /**
   * base64 32-byte key (ed25519; the file `pubOut` holds ED25519_PUBLIC_KEY_COMMENT then this line) or armored
   * public key (OpenPGP)
   */
  publicKey: string;
  /** OpenPGP fingerprint, or the base64 public key for ed25519 */
  id: string;
  privatePath: string;
  publicPath?: string;
}

function parseUserId(userId: string): { name?: string; email?: string } {
  const m = /^\s*(.*?)\s*<([^<>\s]+)>\s*$/.exec(userId);
  if (m) return { ...(m[1] ? { name: m[1] } : {}), email: m[2]! };
  if (/^[^\s@]+@[^\s@]+$/.test(userId.trim())) return { email: userId.trim() };
  if (userId.trim() === '') throw new CotError('OPTIONS_INVALID', 'the user id is empty');
  return { name: userId.trim() };
}

/** A key file about to be written: never a folder; an existing file only with `force` (FILE_EXISTS). */
async function checkTarget(path: string, what: string, force: boolean): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  if (path.endsWith('/') || st?.isDirectory()) {
    throw new CotError(
      'FILE_IS_DIRECTORY',
      `${what} ${path} is a folder: give the path of the key file to write`,
      {
        details: { path },
      },
    );
  }
  const exists = st !== undefined || (await lstat(path).catch(() => undefined)) !== undefined;
  if (exists && !force) {
    throw new CotError(
      'FILE_EXISTS',
      `${what} ${path} already exists: a key is never replaced unless you pass ${optionRef('force')} (nothing was written)`,
      { details: { path, options: ['force'] } },
    );
  }
}

/**
 * Generate a signing key pair and write it: private key 0600 (atomically), optional public key 0644 (for ed25519:
 * ED25519_PUBLIC_KEY_COMMENT, then the base64 key). Checked before anything is generated: `out` and `pubOut` are
 * two different files (OPTIONS_INVALID), `out` is not named like a public key (OPTIONS_INVALID: it could
 * never sign), neither is a
 * folder (FILE_IS_DIRECTORY), and neither exists unless `force` (FILE_EXISTS).
 */
export async function generateKeyPair(o: GenerateKeyPairOptions): Promise<GeneratedKeyPair> {
  checkOptions('generateKeyPair', o, {
    type: { kind: 'string', oneOf: ['openpgp', 'ed25519'] },
    out: { kind: 'string' },
    pubOut: { kind: 'string', optional: true },
    userId: { kind: 'string', optional: true },
    pgpAlgorithm: { kind: 'string', optional: true, oneOf: ['rsa4096', 'ed25519'] },
    force: { kind: 'boolean', optional: true },
    now: { kind: 'date', hint: "the key's creation time" },
  });
  if (PUBLIC_KEY_FILE_NAME.test(basename(o.out))) {
    throw new CotError(
      'OPTIONS_INVALID',
      `the private key file ${o.out} is named like a public key (*.pub, *_public_key): cot would refuse to sign with it; name it e.g. worker.key`,
    );
  }
  if (o.pubOut !== undefined) {
    await assertDistinctOutputs([
      { path: o.out, what: `the private key file (${optionRef('out')})`, option: 'out' },
      { path: o.pubOut, what: `the public key file (${optionRef('pubOut')})`, option: 'pubOut' },
    ]);
  }
  await checkTarget(o.out, 'private key file', Boolean(o.force));
  if (o.pubOut !== undefined) await checkTarget(o.pubOut, 'public key file', Boolean(o.force));
  let privateText: string;
  let publicText: string;
  let id: string;
  if (o.type === 'ed25519') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    privateText = rawSeed(privateKey).toString('base64');
    publicText = rawPublicKey(publicKey).toString('base64');
    id = publicText;
  } else {
    if (o.expiresInDays !== undefined && !(Number.isInteger(o.expiresInDays) && o.expiresInDays > 0)) {
      throw new CotError('OPTIONS_INVALID', `${optionRef('expiresInDays')} must be a positive integer`, {
        details: { options: ['expiresInDays'] },
      });
    }
    const k = await (await loadPgp()).generatePgpKey({
      algorithm: o.pgpAlgorithm ?? 'rsa4096',
      userId: parseUserId(o.userId ?? 'cot worker <cot-worker@example.invalid>'),
      date: o.now,
      ...(o.expiresInDays === undefined ? {} : { expiresInSeconds: o.expiresInDays * 86400 }),
    });
    privateText = k.privateArmored;
    publicText = k.publicArmored;
    id = k.fingerprint;
  }
  // without force, a file that appeared while the key was generated is not replaced either (link, not rename)
  const noReplace = !o.force;
  const line = (t: string) => `${t}${t.endsWith('\n') ? '' : '\n'}`;
  await writeFilesAtomic([
    { path: o.out, data: line(privateText), mode: 0o600, noReplace },
    ...(o.pubOut === undefined
      ? []
      : [
          {
            path: o.pubOut,
            data: line(o.type === 'ed25519' ? `${ED25519_PUBLIC_KEY_COMMENT}\n${publicText}` : publicText),
            mode: 0o644,
            noReplace,
          },
        ]),
  ]);
  return {
    type: o.type,
    publicKey: publicText,
    id,
    privatePath: o.out,
    ...(o.pubOut === undefined ? {} : { publicPath: o.pubOut }),
  };
}
