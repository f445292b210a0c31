import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  generateKeyPair,
  loadSigningKey,
  parseVerificationKeys,
  type VerificationKey,
  verifyLink,
  verifySignature,
} from '../../../src/index.js';
import { canonicalize } from '../../../src/json/canonical.js';
import { classifyPgpError, clearsign } from '../../../src/pgp/openpgp.js';
import { codeOf, sampleDocument, tempDir } from '../../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const DOC = canonicalize(sampleDocument());

let asc: string;
let keys: VerificationKey[];
let priv: openpgp.PrivateKey;
let other: openpgp.PrivateKey;

beforeAll(async () => {
  const d = await tempDir();
  await generateKeyPair({
    type: 'openpgp',
    pgpAlgorithm: 'ed25519',
    out: join(d, 'k'),
    pubOut: join(d, 'k.pub'),
    now: new Date(NOW.getTime() - 60_000),
  });
  const sk = await loadSigningKey(join(d, 'k'));
  if (sk.kind !== 'openpgp') throw new Error('kind');
  priv = sk.key;
  keys = await parseVerificationKeys(Buffer.from(priv.toPublic().armor()), 'k.pub');
  asc = await clearsign(DOC, priv, NOW);
  other = (
    await openpgp.generateKey({
      type: 'ecc',
      curve: 'ed25519Legacy',
      userIDs: [{ email: 'other@example.com' }],
      date: new Date(NOW.getTime() - 60_000),
      format: 'object',
    })
  ).privateKey;
});

const verify = (data: string) => verifyLink({ data: Buffer.from(data, 'utf8'), keys, at: NOW });

