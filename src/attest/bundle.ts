import type { KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as SigstoreBundle from '@sigstore/bundle';
import type * as SigstoreVerify from '@sigstore/verify';
import { CotError } from '../errors.js';
import { isJsonObject, type JsonValue } from '../json/parse.js';
import { type DsseEnvelope, envelopeFromJson } from './dsse.js';

/** The media type of the bundles cot writes: Sigstore bundle v0.3 (sigstore protobuf-specs, bundle.proto). */
export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

const require = createRequire(import.meta.url);
// loaded on first use: commands that never touch a bundle do not pay for the sigstore packages
let bundleLib: typeof SigstoreBundle | undefined;
let verifyLib: typeof SigstoreVerify | undefined;
function sigstoreBundle(): typeof SigstoreBundle {
  bundleLib ??= require('@sigstore/bundle') as typeof SigstoreBundle;
  return bundleLib;
}
function sigstoreVerify(): typeof SigstoreVerify {
  verifyLib ??= require('@sigstore/verify') as typeof SigstoreVerify;
  return verifyLib;
}

/**
 * A DSSE envelope as a Sigstore bundle v0.3 in its JSON form (built with @sigstore/bundle): the envelope as
 * `dsseEnvelope`, `verificationMaterial.publicKey.hint` = `keyHint` (the key id), no transparency-log entry and no
 * timestamp. Such a bundle is checked offline with the public key: @sigstore/verify with its log, certificate-log
 * and timestamp thresholds at 0, `cosign verify-blob-attestation --key ... --insecure-ignore-tlog`.
 */
export function toSigstoreBundle(envelope: DsseEnvelope, keyHint: string): Record<string, unknown> {
  const { toDSSEBundle, bundleToJSON } = sigstoreBundle();
  const sig = envelope.signatures[0];
  if (!sig || envelope.signatures.length !== 1)
    throw new CotError(
      'OPTIONS_INVALID',
      'toSigstoreBundle: a bundle carries an envelope with exactly one signature',
    );
  const bundle = toDSSEBundle({
    artifact: Buffer.from(envelope.payload, 'base64'),
    artifactType: envelope.payloadType,
    signature: Buffer.from(sig.sig, 'base64'),
    keyHint,
  });
  return bundleToJSON(bundle) as unknown as Record<string, unknown>;
}

/** Whether parsed JSON looks like a Sigstore bundle (a `mediaType` of the bundle family) rather than an envelope. */
export function isSigstoreBundle(value: JsonValue): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof value.mediaType === 'string' &&
    value.mediaType.startsWith('application/vnd.dev.sigstore.bundle')
  );
}

/**
 * ATTESTATION_INVALID for a bundle that sets two members of one protobuf oneof (the content: `dsseEnvelope`,
 * `messageSignature`; the verification material: `publicKey`, `x509CertificateChain`, `certificate`): the JSON
 * mapping forbids it, and @sigstore/bundle would read one and ignore the other, a certificate beside the key
 * included, where another reader may take the other.
 */
function refuseTwoOfOneof(value: JsonValue, source: string): void {
  if (!isJsonObject(value)) return;
  const set = (o: JsonValue | undefined, keys: string[]) =>
    isJsonObject(o) ? keys.filter((k) => o[k] !== undefined && o[k] !== null) : [];
  for (const both of [
    set(value, ['dsseEnvelope', 'messageSignature']),
    set(value.verificationMaterial, ['publicKey', 'x509CertificateChain', 'certificate']),
  ])
    if (both.length > 1)
      throw new CotError(
        'ATTESTATION_INVALID',
        `${source}: the bundle sets ${both.join(' and ')}, of which one at most may be set (one protobuf oneof)`,
      );
}

/**
 * Verify a key-signed Sigstore bundle holding a DSSE envelope with @sigstore/verify, offline: trust material with
 * the public keys given and no log, certificate authority or timestamp authority; thresholds 0. Each key is tried
 * (the bundle's key hint carries no trust). Returns the envelope (its payload type is checked by the caller).
 * Throws ATTESTATION_INVALID (not a valid bundle, a message signature, a certificate: keyless bundles need
 * Sigstore's roots and are not checked here, or log entries or timestamps that cannot be checked offline) and
 * ATTESTATION_SIGNATURE_INVALID.
 */
export function verifySigstoreBundle(
  value: JsonValue,
  keys: readonly KeyObject[],
  source: string,
): DsseEnvelope {
  refuseTwoOfOneof(value, source);
  const { bundleFromJSON, envelopeToJSON } = sigstoreBundle();
  let bundle: ReturnType<typeof bundleFromJSON>;
  try {
    bundle = bundleFromJSON(value);
  } catch (e) {
    const fields = (e as { fields?: string[] }).fields;
    throw new CotError(
      'ATTESTATION_INVALID',
      `${source}: not a valid Sigstore bundle${fields?.length ? ` (${fields.join(', ')})` : `: ${(e as Error).message}`}`,
      { cause: e },
    );
  }
  if (bundle.content.$case !== 'dsseEnvelope')
    throw new CotError(
      'ATTESTATION_INVALID',
      `${source}: the bundle holds a message signature, not a DSSE envelope`,
    );
  if (bundle.verificationMaterial.content.$case !== 'publicKey')
    throw new CotError(
      'ATTESTATION_INVALID',
      `${source}: the bundle is signed with a certificate (keyless signing); cot checks key-signed bundles only, with --key`,
    );
  if (bundle.verificationMaterial.tlogEntries.length > 0)
    throw new CotError(
      'ATTESTATION_INVALID',
      `${source}: the bundle carries ${bundle.verificationMaterial.tlogEntries.length} transparency-log entr${bundle.verificationMaterial.tlogEntries.length === 1 ? 'y' : 'ies'}, which cannot be checked offline`,
    );
  const timestamps = bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps.length ?? 0;
  if (timestamps > 0)
    throw new CotError(
      'ATTESTATION_INVALID',
      `${source}: the bundle carries ${timestamps} RFC 3161 timestamp${timestamps === 1 ? '' : 's'}, which cannot be checked offline with a key`,
    );
  const { Verifier, toSignedEntity } = sigstoreVerify();
  let entity: ReturnType<typeof toSignedEntity>;
  try {
    entity = toSignedEntity(bundle);
  } catch (e) {
    // what @sigstore/verify cannot even read (a malformed structure inside the bundle) is a bad bundle, not a bug
    throw new CotError(
      'ATTESTATION_INVALID',
      `${source}: not a valid Sigstore bundle: ${(e as Error).message}`,
      { cause: e },
    );
  }
  let lastError: unknown;
  for (const key of keys) {
    const verifier = new Verifier(
      {
        certificateAuthorities: [],
        timestampAuthorities: [],
        tlogs: [],
        ctlogs: [],
        publicKey: () => ({ publicKey: key, validFor: () => true }),
      },
      { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 },
    );
    try {
      verifier.verify(entity);
      return envelopeFromJson(envelopeToJSON(bundle.content.dsseEnvelope) as unknown as JsonValue, source);
    } catch (e) {
      lastError = e;
    }
  }
  throw new CotError(
    'ATTESTATION_SIGNATURE_INVALID',
    `${source}: the bundle's signature does not verify with the key${keys.length === 1 ? '' : `s (${keys.length})`} given${lastError instanceof Error ? ` (@sigstore/verify: ${lastError.message})` : ''}`,
    { cause: lastError },
  );
}
