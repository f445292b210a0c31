import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, verify } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  attestationKeyId,
  type DsseEnvelope,
  envelopeFromJson,
  IN_TOTO_PAYLOAD_TYPE,
  parseEnvelope,
  preAuthEncoding,
  signEnvelope,
  verifyEnvelope,
} from '../../../src/attest/dsse.js';
import type { JsonValue } from '../../../src/json/parse.js';
import { codeOf, errorOf, tempDir } from '../../helpers/env.js';

// DSSE v1 (secure-systems-lab/dsse, protocol.md and envelope.md) as cot signs and checks it with ed25519 keys.

const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;

const pair = () => generateKeyPairSync('ed25519');
const { privateKey, publicKey } = pair();
const other = pair();

const STATEMENT = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}', 'utf8');

/** A copy of `env` with one byte of its base64 `field` (payload, or the first sig) changed. */
function flipByte(env: DsseEnvelope, field: 'payload' | 'sig', at = 0): DsseEnvelope {
  const copy: DsseEnvelope = structuredClone(env);
  const b64 = field === 'payload' ? copy.payload : copy.signatures[0]!.sig;
  const bytes = Buffer.from(b64, 'base64');
  bytes[at] = bytes[at]! ^ 0x01;
  if (field === 'payload') copy.payload = bytes.toString('base64');
  else copy.signatures[0]!.sig = bytes.toString('base64');
  return copy;
}

describe('preAuthEncoding (DSSE protocol.md)', () => {
  it("is the spec's worked example byte for byte", () => {
    const pae = preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world'));
    expect(pae.toString('latin1')).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
    // the same bytes as the spec prints them in hex
    expect(pae.toString('hex')).toBe(
      '4453534576312032392068747470' +
        '3a2f2f6578616d706c652e636f6d2f48656c6c6f576f726c6420313120' +
        '68656c6c6f20776f726c64',
    );
  });

  it('counts bytes, not characters, and keeps an empty body', () => {
    // "é" is two bytes in UTF-8, "€" three
    expect(preAuthEncoding('t€', Buffer.from('é', 'utf8'))).toEqual(
      Buffer.concat([Buffer.from('DSSEv1 4 t€ 2 ', 'utf8'), Buffer.from('é', 'utf8')]),
    );
    expect(preAuthEncoding('x', Buffer.alloc(0)).toString('latin1')).toBe('DSSEv1 1 x 0 ');
    // the body is taken as raw bytes (no text decoding)
    const raw = Buffer.from([0xff, 0x00, 0x20]);
    expect(preAuthEncoding('a', raw)).toEqual(Buffer.concat([Buffer.from('DSSEv1 1 a 3 '), raw]));
  });
});

