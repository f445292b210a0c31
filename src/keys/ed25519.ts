import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { CotError } from '../errors.js';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * The first line `cot keys new` writes in an ed25519 public key file, above the base64 key: it makes the file
 * recognisable as public (a signing key is never loaded from it: publicKeyReason), and every verification-key
 * loader skips `#` lines. Files without it (older cot, other tools) still load as verification keys.
 */
export const ED25519_PUBLIC_KEY_COMMENT =
  '# ed25519 public key, for verifiers (cot verify-link --key, key repositories); it cannot sign';

/** How the private key file stored the key. */
export type Ed25519PrivateFormat = 'seed-32' | 'nacl-secret-64';

interface Ed25519PrivateKey {
  privateKey: KeyObject;
  /** base64 of the 32-byte public key */
  publicKey: string;
  format: Ed25519PrivateFormat;
}

/** Strict standard base64 (padding optional, surrounding whitespace ignored). */
function decodeBase64Strict(text: string, what: string): Buffer {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length === 0) {
    throw new CotError('KEY_INVALID', `${what}: not base64 text`);
  }
  const buf = Buffer.from(t, 'base64');
  // reject non-canonical encodings (trailing bits, wrong padding) by re-encoding
  if (buf.toString('base64').replace(/=+$/, '') !== t.replace(/=+$/, '')) {
    throw new CotError('KEY_INVALID', `${what}: non-canonical base64`);
  }
  return buf;
}

function ed25519PrivateFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

export function ed25519PublicFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  const der = pub.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32);
}

export function rawSeed(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return der.subarray(der.length - 32);
}

/**
 * Parse an ed25519 private key file: base64 of a 32-byte seed (generic-worker, scriptworker) or of a 64-byte
 * NaCl secret key, seed then public key (docker-worker). For the 64-byte form, the public half must match.
 */
export function parseEd25519PrivateKey(text: string, source: string): Ed25519PrivateKey {
  const raw = decodeBase64Strict(text, source);
  let format: Ed25519PrivateFormat;
  if (raw.length === 32) format = 'seed-32';
  else if (raw.length === 64) format = 'nacl-secret-64';
  else {
    throw new CotError(
      'KEY_INVALID',
      `${source}: an ed25519 private key is base64 of 32 bytes (seed) or 64 bytes (NaCl secret key); this is ${raw.length} bytes`,
    );
  }
  const privateKey = ed25519PrivateFromSeed(raw.subarray(0, 32));
  const pub = rawPublicKey(privateKey);
  if (format === 'nacl-secret-64' && !pub.equals(raw.subarray(32))) {
    throw new CotError(
      'KEY_INVALID',
      `${source}: 64-byte NaCl secret key whose public half does not belong to its seed (corrupt key file)`,
    );
  }
  return { privateKey, publicKey: pub.toString('base64'), format };
}

/** Parse a base64 32-byte ed25519 public key. */
export function parseEd25519PublicKey(text: string, source: string): KeyObject {
  const raw = decodeBase64Strict(text, source);
  if (raw.length !== 32) {
    throw new CotError(
      'KEY_INVALID',
      `${source}: an ed25519 public key is base64 of 32 bytes; this is ${raw.length}`,
    );
  }
  try {
    return ed25519PublicFromRaw(raw);
  } catch (e) {
    throw new CotError('KEY_INVALID', `${source}: not a valid ed25519 public key`, { cause: e });
  }
}

export function ed25519Sign(data: Uint8Array, key: KeyObject): Buffer {
  return sign(null, data, key);
}

export function ed25519Verify(data: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  if (signature.length !== 64) return false;
  try {
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}

/**
 * ed25519Verify on libuv's thread pool (node:crypto `verify` with a callback), so the main thread goes on with
 * other links meanwhile: a chain verification uses both cores. Resolves false for any failure, as ed25519Verify.
 */
export function ed25519VerifyAsync(
  data: Uint8Array,
  signature: Uint8Array,
  key: KeyObject,
): Promise<boolean> {
  if (signature.length !== 64) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      verify(null, data, key, signature, (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}
