import { createPublicKey, type KeyObject } from 'node:crypto';
import { CotError } from '../errors.js';
import { digestBytes } from '../hashing/digest.js';
import { isJsonObject, type JsonValue, parseJsonBytes } from '../json/parse.js';
import { ed25519Sign, ed25519Verify } from '../keys/ed25519.js';

/** The payload type of an in-toto attestation in a DSSE envelope (in-toto attestation spec v1, envelope.md). */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/**
 * A DSSE envelope in its JSON form (DSSE protocol v1, envelope.md): `payload` and each `sig` are standard base64,
 * `keyid` an optional hint that carries no trust.
 */
export interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

/**
 * DSSE's pre-authentication encoding (DSSE protocol v1, protocol.md): `"DSSEv1" SP LEN(type) SP type SP LEN(body)
 * SP body`, lengths as ASCII decimal of the byte counts. Signatures are made and checked over these bytes only.
 */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'ascii'),
    type,
    Buffer.from(` ${payload.length} `, 'ascii'),
    payload,
  ]);
}

/**
 * The key id cot gives a verifier's ed25519 key: `SHA256:` and the lowercase hex sha256 of its DER
 * SubjectPublicKeyInfo (as `openssl pkey -pubout -outform DER` writes it). A hint for choosing a key, never trust.
 */
export function attestationKeyId(key: KeyObject): string {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  const der = pub.export({ format: 'der', type: 'spki' });
  return `SHA256:${digestBytes(der)}`;
}

/** Sign `payload` as a DSSE envelope with an ed25519 private key (one signature, keyid attestationKeyId). */
export function signEnvelope(payload: Uint8Array, payloadType: string, privateKey: KeyObject): DsseEnvelope {
  const sig = ed25519Sign(preAuthEncoding(payloadType, payload), privateKey);
  return {
    payloadType,
    payload: Buffer.from(payload).toString('base64'),
    signatures: [{ keyid: attestationKeyId(privateKey), sig: sig.toString('base64') }],
  };
}

/**
 * The most signatures an envelope may carry (cot writes one; a Sigstore bundle holds exactly one). Each is checked
 * over the whole PAE with every key: without a bound, a 64 MiB file of signatures over a large payload would take
 * hours to refuse.
 */
export const MAX_ENVELOPE_SIGNATURES = 16;

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Strict padded base64 of RFC 4648, its standard (§4) or URL-safe (§5) alphabet: DSSE (envelope.md, protocol.md)
 * lets signers use either and verifiers MUST accept either. ATTESTATION_INVALID naming `what` otherwise, and for a
 * non-canonical encoding (trailing bits set).
 */
function decodeBase64(text: unknown, what: string): Buffer {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !BASE64.test(text))
    throw new CotError('ATTESTATION_INVALID', `${what} is not padded base64`);
  const standard = text.replaceAll('-', '+').replaceAll('_', '/');
  const buf = Buffer.from(standard, 'base64');
  if (buf.toString('base64') !== standard)
    throw new CotError('ATTESTATION_INVALID', `${what} is not canonical base64`);
  return buf;
}

/**
 * Read a DSSE envelope from its JSON form: `payloadType` (string), `payload` (base64), `signatures` (a non-empty
 * list of at most MAX_ENVELOPE_SIGNATURES `{sig, keyid?}`, sig base64). Throws ATTESTATION_INVALID naming the first bad field (JSON_INVALID for
 * bytes that are not strict JSON).
 */
export function envelopeFromJson(value: JsonValue, source: string): DsseEnvelope {
  if (!isJsonObject(value))
    throw new CotError('ATTESTATION_INVALID', `${source}: not a DSSE envelope (a JSON object)`);
  const { payloadType, payload, signatures } = value;
  if (typeof payloadType !== 'string')
    throw new CotError('ATTESTATION_INVALID', `${source}: payloadType is missing or not a string`);
  decodeBase64(payload, `${source}: payload`);
  if (!Array.isArray(signatures) || signatures.length === 0)
    throw new CotError('ATTESTATION_INVALID', `${source}: signatures is missing or empty`);
  if (signatures.length > MAX_ENVELOPE_SIGNATURES)
    throw new CotError(
      'ATTESTATION_INVALID',
      `${source}: the envelope has ${signatures.length} signatures, more than the ${MAX_ENVELOPE_SIGNATURES} cot checks`,
      { details: { signatures: signatures.length, limit: MAX_ENVELOPE_SIGNATURES } },
    );
  const sigs = signatures.map((s, i) => {
    if (!isJsonObject(s))
      throw new CotError('ATTESTATION_INVALID', `${source}: signatures[${i}] is not an object`);
    decodeBase64(s.sig, `${source}: signatures[${i}].sig`);
    if (s.keyid !== undefined && typeof s.keyid !== 'string')
      throw new CotError('ATTESTATION_INVALID', `${source}: signatures[${i}].keyid is not a string`);
    return { keyid: (s.keyid as string | undefined) ?? '', sig: s.sig as string };
  });
  return { payloadType, payload: payload as string, signatures: sigs };
}

/** Parse the bytes of a DSSE envelope file (envelopeFromJson). */
export function parseEnvelope(bytes: Uint8Array, source: string): DsseEnvelope {
  return envelopeFromJson(parseJsonBytes(bytes, { source }), source);
}

/**
 * Check a DSSE envelope with ed25519 public keys: some signature must verify over the PAE of its type and payload
 * with one of `keys` (keyids are hints and ignored: every signature is tried with every key). Then the payload
 * type must be `expectedType`: checked after the signature, so a forged envelope is told apart from a genuine one
 * of another type. Returns the payload bytes (only these verified bytes may be parsed) and the key that verified.
 * Throws ATTESTATION_SIGNATURE_INVALID, ATTESTATION_PAYLOAD_TYPE.
 */
export function verifyEnvelope(
  envelope: DsseEnvelope,
  keys: readonly KeyObject[],
  source: string,
  expectedType: string = IN_TOTO_PAYLOAD_TYPE,
): { payload: Buffer; key: KeyObject } {
  const payload = Buffer.from(envelope.payload, 'base64');
  const pae = preAuthEncoding(envelope.payloadType, payload);
  for (const s of envelope.signatures) {
    const sig = Buffer.from(s.sig, 'base64');
    const key = keys.find((k) => ed25519Verify(pae, sig, k));
    if (!key) continue;
    if (envelope.payloadType !== expectedType)
      throw new CotError(
        'ATTESTATION_PAYLOAD_TYPE',
        `${source}: the payload type is ${JSON.stringify(envelope.payloadType)}, not ${expectedType} (an in-toto statement)`,
        { details: { payloadType: envelope.payloadType, expected: expectedType } },
      );
    return { payload, key };
  }
  throw new CotError(
    'ATTESTATION_SIGNATURE_INVALID',
    `${source}: no signature of the envelope (${envelope.signatures.length}) verifies with the key${keys.length === 1 ? '' : `s (${keys.length})`} given`,
    { details: { signatures: envelope.signatures.length, keys: keys.length } },
  );
}
