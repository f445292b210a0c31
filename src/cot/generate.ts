import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  type ArtifactDigests,
  assertCotDocument,
  buildDocument,
  type CotDocument,
} from '../document/document.js';
import type { HashAlgorithm } from '../document/schema.js';
import { CotError, fsError, toCotError } from '../errors.js';
import {
  type ArtifactSource,
  COT_ARTIFACT_NAMES,
  enumerateArtifactDir,
  type HashedArtifact,
  hashArtifacts,
  toArtifactDigests,
} from '../hashing/artifacts.js';
import { DEFAULT_HASH_CONCURRENCY, digestBytes, digestFile } from '../hashing/digest.js';
import { canonicalize } from '../json/canonical.js';
import type { JsonObject } from '../json/parse.js';
import { ed25519PublicFromRaw, ed25519Sign, ed25519Verify } from '../keys/ed25519.js';
import { describeKey, type SigningKey } from '../keys/keys.js';
import { assertCleartextSignable } from '../pgp/cleartext.js';
import { loadPgp } from '../pgp/lazy.js';
import { writeFilesAtomic } from '../util/atomic.js';
import { mergeAdditionalData } from '../worker/environment.js';
import { verifySignature } from './verify.js';

export type SignatureFormat = 'openpgp' | 'ed25519' | 'both';

/** Where the generator writes, by format: the basenames inside the output folder (= artifacts public/...). */
export const COT_FILE_NAMES = {
  openpgp: 'chainOfTrust.json.asc',
  json: 'chain-of-trust.json',
  sig: 'chain-of-trust.json.sig',
} as const;

export interface GenerateOptions {
  /** the task definition, as the queue serves it */
  task: JsonObject;
  taskId: string;
  runId: number;
  workerGroup: string;
  workerId: string;
  workerType?: string;
  environment?: JsonObject;
  /** folder whose files are all artifacts (recursive); the document's own files are excluded */
  artifactDir?: string;
  /** explicit artifacts (name in the queue -> file) */
  artifacts?: readonly ArtifactSource[];
  /** one key per format needed: an OpenPGP key for 'openpgp', an ed25519 key for 'ed25519', both for 'both' */
  keys: readonly SigningKey[];
  format: SignatureFormat;
  /** output folder (the files become artifacts public/<name>) */
  outDir: string;
  /** the reference time: signature creation time */
  now: Date;
  hashAlgorithms?: readonly HashAlgorithm[];
  concurrency?: number;
  /** the task log: copied to <outDir>/logs/certified.log, listed as public/logs/certified.log */
  certifiedLog?: string;
  /** the task's chain-of-trust-additional-data.json, deep-merged under the worker's values */
  additionalData?: JsonObject;
  /**
   * A worker-private folder (createStagingDir) for an upload: every artifact and the certified log are copied there
   * while they are hashed, the signed files are written there too, and `staged` lists them. Without it (no upload)
   * nothing is copied.
   */
  stageDir?: string;
}

/** One file to upload from the staging folder: exactly the bytes the document lists for `name`. */
export interface StagedFile {
  name: string;
  /** the private copy in the staging folder */
  path: string;
  /** the sha256 the document lists (absent when only sha512 was asked for) */
  sha256?: string;
}

export const CERTIFIED_LOG_NAME = 'public/logs/certified.log';

/** Temp files a killed generator may have left (hidden, never at a document's own name). */
const STALE_TEMP =
  /^\.(chainOfTrust\.json\.asc|chain-of-trust\.json|chain-of-trust\.json\.sig|certified\.log)\.([0-9]+\.)?[0-9a-f]+\.tmp$/;

/** Remove them before listing artifacts, so that a re-run after a crash neither lists nor keeps them. */
async function removeStaleTemps(outDir: string): Promise<void> {
  for (const dir of [outDir, join(outDir, 'logs')]) {
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(
      names.filter((n) => STALE_TEMP.test(n)).map((n) => unlink(join(dir, n)).catch(() => undefined)),
    );
  }
}

