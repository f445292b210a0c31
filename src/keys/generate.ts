import { generateKeyPairSync } from 'node:crypto';
import { access } from 'node:fs/promises';
import { CotError } from '../errors.js';
import { loadPgp } from '../pgp/lazy.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkOptions } from '../util/options.js';
import { rawPublicKey, rawSeed } from './ed25519.js';

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
  /** replace existing files (default: refuse, so a key is never lost) */
  force?: boolean;
  /** key creation time */
  now: Date;
}

export interface GeneratedKeyPair {
  type: 'openpgp' | 'ed25519';
  /** base64 32-byte key (ed25519) or armored public key (OpenPGP) */
  publicKey: string;
  /** OpenPGP fingerprint, or the base64 public key for ed25519 */
  id: string;
  privatePath: string;
  publicPath?: string;
}

export function parseUserId(userId: string): { name?: string; email?: string } {
  const m = /^\s*(.*?)\s*<([^<>\s]+)>\s*$/.exec(userId);
  if (m) return { ...(m[1] ? { name: m[1] } : {}), email: m[2]! };
  if (/^[^\s@]+@[^\s@]+$/.test(userId.trim())) return { email: userId.trim() };
  if (userId.trim() === '') throw new CotError('USAGE', 'the user id is empty');
  return { name: userId.trim() };
}

async function refuseOverwrite(path: string | undefined): Promise<void> {
  if (path === undefined) return;
  const exists = await access(path).then(
    () => true,
    () => false,
  );
  if (exists) throw new CotError('USAGE', `${path} already exists; pass --force to replace it`);
}

/** Generate a signing key pair and write it: private key 0600 (atomically), optional public key 0644. */
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
  if (!o.force) {
    await refuseOverwrite(o.out);
    await refuseOverwrite(o.pubOut);
  }
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
      throw new CotError('USAGE', '--expires-in-days must be a positive integer');
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
  await writeFileAtomic(o.out, `${privateText}${privateText.endsWith('\n') ? '' : '\n'}`, 0o600);
  if (o.pubOut !== undefined) {
    await writeFileAtomic(o.pubOut, `${publicText}${publicText.endsWith('\n') ? '' : '\n'}`, 0o644);
  }
  return {
    type: o.type,
    publicKey: publicText,
    id,
    privatePath: o.out,
    ...(o.pubOut === undefined ? {} : { publicPath: o.pubOut }),
  };
}