describe('OpenPGP cleartext: only the signed block, and only the text it covers', () => {
  it('verifies the honest file and returns exactly the canonical bytes', async () => {
    const r = await verify(asc);
    expect(r.signedBytes.toString('latin1')).toBe(DOC);
  });

  it('accepts CRLF line endings throughout (same signed text)', async () => {
    const r = await verify(asc.replace(/\n/g, '\r\n'));
    expect(r.signedBytes.toString('latin1')).toBe(DOC);
  });

  it('accepts a dash-escaped line (the escape is framing, not text)', async () => {
    const r = await verify(asc.replace('\n{\n', '\n- {\n'));
    expect(r.signedBytes.toString('latin1')).toBe(DOC);
  });

  it.each([
    ['text before BEGIN', (s: string) => `{"taskId": "evil"}\n${s}`],
    ['text after END', (s: string) => `${s}{"taskId": "evil"}\n`],
    ['a second signed block appended', (s: string) => `${s}${s}`],
    [
      'a line starting with "-" that is not dash-escaped',
      (s: string) => s.replace('\n{\n', '\n-----BEGIN PGP SIGNED MESSAGE-----\n{\n'),
    ],
    ['trailing whitespace on a line', (s: string) => s.replace('"environment": {},', '"environment": {}, ')],
    ['a form feed at a line end', (s: string) => s.replace('"environment": {},', '"environment": {},\f')],
    ['a stray carriage return', (s: string) => s.replace('"environment": {},', '"environment": \r{},')],
    ['an unknown armor header', (s: string) => s.replace('Hash: SHA512\n', 'Hash: SHA512\nComment: hi\n')],
    ['no blank line after the headers', (s: string) => s.replace('Hash: SHA512\n\n', 'Hash: SHA512\n')],
    ['a truncated signature block', (s: string) => s.slice(0, s.indexOf('-----END PGP SIGNATURE-----'))],
  ])('refuses %s with SIGNATURE_MALFORMED', async (_name, mutate) => {
    expect(await codeOf(verify(mutate(asc)))).toBe('SIGNATURE_MALFORMED');
  });

  it('refuses a Hash: header that disagrees with the signature', async () => {
    expect(await codeOf(verify(asc.replace('Hash: SHA512', 'Hash: SHA256')))).toBe(
      'SIGNATURE_HASH_HEADER_MISMATCH',
    );
  });

  it('refuses a changed character of the signed text', async () => {
    expect(await codeOf(verify(asc.replace('"workerId": "w"', '"workerId": "x"')))).toBe('SIGNATURE_INVALID');
  });

  it('refuses an inline-signed message and a detached signature passed as cleartext', async () => {
    const inline = await openpgp.sign({
      message: await openpgp.createMessage({ text: DOC }),
      signingKeys: priv,
      date: NOW,
    });
    expect(await codeOf(verify(inline))).toBe('SIGNATURE_MALFORMED');
    const detached = await openpgp.sign({
      message: await openpgp.createMessage({ text: DOC }),
      signingKeys: priv,
      detached: true,
      date: NOW,
    });
    expect(await codeOf(verify(detached))).toBe('SIGNATURE_MALFORMED');
  });

  it('refuses a document with two signatures when one is by a key that is not allowed', async () => {
    const both = await openpgp.sign({
      message: await openpgp.createCleartextMessage({ text: DOC }),
      signingKeys: [priv, other],
      date: NOW,
      config: { preferredHashAlgorithm: openpgp.enums.hash.sha512 },
    });
    expect(await codeOf(verify(both))).toBe('KEY_NOT_FOUND');
    const bothKeys = [
      ...keys,
      ...(await parseVerificationKeys(Buffer.from(other.toPublic().armor()), 'other')),
    ];
    const r = await verifyLink({ data: Buffer.from(both), keys: bothKeys, at: NOW });
    expect(r.signers).toHaveLength(2);
  });

  it('refuses a signature made after the key expired', async () => {
    const shortLived = (
      await openpgp.generateKey({
        type: 'ecc',
        curve: 'ed25519Legacy',
        userIDs: [{ email: 'short@example.com' }],
        date: new Date(NOW.getTime() - 10 * 86400_000),
        keyExpirationTime: 86400,
        format: 'object',
      })
    ).privateKey;
    // OpenPGP.js refuses to sign with an expired key, so sign while valid and verify a signature dated later
    const late = await openpgp
      .sign({
        message: await openpgp.createCleartextMessage({ text: DOC }),
        signingKeys: shortLived,
        date: NOW,
      })
      .catch((e: unknown) => e);
    expect(late).toBeInstanceOf(Error);
    const vk = await parseVerificationKeys(Buffer.from(shortLived.toPublic().armor()), 'short');
    const early = await openpgp.sign({
      message: await openpgp.createCleartextMessage({ text: DOC }),
      signingKeys: shortLived,
      date: new Date(NOW.getTime() - 9.5 * 86400_000),
    });
    // signed while valid: verifies today although the key has expired since
    const r = await verifyLink({ data: Buffer.from(early), keys: vk, at: NOW });
    expect(r.signers[0]).toMatchObject({ kind: 'openpgp' });
  });

  it('signing refuses text a cleartext signature cannot carry exactly', async () => {
    expect(await codeOf(clearsign('a \nb', priv, NOW))).toBe('SIGNING_FAILED');
    expect(await codeOf(clearsign('a\fb', priv, NOW))).toBe('SIGNING_FAILED');
    // dash-escaping round-trips
    const s = await clearsign('-a\n--b\nc', priv, NOW);
    expect(s).toContain('\n- -a\n- --b\nc\n');
    const r = await verifySignature({ data: Buffer.from(s), keys, at: NOW });
    expect(r.signedBytes.toString()).toBe('-a\n--b\nc');
  });
});

describe('OpenPGP.js error messages are converted to codes', () => {
  it.each([
    ['Signed digest did not match', 'SIGNATURE_INVALID'],
    ['Signature verification failed', 'SIGNATURE_INVALID'],
    ['Hash algorithm too weak for EdDSA.', 'SIGNATURE_WEAK_HASH'],
    ['Insecure message hash algorithm: SHA1', 'SIGNATURE_WEAK_HASH'],
    ['Insecure hash algorithm: MD5', 'KEY_WEAK'],
    ['dsa keys are considered too weak.', 'KEY_WEAK'],
    ['RSA keys shorter than 2048 bits are considered too weak.', 'KEY_WEAK'],
    ['Primary key is expired', 'KEY_EXPIRED'],
    ['Primary key is revoked', 'KEY_REVOKED'],
    ['Key is newer than the signature', 'KEY_NOT_YET_VALID'],
    ['something unforeseen', 'SIGNATURE_INVALID'],
  ])('%s -> %s', (message, code) => {
    expect(classifyPgpError(new Error(message))).toBe(code);
  });
});