export interface WrittenFile {
  artifact: string;
  path: string;
  size: number;
  sha256: string;
}

export interface GenerateResult {
  document: CotDocument;
  /** the exact signed bytes (canonical JSON) */
  canonical: string;
  artifacts: HashedArtifact[];
  files: WrittenFile[];
  signers: string[];
  /** with `stageDir`: what to upload, artifacts first then the signed files, all private copies */
  staged?: StagedFile[];
}

function pickKeys(keys: readonly SigningKey[], format: SignatureFormat) {
  const pgp = keys.filter((k) => k.kind === 'openpgp');
  const ed = keys.filter((k) => k.kind === 'ed25519');
  const needPgp = format !== 'ed25519';
  const needEd = format !== 'openpgp';
  const problems: string[] = [];
  if (needPgp && pgp.length !== 1) problems.push(`exactly one OpenPGP private key (got ${pgp.length})`);
  if (needEd && ed.length !== 1) problems.push(`exactly one ed25519 private key (got ${ed.length})`);
  if (!needPgp && pgp.length > 0) problems.push('no OpenPGP key');
  if (!needEd && ed.length > 0) problems.push('no ed25519 key');
  if (problems.length > 0) {
    throw new CotError('USAGE', `--format ${format} needs ${problems.join(' and ')}`);
  }
  return { pgp: pgp[0], ed: ed[0] };
}

/**
 * Hash the artifacts, build and validate the v1 document, sign it in the requested format(s), check each
 * signature, and only then write all files atomically. Nothing is written if any step fails.
 */
