import type { KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { CotError, fsError, notAFile, optionRef } from '../errors.js';
import { loadPgp } from '../pgp/lazy.js';
import type { PgpPrivateKey, PgpPublicKey } from '../pgp/openpgp.js';
import { readBounded } from '../util/read.js';
import {
  type Ed25519PrivateFormat,
  parseEd25519PrivateKey,
  parseEd25519PublicKey,
  rawPublicKey,
} from './ed25519.js';

/** A key that signs chain-of-trust documents. */
export type SigningKey =
  | {
      kind: 'ed25519';
      privateKey: KeyObject;
      /** base64 of the 32-byte public key */
      publicKey: string;
      format: Ed25519PrivateFormat;
      source: string;
    }
  | { kind: 'openpgp'; key: PgpPrivateKey; fingerprint: string; userIds: string[]; source: string };

/**
 * A key allowed to verify signatures. `source` names the file it came from; `sources`, when set, every file
 * holding a copy of it (copies merged by the trust store). An ed25519 key from a trust file may carry a
 * validity window (`validFrom` inclusive, `validUntil` exclusive), judged against the task's creation time.
 */
export type VerificationKey =
  | {
      kind: 'ed25519';
      key: KeyObject;
      /** base64 of the 32 raw bytes */
      publicKey: string;
      source: string;
      sources?: string[];
      validFrom?: Date;
      validUntil?: Date;
    }
  | {
      kind: 'openpgp';
      key: PgpPublicKey;
      fingerprint: string;
      userIds: string[];
      source: string;
      sources?: string[];
    };

export interface LoadPrivateKeyOptions {
  /** Accept a key file readable/writable by group or others, or owned by someone else. Default false. */
  allowInsecureKeyPermissions?: boolean;
}

/** Largest key file we read (an armored RSA-4096 private key is about 7 KiB). */
const MAX_KEY_FILE = 1024 * 1024;

async function readSmallFile(
  path: string,
  what: string,
): Promise<{ bytes: Buffer; mode: number; uid: number }> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw fsError(e, path, `cannot open ${what}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notAFile(path, what, st);
    const bytes = await readBounded(
      fh,
      MAX_KEY_FILE,
      (size) => new CotError('KEY_INVALID', `${what} ${path} is ${size} bytes: too large to be a key`),
    );
    return { bytes, mode: st.mode & 0o7777, uid: st.uid };
  } catch (e) {
    throw fsError(e, path, `cannot read ${what}`);
  } finally {
    await fh.close();
  }
}

/**
 * Refuse a private key that others could read or replace, as ssh does: mode must grant nothing to group or
 * others, and the file must belong to the running user. Checked on the opened file (fstat), not the path.
 * Throws KEY_INSECURE_PERMISSIONS (details: path, mode, uid; names `allowInsecureKeyPermissions`).
 */
function checkPrivateKeyPermissions(path: string, mode: number, uid: number): void {
  const problems: string[] = [];
  if (mode & 0o077) {
    problems.push(
      `its mode is ${mode.toString(8).padStart(4, '0')}, which lets group or others read or write it (use chmod 600)`,
    );
  }
  const me = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (me !== undefined && uid !== me)
    problems.push(`it is owned by uid ${uid}, not by the running user (uid ${me})`);
  if (problems.length > 0) {
    throw new CotError(
      'KEY_INSECURE_PERMISSIONS',
      `private key ${path} is not protected: ${problems.join('; ')}. Pass ${optionRef('allowInsecureKeyPermissions')} to use it anyway`,
      { details: { path, mode: mode.toString(8), uid, options: ['allowInsecureKeyPermissions'] } },
    );
  }
}

/**
 * File names of public keys: `*.pub` (and `*.pub.asc`, `*.pub.gpg`), and scriptworker's `*_public_key`. A signing
 * key is never loaded from such a file, and `cot keys new` never writes a private key to one.
 */
export const PUBLIC_KEY_FILE_NAME = /(\.pub(\.asc|\.gpg)?|[_-]public[_-]key)$/i;

/**
 * Why `bytes` (the file `path`) is a public key and not a private one, or undefined when nothing says so: a public
 * key file name (PUBLIC_KEY_FILE_NAME), an armored or binary OpenPGP public key, or the comment line `cot keys new`
 * writes above an ed25519 public key (ED25519_PUBLIC_KEY_COMMENT; any `#` line naming a public key counts). Old
 * ed25519 public key files without the comment are base64 of 32 bytes, exactly like a seed: only their name tells.
 */
function publicKeyReason(path: string, bytes: Uint8Array): string | undefined {
  const name = basename(path);
  if (PUBLIC_KEY_FILE_NAME.test(name)) return `its name (${name}) is that of a public key`;
  const text = Buffer.from(bytes.subarray(0, 4096)).toString('latin1');
  if (text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) return 'it holds an OpenPGP public key';
  // binary OpenPGP: the first packet is a public key (tag 6), old format 0b10_0110_xx or new format 0xC6
  const b = bytes[0];
  if (b !== undefined && (b === 0xc6 || (b & 0xfc) === 0x98))
    return 'it holds an OpenPGP public key (binary)';
  if (/^\s*#.*\bpublic key\b/im.test(text))
    return 'it is an ed25519 public key file (its comment line says so)';
  return undefined;
}

/** KEY_INVALID for a public key given where a private key is needed (checked before its permissions). */
export function assertNotPublicKey(path: string, bytes: Uint8Array, what = 'private key'): void {
  const reason = publicKeyReason(path, bytes);
  if (reason !== undefined) {
    throw new CotError(
      'KEY_INVALID',
      `${path} is a public key, not a ${what}: ${reason}. Signing needs the private key (the other file of the key pair); give the public key to verifiers`,
      { details: { path, reason: 'public-key' } },
    );
  }
}

/**
 * Load a signing key; its type (armored OpenPGP or base64 ed25519) is detected from the content. A public key
 * (publicKeyReason: its name, an OpenPGP public key, the comment of cot's ed25519 public key files) is refused
 * with KEY_INVALID before the permissions are looked at, so nobody is told to `chmod 600` a public key. Then
 * KEY_INSECURE_PERMISSIONS (unless allowed), KEY_INVALID, FILE_NOT_FOUND, FILE_UNREADABLE.
 */
export async function loadSigningKey(path: string, options: LoadPrivateKeyOptions = {}): Promise<SigningKey> {
  const { bytes, mode, uid } = await readSmallFile(path, 'private key');
  assertNotPublicKey(path, bytes);
  if (!options.allowInsecureKeyPermissions) checkPrivateKeyPermissions(path, mode, uid);
  const text = bytes.toString('utf8');
  if (text.includes('-----BEGIN PGP PRIVATE KEY BLOCK-----')) {
    const p = await loadPgp();
    const key = await p.readPgpPrivateKey(text, path);
    return {
      kind: 'openpgp',
      key,
      fingerprint: p.fingerprintOf(key),
      userIds: p.userIdsOf(key),
      source: path,
    };
  }
  if (text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) {
    throw new CotError('KEY_INVALID', `${path} holds an OpenPGP public key; signing needs the private key`);
  }
  const k = parseEd25519PrivateKey(text, path);
  return {
    kind: 'ed25519',
    privateKey: k.privateKey,
    publicKey: k.publicKey,
    format: k.format,
    source: path,
  };
}

/**
 * Parse verification keys from bytes: armored/binary OpenPGP (possibly several keys) or base64 ed25519 (one per
 * line, `#` comments allowed). Throws KEY_INVALID (a private key, no key, or bytes that are not a key).
 */
export async function parseVerificationKeys(bytes: Uint8Array, source: string): Promise<VerificationKey[]> {
  const text = Buffer.from(bytes).toString('utf8');
  const looksBinaryPgp = bytes.length > 0 && (bytes[0]! & 0x80) !== 0;
  if (text.includes('-----BEGIN PGP') || looksBinaryPgp) {
    if (text.includes('-----BEGIN PGP PRIVATE KEY BLOCK-----')) {
      throw new CotError('KEY_INVALID', `${source} holds a private key; give verifiers the public key only`);
    }
    const p = await loadPgp();
    const keys = await p.readPgpPublicKeys(bytes, source);
    return keys.map((key) => ({
      kind: 'openpgp' as const,
      key,
      fingerprint: p.fingerprintOf(key),
      userIds: p.userIdsOf(key),
      source,
    }));
  }
  // base64 ed25519 keys, one per line; blank lines and "#" comments allowed (a key set for rotation by overlap)
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new CotError('KEY_INVALID', `${source}: no key in the file`);
  return lines.map((line, i) => {
    const key = parseEd25519PublicKey(line, lines.length > 1 ? `${source} line ${i + 1}` : source);
    return { kind: 'ed25519' as const, key, publicKey: rawPublicKey(key).toString('base64'), source };
  });
}

/**
 * Load verification keys from files (parseVerificationKeys on each). Throws FILE_NOT_FOUND / FILE_UNREADABLE and
 * what parseVerificationKeys throws.
 */
export async function loadVerificationKeys(paths: readonly string[]): Promise<VerificationKey[]> {
  const out: VerificationKey[] = [];
  for (const p of paths) out.push(...(await loadVerificationKeyFile(p)).keys);
  return out;
}

/**
 * One key file's verification keys (parseVerificationKeys) and the bytes they were read from (a policy's digest
 * names them). Throws what loadVerificationKeys throws.
 */
export async function loadVerificationKeyFile(
  path: string,
): Promise<{ keys: VerificationKey[]; bytes: Buffer }> {
  const { bytes } = await readSmallFile(path, 'public key');
  return { keys: await parseVerificationKeys(bytes, path), bytes };
}

/** A short, stable identity for reports. */
export function describeKey(k: VerificationKey | SigningKey): string {
  if (k.kind === 'ed25519') return `ed25519:${k.publicKey}`;
  return `openpgp:${k.fingerprint}${k.userIds[0] ? ` (${k.userIds[0]})` : ''}`;
}
