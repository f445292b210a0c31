import type { KeyObject } from 'node:crypto';
import { toSigstoreBundle } from './bundle.js';
import { attestationKeyId, type DsseEnvelope, IN_TOTO_PAYLOAD_TYPE, signEnvelope } from './dsse.js';
import type { InTotoStatement } from './statement.js';

/** A statement signed, in both forms cot writes. */
export interface SignedAttestation {
  /** the DSSE envelope (`<name>.intoto.json`) */
  envelope: DsseEnvelope;
  /** the same envelope as a Sigstore bundle v0.3 with a public-key hint and no log entry (`<name>.sigstore.json`) */
  bundle: Record<string, unknown>;
  /** attestationKeyId of the signing key */
  keyId: string;
}

/**
 * Sign an in-toto statement with the verifier's ed25519 private key: its JSON (JSON.stringify, UTF-8) is the payload
 * of a DSSE envelope of type application/vnd.in-toto+json, signed over DSSE's PAE; the same envelope as a Sigstore
 * bundle. Pure (no clock, no files).
 */
export function signStatement(statement: InTotoStatement, privateKey: KeyObject): SignedAttestation {
  const envelope = signEnvelope(
    Buffer.from(JSON.stringify(statement), 'utf8'),
    IN_TOTO_PAYLOAD_TYPE,
    privateKey,
  );
  const keyId = attestationKeyId(privateKey);
  return { envelope, bundle: toSigstoreBundle(envelope, keyId), keyId };
}