export async function generateChainOfTrust(o: GenerateOptions): Promise<GenerateResult> {
  const { pgp, ed } = pickKeys(o.keys, o.format);
  if (
    o.artifactDir === undefined &&
    (o.artifacts === undefined || o.artifacts.length === 0) &&
    o.certifiedLog === undefined
  ) {
    throw new CotError('USAGE', 'give an artifact directory or at least one NAME=PATH artifact');
  }
  const outDir = resolve(o.outDir);
  const outPaths = {
    openpgp: join(outDir, COT_FILE_NAMES.openpgp),
    json: join(outDir, COT_FILE_NAMES.json),
    sig: join(outDir, COT_FILE_NAMES.sig),
  };
  const certifiedLogPath = join(outDir, 'logs', 'certified.log');
  await removeStaleTemps(outDir);
  const sources: ArtifactSource[] = [];
  if (o.artifactDir !== undefined) {
    sources.push(
      ...(await enumerateArtifactDir(o.artifactDir, {
        exclude: [...Object.values(outPaths), ...(o.certifiedLog ? [certifiedLogPath] : [])],
      })),
    );
  }
  sources.push(...(o.artifacts ?? []));
  const algorithms = o.hashAlgorithms ?? ['sha256'];
  // the certified log: a frozen copy of the task log, hashed from the log itself while it is copied (to a temp
  // file renamed into place with the documents, and to the staging folder), so the copies are the bytes hashed
  let logCopy: { tmp: string; dest: string } | undefined;
  let logHashed: Promise<HashedArtifact> | undefined;
  if (o.certifiedLog !== undefined) {
    const claimed = sources.find((s) => s.name === CERTIFIED_LOG_NAME);
    if (claimed) {
      throw new CotError(
        'ARTIFACT_RESERVED_NAME',
        `artifact ${CERTIFIED_LOG_NAME} (${claimed.path}) is reserved for the certified log`,
      );
    }
    await mkdir(dirname(certifiedLogPath), { recursive: true }).catch((e: unknown) => {
      throw toCotError(e, 'OUTPUT_FAILED', `cannot create ${dirname(certifiedLogPath)}`);
    });
    const tmp = join(dirname(certifiedLogPath), `.certified.log.${randomBytes(6).toString('hex')}.tmp`);
    logCopy = { tmp, dest: certifiedLogPath };
    const staged = o.stageDir === undefined ? undefined : join(o.stageDir, 'certified.log');
    const log = o.certifiedLog;
    logHashed = digestFile(log, algorithms, {
      copies: [{ path: tmp, mode: 0o644 }, ...(staged ? [{ path: staged }] : [])],
    }).then(
      (d) => ({
        name: CERTIFIED_LOG_NAME,
        path: certifiedLogPath,
        size: d.size,
        digests: d.digests,
        ...(staged ? { staged } : {}),
      }),
      (e: unknown) => {
        throw fsError(e, log, 'cannot copy the task log');
      },
    );
  }
  // both settle before anything is cleaned up: nothing keeps reading or copying after a failure
  const [payload, log] = await Promise.allSettled([
    hashArtifacts(sources, {
      algorithms,
      concurrency: o.concurrency ?? DEFAULT_HASH_CONCURRENCY,
      ...(o.stageDir === undefined ? {} : { stageDir: o.stageDir }),
    }),
    logHashed,
  ]);
  if (payload.status === 'rejected' || log.status === 'rejected') {
    if (logCopy) await unlink(logCopy.tmp).catch(() => undefined);
    throw payload.status === 'rejected' ? payload.reason : (log as PromiseRejectedResult).reason;
  }
  const hashed = log.value
    ? [...payload.value, log.value].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    : payload.value;
  try {
    return await signAndWrite(o, hashed, outDir, outPaths, pgp, ed, logCopy);
  } catch (e) {
    if (logCopy) await unlink(logCopy.tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * Refuse, before anything is signed or written, a document GnuPG could not verify as a cleartext signature (a line
 * over GNUPG_MAX_CLEARTEXT_LINE: SIGNING_LINE_TOO_LONG, details line/length/limit); with --format both the message
 * says that ed25519 alone could still sign it.
 */
function assertOpenPgpSignable(canonical: string, format: SignatureFormat): void {
  try {
    assertCleartextSignable(canonical, 'the chain-of-trust document');
  } catch (e) {
    if (e instanceof CotError && e.code === 'SIGNING_LINE_TOO_LONG' && format === 'both') {
      throw new CotError(
        e.code,
        `${e.message}; nothing was written: ed25519 alone (--format ed25519) could still sign this document`,
        { details: e.details, cause: e },
      );
    }
    throw e;
  }
}

async function signAndWrite(
  o: GenerateOptions,
  hashed: HashedArtifact[],
  outDir: string,
  outPaths: { openpgp: string; json: string; sig: string },
  pgp: SigningKey | undefined,
  ed: SigningKey | undefined,
  logCopy: { tmp: string; dest: string } | undefined,
): Promise<GenerateResult> {
  const artifacts: ArtifactDigests = toArtifactDigests(hashed);
  const generated = buildDocument({
    task: o.task,
    taskId: o.taskId,
    runId: o.runId,
    workerGroup: o.workerGroup,
    workerId: o.workerId,
    ...(o.workerType === undefined ? {} : { workerType: o.workerType }),
    ...(o.environment === undefined ? {} : { environment: o.environment }),
    artifacts,
  });
  // the task's additional data lies under the worker's own values, which win (nested keys of both kept)
  let document: CotDocument = generated;
  if (o.additionalData !== undefined) {
    const merged = mergeAdditionalData(o.additionalData, generated as unknown as JsonObject);
    assertCotDocument(merged, 'document merged with the additional data');
    document = merged;
  }
  const canonical = canonicalize(document);
  const bytes = Buffer.from(canonical, 'latin1'); // canonical JSON is pure ASCII
  if (pgp) assertOpenPgpSignable(canonical, o.format);

  const files: { artifact: string; path: string; data: Buffer }[] = [];
  const signers: string[] = [];
  if (ed) {
    if (ed.kind !== 'ed25519') throw new CotError('INTERNAL', 'key kind mix-up');
    const sig = ed25519Sign(bytes, ed.privateKey);
    if (!ed25519Verify(bytes, sig, ed25519PublicFromRaw(Buffer.from(ed.publicKey, 'base64')))) {
      throw new CotError('SIGNING_FAILED', `the ed25519 signature made with ${ed.source} does not verify`);
    }
    files.push({ artifact: COT_ARTIFACT_NAMES.json, path: outPaths.json, data: bytes });
    files.push({ artifact: COT_ARTIFACT_NAMES.sig, path: outPaths.sig, data: sig });
    signers.push(describeKey(ed));
  }
  if (pgp) {
    if (pgp.kind !== 'openpgp') throw new CotError('INTERNAL', 'key kind mix-up');
    const asc = await (await loadPgp()).clearsign(
      canonical,
      pgp.key,
      o.now,
      `chain of trust of task ${o.taskId}`,
    );
    // prove the file we are about to write verifies and carries exactly the canonical text
    const check = await verifySignature({
      data: Buffer.from(asc, 'utf8'),
      keys: [
        {
          kind: 'openpgp',
          key: pgp.key.toPublic(),
          fingerprint: pgp.fingerprint,
          userIds: pgp.userIds,
          source: pgp.source,
        },
      ],
      at: o.now,
    });
    if (!check.signedBytes.equals(bytes)) {
      throw new CotError(
        'SIGNING_FAILED',
        'the OpenPGP cleartext signature does not carry the canonical bytes',
      );
    }
    files.push({
      artifact: COT_ARTIFACT_NAMES.openpgp,
      path: outPaths.openpgp,
      data: Buffer.from(asc, 'utf8'),
    });
    signers.push(describeKey(pgp));
  }
  // the upload reads private copies of the signed files, never the output folder (which the task may write)
  const stagedFiles: StagedFile[] = [];
  if (o.stageDir !== undefined) {
    for (const h of hashed) {
      if (h.staged === undefined) throw new CotError('INTERNAL', `artifact ${h.name} has no staged copy`);
      stagedFiles.push({
        name: h.name,
        path: h.staged,
        ...(h.digests.sha256 ? { sha256: h.digests.sha256 } : {}),
      });
    }
    for (const f of files) {
      const path = join(o.stageDir, `cot-${basename(f.path)}`);
      await writeStaged(path, f.data);
      stagedFiles.push({ name: f.artifact, path, sha256: digestBytes(f.data) });
    }
  }
  await mkdir(outDir, { recursive: true }).catch((e: unknown) => {
    throw new CotError('OUTPUT_FAILED', `cannot create output folder ${outDir}`, { cause: e });
  });
  if (logCopy) await rename(logCopy.tmp, logCopy.dest);
  // old signatures go first, and signatures are renamed after the document: a crash between renames can leave a
  // document without its signature, never a signature beside a document it does not sign
  await writeFilesAtomic(
    files.map((f) => ({ path: f.path, data: f.data, mode: 0o644 })),
    { removeFirst: files.map((f) => f.path).filter((p) => p === outPaths.sig || p === outPaths.openpgp) },
  );
  return {
    document,
    canonical,
    artifacts: hashed,
    files: files.map((f) => ({
      artifact: f.artifact,
      path: f.path,
      size: f.data.length,
      sha256: digestBytes(f.data),
    })),
    signers,
    ...(o.stageDir === undefined ? {} : { staged: stagedFiles }),
  };
}

/** Create a staging file (never an existing one, never through a symlink; mode 0600) holding `data`. */
async function writeStaged(path: string, data: Buffer): Promise<void> {
  try {
    const fh = await open(path, 'wx', 0o600);
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw toCotError(e, 'OUTPUT_FAILED', `cannot write the staging copy ${path}`);
  }
}