describe('signEnvelope / verifyEnvelope', () => {
  it('round trip: the payload comes back, with the key that verified', () => {
    const env = signEnvelope(STATEMENT, IN_TOTO_PAYLOAD_TYPE, privateKey);
    expect(env.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
    expect(Buffer.from(env.payload, 'base64')).toEqual(STATEMENT);
    expect(env.signatures).toHaveLength(1);
    // a plain ed25519 signature over the PAE (checked with node:crypto, not cot's code)
    const pae = Buffer.from(
      `DSSEv1 ${IN_TOTO_PAYLOAD_TYPE.length} ${IN_TOTO_PAYLOAD_TYPE} ${STATEMENT.length} ${STATEMENT.toString()}`,
    );
    expect(verify(null, pae, publicKey, Buffer.from(env.signatures[0]!.sig, 'base64'))).toBe(true);
    expect(verify(null, STATEMENT, publicKey, Buffer.from(env.signatures[0]!.sig, 'base64'))).toBe(false);
    const v = verifyEnvelope(env, [publicKey], 'test');
    expect(v.payload).toEqual(STATEMENT);
    expect(v.key).toBe(publicKey);
    // any key of the list may have signed; the keyid hint is not needed
    const hintless: DsseEnvelope = { ...env, signatures: [{ keyid: '', sig: env.signatures[0]!.sig }] };
    expect(verifyEnvelope(hintless, [other.publicKey, publicKey], 'test').key).toBe(publicKey);
    // a wrong keyid hint is ignored too (it carries no trust either way)
    const misleading: DsseEnvelope = {
      ...env,
      signatures: [{ keyid: attestationKeyId(other.publicKey), sig: env.signatures[0]!.sig }],
    };
    expect(verifyEnvelope(misleading, [publicKey], 'test').key).toBe(publicKey);
  });

  it('a changed payload byte, a changed signature byte, a wrong key: ATTESTATION_SIGNATURE_INVALID', async () => {
    const env = signEnvelope(STATEMENT, IN_TOTO_PAYLOAD_TYPE, privateKey);
    for (const at of [0, STATEMENT.length - 1])
      expect(await codeOf(() => verifyEnvelope(flipByte(env, 'payload', at), [publicKey], 'p'))).toBe(
        'ATTESTATION_SIGNATURE_INVALID',
      );
    for (const at of [0, 63])
      expect(await codeOf(() => verifyEnvelope(flipByte(env, 'sig', at), [publicKey], 's'))).toBe(
        'ATTESTATION_SIGNATURE_INVALID',
      );
    const wrong = await errorOf(Promise.resolve().then(() => verifyEnvelope(env, [other.publicKey], 'k')));
    expect(wrong.code).toBe('ATTESTATION_SIGNATURE_INVALID');
    expect(wrong.details).toMatchObject({ signatures: 1, keys: 1 });
  });

  it('the payload type is signed: an envelope relabelled as in-toto is ATTESTATION_SIGNATURE_INVALID', async () => {
    const env = signEnvelope(STATEMENT, 'application/vnd.example+json', privateKey);
    const relabelled: DsseEnvelope = { ...env, payloadType: IN_TOTO_PAYLOAD_TYPE };
    expect(await codeOf(() => verifyEnvelope(relabelled, [publicKey], 'r'))).toBe(
      'ATTESTATION_SIGNATURE_INVALID',
    );
  });

  it('a genuine envelope of another payload type: ATTESTATION_PAYLOAD_TYPE (a forged one: the signature first)', async () => {
    const env = signEnvelope(STATEMENT, 'application/vnd.example+json', privateKey);
    const e = await errorOf(Promise.resolve().then(() => verifyEnvelope(env, [publicKey], 'other-type')));
    expect(e.code).toBe('ATTESTATION_PAYLOAD_TYPE');
    expect(e.details).toMatchObject({
      payloadType: 'application/vnd.example+json',
      expected: IN_TOTO_PAYLOAD_TYPE,
    });
    // the same envelope with a broken signature says nothing about its type
    expect(await codeOf(() => verifyEnvelope(flipByte(env, 'sig'), [publicKey], 'x'))).toBe(
      'ATTESTATION_SIGNATURE_INVALID',
    );
    // and the type asked for is the one checked
    expect(verifyEnvelope(env, [publicKey], 'x', 'application/vnd.example+json').payload).toEqual(STATEMENT);
  });
});

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * The base64 of 3n+1 bytes (a 64-byte signature) ends in one byte's two characters and "==": the last of them holds 2
 * bits of that byte and 4 zero bits. Setting one of those zero bits decodes to the same bytes: a non-canonical
 * encoding.
 */
function nonCanonical(sig: string): string {
  expect(sig).toMatch(/[AQgw]==$/);
  const last = B64.indexOf(sig.at(-3)!);
  const forged = `${sig.slice(0, -3)}${B64[last + 1]}==`;
  expect(Buffer.from(forged, 'base64')).toEqual(Buffer.from(sig, 'base64'));
  return forged;
}

describe('envelopeFromJson / parseEnvelope: malformed envelopes are ATTESTATION_INVALID naming the field', () => {
  const good = signEnvelope(STATEMENT, IN_TOTO_PAYLOAD_TYPE, privateKey) as unknown as Record<
    string,
    JsonValue
  >;
  const sig0 = (good.signatures as { sig: string }[])[0]!.sig;
  const cases: [string, JsonValue, RegExp][] = [
    ['an array', [good], /not a DSSE envelope/],
    ['a string', 'envelope', /not a DSSE envelope/],
    ['null', null, /not a DSSE envelope/],
    ['no payloadType', { payload: good.payload!, signatures: good.signatures! }, /payloadType/],
    ['a payloadType that is not a string', { ...good, payloadType: 7 }, /payloadType/],
    ['no payload', { payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: good.signatures! }, /payload is not/],
    ['a payload that is not base64', { ...good, payload: '@@@@' }, /payload is not padded base64/],
    ['a payload with whitespace', { ...good, payload: 'aGk= ' }, /payload is not padded base64/],
    ['an unpadded payload', { ...good, payload: 'aGk' }, /payload is not padded base64/],
    // "aGl=" decodes to "hi" like "aGk=", with a trailing bit set: not the canonical encoding
    ['a non-canonical payload', { ...good, payload: 'aGl=' }, /payload is not canonical base64/],
    ['empty signatures', { ...good, signatures: [] }, /signatures is missing or empty/],
    ['no signatures', { payloadType: good.payloadType!, payload: good.payload! }, /signatures is missing/],
    ['signatures not a list', { ...good, signatures: { sig: sig0 } }, /signatures is missing or empty/],
    [
      'a signature that is not an object',
      { ...good, signatures: [sig0] },
      /signatures\[0\] is not an object/,
    ],
    ['a signature without sig', { ...good, signatures: [{ keyid: 'k' }] }, /signatures\[0\]\.sig/],
    ['a sig that is not base64', { ...good, signatures: [{ sig: 'not base64!' }] }, /signatures\[0\]\.sig/],
    [
      'a non-canonical sig',
      { ...good, signatures: [{ sig: nonCanonical(sig0) }] },
      /signatures\[0\]\.sig is not canonical/,
    ],
    ['a keyid that is not a string', { ...good, signatures: [{ sig: sig0, keyid: 1 }] }, /keyid/],
  ];
  for (const [what, value, message] of cases)
    it(what, async () => {
      const e = await errorOf(Promise.resolve().then(() => envelopeFromJson(value, 'env.json')));
      expect(e.code).toBe('ATTESTATION_INVALID');
      expect(e.message).toMatch(/^env\.json: /);
      expect(e.message).toMatch(message);
    });

  it('the URL-safe alphabet is accepted (DSSE: verifiers MUST accept either), still canonical only', async () => {
    // a payload and signature whose standard base64 holds + or /: the same bytes in the URL-safe alphabet
    let env = signEnvelope(Buffer.from([0xfb, 0xff, 0xbf, 0x3e]), IN_TOTO_PAYLOAD_TYPE, privateKey);
    for (let i = 0; !/[+/]/.test(env.signatures[0]!.sig); i++)
      env = signEnvelope(Buffer.from([0xfb, 0xff, 0xbf, i]), IN_TOTO_PAYLOAD_TYPE, privateKey);
    const urlSafe = (b64: string) => b64.replaceAll('+', '-').replaceAll('/', '_');
    const json = {
      payloadType: env.payloadType,
      payload: urlSafe(env.payload),
      signatures: [{ sig: urlSafe(env.signatures[0]!.sig) }],
    };
    expect(json.payload).toMatch(/[-_]/);
    expect(json.signatures[0]!.sig).toMatch(/[-_]/);
    const read = envelopeFromJson(json, 'url-safe');
    expect(verifyEnvelope(read, [publicKey], 'url-safe').payload).toEqual(Buffer.from(env.payload, 'base64'));
    const bad = { ...json, payload: nonCanonical(json.payload) };
    const e = await errorOf(Promise.resolve().then(() => envelopeFromJson(bad, 'url-safe')));
    expect(e.code).toBe('ATTESTATION_INVALID');
  });

  it('a well-formed envelope is read back as signed (keyid optional)', () => {
    expect(envelopeFromJson(good, 'env.json')).toEqual(good);
    const noKeyid = envelopeFromJson({ ...good, signatures: [{ sig: sig0 }] }, 'e');
    expect(noKeyid.signatures).toEqual([{ keyid: '', sig: sig0 }]);
    expect(verifyEnvelope(noKeyid, [publicKey], 'e').payload).toEqual(STATEMENT);
    expect(parseEnvelope(Buffer.from(JSON.stringify(good)), 'e')).toEqual(good);
  });

  it('bytes that are not JSON are JSON_INVALID (verifyAttestation reports them as ATTESTATION_INVALID)', async () => {
    expect(await codeOf(() => parseEnvelope(Buffer.from('{"payloadType":'), 'e'))).toBe('JSON_INVALID');
  });
});

describe('attestationKeyId', () => {
  /** The DER SubjectPublicKeyInfo of an ed25519 key built by hand (RFC 8410): prefix, then the raw key. */
  function spkiByHand(key: KeyObject): Buffer {
    const jwk = key.export({ format: 'jwk' }) as { x: string };
    return Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(jwk.x, 'base64url')]);
  }

  it('is SHA256: and the sha256 of the DER SPKI, the same for the private key and its public key', () => {
    const want = `SHA256:${createHash('sha256').update(spkiByHand(publicKey)).digest('hex')}`;
    expect(attestationKeyId(publicKey)).toBe(want);
    expect(attestationKeyId(privateKey)).toBe(want);
    expect(attestationKeyId(other.publicKey)).not.toBe(want);
    expect(signEnvelope(STATEMENT, IN_TOTO_PAYLOAD_TYPE, privateKey).signatures[0]!.keyid).toBe(want);
  });

  it.skipIf(!HAVE_OPENSSL)('matches openssl pkey -pubout -outform DER | sha256', async () => {
    const d = await tempDir('cot-dsse-');
    const pem = join(d, 'key.pem');
    await writeFile(pem, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const der = execFileSync('openssl', ['pkey', '-in', pem, '-pubout', '-outform', 'DER']);
    expect(attestationKeyId(publicKey)).toBe(`SHA256:${createHash('sha256').update(der).digest('hex')}`);
  });
});
