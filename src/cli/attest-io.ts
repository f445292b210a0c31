import type { KeyObject } from 'node:crypto';
import { basename, dirname, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SignedAttestation } from '../attest/sign.js';
import { policyDigest, type VsaPolicy } from '../attest/statement.js';
import type { LoadedPolicy } from '../chain/policy.js';
import { CotError } from '../errors.js';
import { loadSigningKey } from '../keys/keys.js';
import { keyFileOf } from '../trust/store.js';
import { writeFilesAtomic } from '../util/atomic.js';

/** The suffix of a DSSE envelope file; the Sigstore bundle beside it ends in BUNDLE_SUFFIX instead. */
export const ENVELOPE_SUFFIX = '.intoto.json';
const BUNDLE_SUFFIX = '.sigstore.json';

/** The verifier's attestation key, loaded and checked. */
export interface AttestationKey {
  privateKey: KeyObject;
  /** base64 of the 32-byte public key */
  publicKey: string;
}

/**
 * Load the key attestations are signed with: an ed25519 private key file (loadSigningKey: KEY_INVALID,
 * KEY_INSECURE_PERMISSIONS...) that is not a worker key the policy trusts (ATTEST_KEY_REFUSED: an attestation is the
 * verifier's statement; a worker key would let a task's worker vouch for its own chain). OpenPGP keys are refused
 * too (ATTEST_KEY_REFUSED): DSSE signatures here are ed25519.
 */
export async function loadAttestationKey(
  path: string,
  loaded: LoadedPolicy,
  o: { allowInsecureKeyPermissions?: boolean } = {},
): Promise<AttestationKey> {
  const key = await loadSigningKey(path, {
    allowInsecureKeyPermissions: Boolean(o.allowInsecureKeyPermissions),
  });
  if (key.kind !== 'ed25519')
    throw new CotError(
      'ATTEST_KEY_REFUSED',
      `${path} is an OpenPGP key: attestations are signed with an ed25519 key (cot keys new --type ed25519)`,
      { details: { path, reason: 'not-ed25519' } },
    );
  for (const impl of loaded.trust.implementations.values()) {
    const worker = impl.workerKeys.find((k) => k.kind === 'ed25519' && k.publicKey === key.publicKey);
    if (worker)
      throw new CotError(
        'ATTEST_KEY_REFUSED',
        `${path} is a ${impl.name} worker key of the policy's trust store (${worker.source}): attestations are signed with the verifier's own key, never a worker's`,
        { details: { path, reason: 'worker-key', implementation: impl.name } },
      );
  }
  return { privateKey: key.privateKey, publicKey: key.publicKey };
}

/**
 * The policy of a verification summary: the policy file, every trust file it names, and the command-line options
 * that widen what the verification accepts (--allow-reference-artifacts, --allow-host), as policyDigest makes it.
 */
export function summaryPolicy(
  loaded: LoadedPolicy,
  options: { allowReferenceArtifacts?: boolean; allowHost?: readonly string[] } = {},
): VsaPolicy {
  const folder = dirname(resolve(loaded.path));
  const trustFiles = loaded.trust.files.flatMap((f) =>
    f.sha256 === undefined ? [] : [{ name: relative(folder, keyFileOf(f)), sha256: f.sha256 }],
  );
  return policyDigest(
    { name: basename(loaded.path), sha256: loaded.sha256 },
    trustFiles,
    pathToFileURL(resolve(loaded.path)).href,
    {
      ...(options.allowReferenceArtifacts ? { allowReferenceArtifacts: true } : {}),
      ...(options.allowHost?.length ? { allowHosts: [...options.allowHost].sort() } : {}),
    },
  );
}

/**
 * The deployment a chain was read from, for an attestation's URIs: `--root-url`, else TASKCLUSTER_ROOT_URL when the
 * queue is Taskcluster's (queueFromOptions read it from there, or through the task's proxy of that deployment);
 * none for a directory store, nor for TASKCLUSTER_PROXY_URL alone (a task's proxy is no address for others).
 */
export function attestationRootUrl(
  o: { queue?: string | undefined; rootUrl?: string | undefined },
  env: NodeJS.ProcessEnv,
): string | undefined {
  if (o.queue !== undefined) return undefined;
  return o.rootUrl ?? (env.TASKCLUSTER_ROOT_URL || undefined);
}

/** The Sigstore bundle's path beside an envelope file `<name>.intoto.json`: `<name>.sigstore.json`. */
export function bundlePathFor(envelopePath: string): string {
  return `${envelopePath.slice(0, -ENVELOPE_SUFFIX.length)}${BUNDLE_SUFFIX}`;
}

/** USAGE unless `path` names an envelope file (`<name>.intoto.json`, a name before the suffix). */
export function checkEnvelopePath(path: string, option: string): void {
  const name = basename(path);
  if (!name.endsWith(ENVELOPE_SUFFIX) || name.length === ENVELOPE_SUFFIX.length)
    throw new CotError(
      'USAGE',
      `${option} ${path}: the DSSE envelope file is named <name>${ENVELOPE_SUFFIX} (its Sigstore bundle is written beside it as <name>${BUNDLE_SUFFIX})`,
      { details: { path } },
    );
}

/** Write the envelope and its bundle, both or neither (writeFilesAtomic). */
export async function writeAttestation(envelopePath: string, signed: SignedAttestation): Promise<string[]> {
  const bundlePath = bundlePathFor(envelopePath);
  await writeFilesAtomic([
    { path: envelopePath, data: `${JSON.stringify(signed.envelope, null, 2)}\n` },
    { path: bundlePath, data: `${JSON.stringify(signed.bundle, null, 2)}\n` },
  ]);
  return [envelopePath, bundlePath];
}
