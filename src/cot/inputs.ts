import { stat } from 'node:fs/promises';
import { isChainOfTrustFile, RESERVED_ARTIFACT_NAMES } from '../document/names.js';
import { CotError, fsError, notAFile } from '../errors.js';
import { type ArtifactSource, enumerateArtifactDir, parseArtifactPair } from '../hashing/artifacts.js';
import type { SigningKey } from '../keys/keys.js';
import { readSmallFile } from '../util/read.js';
import type { SignatureFormat } from './generate.js';

/**
 * Largest input file read whole (documents, signatures, task definitions), bytes: 64 MiB. Artifacts are streamed
 * instead, never read whole.
 */
const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** The first line of an OpenPGP cleartext-signed message (RFC 9580 section 7): such a file carries its signature. */
const CLEARTEXT_HEADER = '-----BEGIN PGP SIGNED MESSAGE-----';

/**
 * Read a small input file whole: a document, a signature, a task definition. `what` names it in messages
 * ("document", "signature"). Throws FILE_NOT_FOUND / FILE_UNREADABLE (fsError) when it cannot be read, FILE_UNREADABLE
 * when it is a folder or not a regular file, or larger than MAX_INPUT_BYTES.
 */
export async function readInputFile(path: string, what: string): Promise<Buffer> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw notAFile(path, what, st);
    return await readSmallFile(path, what, MAX_INPUT_BYTES);
  } catch (e) {
    throw fsError(e, path, `cannot read ${what}`);
  }
}

/** Whether `data` is an OpenPGP cleartext-signed message (it starts with its armor header line). */
function isCleartextSigned(data: Buffer): boolean {
  return data.subarray(0, CLEARTEXT_HEADER.length).toString('latin1') === CLEARTEXT_HEADER;
}

/** A chain-of-trust document read from disk with its signature: what verifyLink takes as `data` and `signature`. */
export interface LinkFiles {
  /** the document's bytes */
  data: Buffer;
  /** the detached signature's bytes, when there is one (absent for a cleartext-signed document) */
  signature?: Buffer;
  /** the file the signature was read from */
  signaturePath?: string;
}

/**
 * Read a chain-of-trust document and its signature, as `cot verify-link` does: `signaturePath` when given; else,
 * for a document that is not cleartext-signed (chain-of-trust.json, signed by ed25519), the file `FILE.sig` beside
 * it when it exists (the layout of the worker's public/chain-of-trust.json.sig); else no signature (verifyLink then
 * throws SIGNATURE_MISSING). Throws what readInputFile throws.
 */
export async function readLinkFiles(file: string, signaturePath?: string): Promise<LinkFiles> {
  const data = await readInputFile(file, 'document');
  let sigPath = signaturePath;
  if (sigPath === undefined && !isCleartextSigned(data) && (await isPresent(`${file}.sig`)))
    sigPath = `${file}.sig`;
  if (sigPath === undefined) return { data };
  return { data, signature: await readInputFile(sigPath, 'signature'), signaturePath: sigPath };
}

async function isPresent(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Artifacts to hash or verify, with the chain-of-trust files a folder held and that were left out. */
export interface ArtifactInputs {
  sources: ArtifactSource[];
  /** names of the chain-of-trust files found in the folder and skipped */
  skipped: string[];
}

/**
 * Artifacts to re-hash against a document: every file of a downloaded folder (enumerateArtifactDir), then the
 * `NAME=PATH` pairs (parseArtifactPair). The folder's chain-of-trust files (isChainOfTrustFile: at their reserved
 * names, or at its top when the folder is public/ itself) are skipped and named in `skipped`: a verifier never
 * checks a document against itself. Throws what enumerateArtifactDir and parseArtifactPair throw.
 */
export async function artifactsToVerify(
  dir: string | undefined,
  pairs: readonly string[],
): Promise<ArtifactInputs> {
  const sources: ArtifactSource[] = [];
  const skipped: string[] = [];
  if (dir !== undefined) {
    for (const s of await enumerateArtifactDir(dir)) {
      if (isChainOfTrustFile(s.name)) skipped.push(s.name);
      else sources.push(s);
    }
  }
  sources.push(...pairs.map(parseArtifactPair));
  return { sources, skipped };
}

/**
 * Artifacts named by paths, as `cot hash` takes them: one folder (its files named by their POSIX path relative to
 * it, the reserved chain-of-trust names skipped and listed in `skipped`), or files, each `NAME=PATH` or a path
 * named by itself (a leading `./` dropped). A first path holding `=` is never taken for a folder. Throws
 * OPTIONS_INVALID when a folder is given with other paths, and what enumerateArtifactDir / parseArtifactPair throw.
 */
export async function artifactsFromPaths(paths: readonly string[]): Promise<ArtifactInputs> {
  const first = paths[0];
  const firstIsDir =
    first !== undefined &&
    !first.includes('=') &&
    (await stat(first).then(
      (s) => s.isDirectory(),
      () => false,
    ));
  if (!firstIsDir) {
    const sources = paths.map((p) =>
      p.includes('=') ? parseArtifactPair(p) : parseArtifactPair(`${p.replace(/^\.\//, '')}=${p}`),
    );
    return { sources, skipped: [] };
  }
  if (paths.length > 1)
    throw new CotError('OPTIONS_INVALID', 'give one folder, or files', {
      details: { function: 'artifactsFromPaths', option: 'paths' },
    });
  const all = await enumerateArtifactDir(first);
  return {
    sources: all.filter((s) => !RESERVED_ARTIFACT_NAMES.has(s.name)),
    skipped: all.filter((s) => RESERVED_ARTIFACT_NAMES.has(s.name)).map((s) => s.name),
  };
}

/**
 * The signature format the given signing keys make: `both` when there are OpenPGP and ed25519 keys, else the one
 * kind there is (`ed25519` when no key is given; generation then refuses the missing key).
 */
export function signatureFormatFor(keys: readonly Pick<SigningKey, 'kind'>[]): SignatureFormat {
  const kinds = new Set(keys.map((k) => k.kind));
  if (kinds.size === 2) return 'both';
  return kinds.has('openpgp') ? 'openpgp' : 'ed25519';
}
