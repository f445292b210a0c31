import { randomBytes } from 'node:crypto';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { mergeAdditionalData } from '../document/additional-data.js';
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
  isChainOfTrustFile,
  RESERVED_ARTIFACT_NAMES,
  toArtifactDigests,
} from '../hashing/artifacts.js';
import { DEFAULT_HASH_CONCURRENCY, digestBytes, digestFile } from '../hashing/digest.js';
import { canonicalize } from '../json/canonical.js';
import type { JsonObject } from '../json/parse.js';
import { ed25519PublicFromRaw, ed25519Sign, ed25519Verify } from '../keys/ed25519.js';
import { describeKey, type SigningKey } from '../keys/keys.js';
import { assertCleartextSignable } from '../pgp/cleartext.js';
import { loadPgp } from '../pgp/lazy.js';
import { writeFilesAtomicIn } from '../util/atomic.js';
import {
  type FolderRoot,
  locateInRoots,
  type OpenDirectory,
  openOutputFolder,
  openSubdirectory,
  resolveRoots,
} from '../util/dirfd.js';
import { fsReason } from '../util/fs-paths.js';
import { checkOptions, type OptionRule } from '../util/options.js';
import { assertDistinctOutputs, type NamedPath } from '../util/output-paths.js';
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
  /**
   * explicit artifacts (name in the queue -> file). Each is opened once, never through a symlink at its last
   * component (O_NOFOLLOW), and must be a regular file (ARTIFACT_UNSAFE_FILE). With `artifactRoots` (the CLI's
   * --artifact-root; workerChainOfTrust adds its `taskDir`), each must also lie, by its descriptor's real path,
   * inside one of them or inside `artifactDir`; without, the paths are trusted as given (only their last component
   * is checked). A source's own `within` wins over both.
   */
  artifacts?: readonly ArtifactSource[];
  /**
   * Folders a process of the task may write (the task folder, on a real worker): every explicit artifact must lie
   * inside one of them or inside `artifactDir` (checked on the open descriptor, so a symlink at any component that
   * leads out is refused: ARTIFACT_UNSAFE_FILE). The output folder and the certified log, when they lie in one of
   * them (or in `artifactDir`), are held to it too. Folders that do not exist admit nothing.
   */
  artifactRoots?: readonly string[];
  /** one key per format needed: an OpenPGP key for 'openpgp', an ed25519 key for 'ed25519', both for 'both' */
  keys: readonly SigningKey[];
  format: SignatureFormat;
  /**
   * output folder (the files become artifacts public/<name>). Opened once, as a folder and never through a symlink at
   * its last component, and then written only through that descriptor (openOutputFolder): inside `artifactDir` or
   * an `artifactRoots` folder it is reached from there without following any symlink and must lie inside it
   * (OUTPUT_UNSAFE_FOLDER otherwise). Created if absent, only once everything is signed.
   */
  outDir: string;
  /** the reference time: signature creation time */
  now: Date;
  hashAlgorithms?: readonly HashAlgorithm[];
  concurrency?: number;
  /**
   * the task log: copied to <outDir>/logs/certified.log, listed as public/logs/certified.log. Opened once, never
   * through a symlink at its last component, as a regular file (ARTIFACT_UNSAFE_FILE); when its path lies inside
   * `artifactDir` or an `artifactRoots` folder, its descriptor's real path must lie inside that folder too. The
   * logs/ folder is opened like the output folder, through it.
   */
  certifiedLog?: string;
  /** the task's chain-of-trust-additional-data.json, deep-merged under the worker's values */
  additionalData?: JsonObject;
  /**
   * Other files the caller read for this run (the CLI: its --task and --environment files). None of them, no
   * explicit artifact, no key file (`source`) and not the certified log may be a file this run writes (USAGE,
   * before anything is read): it would be replaced by the document.
   */
  inputFiles?: readonly NamedPath[];
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

/**
 * Remove them before listing artifacts, so that a re-run after a crash neither lists nor keeps them: in the opened
 * output folder and its logs/ (opened through it, never a symlink), best effort.
 */
async function removeStaleTemps(out: OpenDirectory): Promise<void> {
  const logs = await openSubdirectory(out, 'logs').catch(() => undefined);
  try {
    for (const dir of logs ? [out, logs] : [out]) {
      const names = await readdir(dir.here).catch(() => [] as string[]);
      await Promise.all(
        names.filter((n) => STALE_TEMP.test(n)).map((n) => unlink(dir.at(n)).catch(() => undefined)),
      );
    }
  } finally {
    await logs?.close();
  }
}

export interface WrittenFile {
  artifact: string;
  path: string;
  size: number;
  sha256: string;
}

/**
 * Something the generator did as asked but that is likely a mistake; the document is still signed. The library
 * returns warnings, never prints them (the CLI prints `cot: warning: ...` on stderr, or lists them in --json).
 * `worker-type-mismatch`: the `workerType` given differs from the task's own (`task.workerType`, or the worker type of
 * `task.taskQueueId`). `artifact-folder-too-deep`: the artifact folder holds chain-of-trust files at its top, so it
 * looks like a `public/` folder given instead of its parent (every name then misses its `public/`).
 */
export interface GenerateWarning {
  kind: 'worker-type-mismatch' | 'artifact-folder-too-deep';
  message: string;
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
  /** likely mistakes, in the order found (GenerateWarning); empty when there are none */
  warnings: GenerateWarning[];
}

/** The task's worker type, bare (`b-linux`) and as a task queue id (`proj-releng/b-linux`), when it names one. */
function taskWorkerType(task: JsonObject): { bare: string; queueId?: string } | undefined {
  const prov = typeof task.provisionerId === 'string' ? task.provisionerId : undefined;
  const wt = typeof task.workerType === 'string' ? task.workerType : undefined;
  const queueId =
    typeof task.taskQueueId === 'string' ? task.taskQueueId : prov && wt ? `${prov}/${wt}` : undefined;
  const bare = wt ?? (queueId?.includes('/') ? queueId.slice(queueId.indexOf('/') + 1) : undefined);
  return bare === undefined ? undefined : { bare, ...(queueId ? { queueId } : {}) };
}

/** `worker-type-mismatch` when the worker type given is neither the task's bare worker type nor its queue id. */
function workerTypeWarning(o: GenerateOptions): GenerateWarning | undefined {
  if (o.workerType === undefined) return undefined;
  const own = taskWorkerType(o.task);
  if (!own || o.workerType === own.bare || o.workerType === own.queueId) return undefined;
  return {
    kind: 'worker-type-mismatch',
    message: `the worker type given (${o.workerType}) differs from the task's workerType ${own.bare}${own.queueId ? ` (${own.queueId})` : ''}: the document says the task ran on ${o.workerType}`,
  };
}

/** `artifact-folder-too-deep` when the folder's top holds chain-of-trust files (the folder is `public/` itself). */
function folderTooDeepWarning(dir: string, listed: readonly ArtifactSource[]): GenerateWarning | undefined {
  const top = listed.filter((s) => !s.name.includes('/') && isChainOfTrustFile(s.name)).map((s) => s.name);
  if (top.length === 0) return undefined;
  const example = listed.find((s) => !isChainOfTrustFile(s.name))?.name;
  return {
    kind: 'artifact-folder-too-deep',
    message: `the artifact folder ${dir} holds ${top.join(', ')} at its top, listed as artifacts: it looks like a public/ folder given one level too deep${
      example ? ` (its artifacts are named ${example}, not public/${example})` : ''
    }; give the folder that holds public/`,
  };
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
 *
 * A process of the task user may still be running (on a real worker, the artifact and task folders are the task's):
 * every file read is opened once and checked on its descriptor (hashArtifacts; explicit artifacts and the certified
 * log as described at `artifacts` and `certifiedLog`), and every write, rename and unlink goes through the output
 * folder opened once (openOutputFolder; on Linux through /proc/self/fd/N, see src/util/dirfd.ts), never through
 * its path again. Throws USAGE (also: an input at an output's path), ARTIFACT_UNSAFE_FILE, ARTIFACT_RESERVED_NAME, ARTIFACT_DUPLICATE_NAME,
 * FILE_NOT_FOUND, FILE_UNREADABLE, DOCUMENT_INVALID, SIGNING_FAILED, SIGNING_LINE_TOO_LONG, OUTPUT_UNSAFE_FOLDER,
 * OUTPUT_FAILED.
 */
/**
 * The options of generateChainOfTrust (and workerChainOfTrust) that are not document fields, checked for callers in
 * plain JavaScript (OPTIONS_INVALID); the document's fields are left to schema v1.
 */
export const GENERATE_OPTION_RULES: Record<string, OptionRule> = {
  // the document's own fields (task, taskId, runId, workerGroup, workerId, workerType, environment) are judged by
  // schema v1, every bad one listed at once (DOCUMENT_INVALID), before anything is signed or written
  artifactDir: { kind: 'string', optional: true },
  artifacts: { kind: 'array', optional: true },
  artifactRoots: { kind: 'array', optional: true },
  keys: { kind: 'array', hint: '[await loadSigningKey(file)]' },
  format: { kind: 'string', oneOf: ['openpgp', 'ed25519', 'both'] },
  outDir: { kind: 'string' },
  now: { kind: 'date', hint: "the document's signing time" },
  hashAlgorithms: { kind: 'array', optional: true },
  concurrency: { kind: 'nonNegativeInteger', optional: true },
  certifiedLog: { kind: 'string', optional: true },
  additionalData: { kind: 'object', optional: true },
  stageDir: { kind: 'string', optional: true },
};

export async function generateChainOfTrust(o: GenerateOptions): Promise<GenerateResult> {
  checkOptions('generateChainOfTrust', o, GENERATE_OPTION_RULES);
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
  // nothing this run reads is one of the files it writes (an explicit artifact at the document's own path would be
  // hashed, then replaced by the document that lists it)
  await assertDistinctOutputs(
    [
      ...(ed
        ? [
            { path: outPaths.json, what: `the output ${COT_FILE_NAMES.json}` },
            { path: outPaths.sig, what: `the output ${COT_FILE_NAMES.sig}` },
          ]
        : []),
      ...(pgp ? [{ path: outPaths.openpgp, what: `the output ${COT_FILE_NAMES.openpgp}` }] : []),
      ...(o.certifiedLog === undefined
        ? []
        : [{ path: certifiedLogPath, what: 'the output logs/certified.log' }]),
    ],
    [
      ...(o.inputFiles ?? []),
      ...o.keys.map((k) => ({ path: k.source, what: `the key ${k.source}` })),
      ...(o.certifiedLog === undefined ? [] : [{ path: o.certifiedLog, what: 'the certified log' }]),
      ...(o.artifacts ?? []).map((a) => ({ path: a.path, what: `artifact ${a.name}` })),
    ],
  );
  // the folders a task process may write, resolved once: the artifact folder and the given roots
  const roots = await resolveRoots([
    ...(o.artifactDir === undefined ? [] : [o.artifactDir]),
    ...(o.artifactRoots ?? []),
  ]);
  const folders = new Folders(outDir, roots);
  try {
    const existing = await folders.out(false);
    if (existing) await removeStaleTemps(existing);
    return await generateIn(o, folders, roots, outPaths, certifiedLogPath, pgp, ed);
  } finally {
    await folders.close();
  }
}

/** The output folder and its logs/, each opened once (openOutputFolder, openSubdirectory) and closed at the end. */
class Folders {
  private outDir: OpenDirectory | undefined;
  private logsDir: OpenDirectory | undefined;
  constructor(
    readonly path: string,
    readonly roots: readonly FolderRoot[],
  ) {}
  /** The output folder; with `create`, made if absent; without, undefined if absent. */
  async out(create: true): Promise<OpenDirectory>;
  async out(create: boolean): Promise<OpenDirectory | undefined>;
  async out(create: boolean): Promise<OpenDirectory | undefined> {
    this.outDir ??= await openOutputFolder(this.path, this.roots, { create });
    return this.outDir;
  }
  async logs(): Promise<OpenDirectory> {
    this.logsDir ??= await openSubdirectory(await this.out(true), 'logs', { create: true });
    return this.logsDir;
  }
  async close(): Promise<void> {
    await this.logsDir?.close();
    await this.outDir?.close();
  }
}

async function generateIn(
  o: GenerateOptions,
  folders: Folders,
  roots: readonly FolderRoot[],
  outPaths: { openpgp: string; json: string; sig: string },
  certifiedLogPath: string,
  pgp: SigningKey | undefined,
  ed: SigningKey | undefined,
): Promise<GenerateResult> {
  const sources: ArtifactSource[] = [];
  const warnings: GenerateWarning[] = [];
  const mismatch = workerTypeWarning(o);
  if (mismatch) warnings.push(mismatch);
  if (o.artifactDir !== undefined) {
    const listed = await enumerateArtifactDir(o.artifactDir, {
      exclude: [...Object.values(outPaths), ...(o.certifiedLog ? [certifiedLogPath] : [])],
    });
    refuseLeftovers(o, listed, folders.path);
    const tooDeep = folderTooDeepWarning(o.artifactDir, listed);
    if (tooDeep) warnings.push(tooDeep);
    sources.push(...listed);
  }
  // explicit artifacts: inside the roots (and the artifact folder) when roots are given, else trusted as given
  const explicitWithin =
    o.artifactRoots !== undefined && o.artifactRoots.length > 0 ? roots.map((r) => r.real) : undefined;
  for (const s of o.artifacts ?? []) {
    sources.push(
      s.within !== undefined || explicitWithin === undefined ? s : { ...s, within: explicitWithin },
    );
  }
  const algorithms = o.hashAlgorithms ?? ['sha256'];
  // the certified log: a frozen copy of the task log, hashed from the log itself while it is copied (to a temp
  // file renamed into place with the documents, and to the staging folder), so the copies are the bytes hashed
  let logCopy: { dir: OpenDirectory; tmp: string } | undefined;
  let logHashed: Promise<HashedArtifact> | undefined;
  if (o.certifiedLog !== undefined) {
    const claimed = sources.find((s) => s.name === CERTIFIED_LOG_NAME);
    if (claimed) {
      throw new CotError(
        'ARTIFACT_RESERVED_NAME',
        `artifact ${CERTIFIED_LOG_NAME} (${claimed.path}) is reserved for the certified log`,
      );
    }
    const log = o.certifiedLog;
    // held to the task folder it lies in (if any): a path that enters one and goes back up is refused, never freed
    const logRoot = (
      await locateInRoots(log, roots).catch((e: unknown) => {
        throw new CotError('ARTIFACT_UNSAFE_FILE', `certified log ${log}: ${(e as Error).message}`, {
          cause: e,
        });
      })
    )?.root;
    const dir = await folders.logs();
    const tmp = `.certified.log.${randomBytes(6).toString('hex')}.tmp`;
    logCopy = { dir, tmp };
    const staged = o.stageDir === undefined ? undefined : join(o.stageDir, 'certified.log');
    logHashed = digestFile(log, algorithms, {
      noFollow: true,
      label: `certified log ${log}`,
      ...(logRoot === undefined ? {} : { within: logRoot.real }),
      copies: [
        { path: dir.at(tmp), mode: 0o644, label: dir.display('certified.log') },
        ...(staged ? [{ path: staged }] : []),
      ],
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
  const dropLogCopy = async () => {
    if (logCopy) await unlink(logCopy.dir.at(logCopy.tmp)).catch(() => undefined);
  };
  if (payload.status === 'rejected' || log.status === 'rejected') {
    await dropLogCopy();
    throw payload.status === 'rejected' ? payload.reason : (log as PromiseRejectedResult).reason;
  }
  const hashed = log.value
    ? [...payload.value, log.value].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    : payload.value;
  try {
    return { ...(await signAndWrite(o, hashed, folders, outPaths, pgp, ed, logCopy)), warnings };
  } catch (e) {
    await dropLogCopy();
    throw e;
  }
}

/**
 * The files of the output folder are never listed from the artifact folder (they are excluded), so a chain-of-trust
 * file listed there is one the output folder does not replace: left by an earlier run that wrote into the artifact
 * folder, while this one writes elsewhere. ARTIFACT_RESERVED_NAME, naming them (details `leftovers`, `paths`), with
 * the two ways out: delete them, or write the documents over them (the default output folder, `<artifacts>/public`).
 */
function refuseLeftovers(o: GenerateOptions, listed: readonly ArtifactSource[], outDir: string): void {
  const reserved = (name: string) =>
    RESERVED_ARTIFACT_NAMES.has(name) || (o.certifiedLog !== undefined && name === CERTIFIED_LOG_NAME);
  const leftovers = listed.filter((s) => reserved(s.name));
  if (leftovers.length === 0 || o.artifactDir === undefined) return;
  const names = leftovers.map((s) => s.name);
  const several = leftovers.length > 1;
  throw new CotError(
    'ARTIFACT_RESERVED_NAME',
    `${names.slice(0, -1).join(', ')}${several ? ' and ' : ''}${names.at(-1)} in the artifact folder ${o.artifactDir} ${several ? 'are chain-of-trust files' : 'is a chain-of-trust file'} left by an earlier run (this run writes the documents to ${outDir}, so ${several ? 'they would be listed as artifacts' : 'it would be listed as an artifact'}): delete ${several ? 'them' : 'it'} (${leftovers.map((s) => s.path).join(', ')}), or write the documents over ${several ? 'them' : 'it'} with --out ${join(o.artifactDir, 'public')} (the default)`,
    { details: { leftovers: names, paths: leftovers.map((s) => s.path) } },
  );
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
  folders: Folders,
  outPaths: { openpgp: string; json: string; sig: string },
  pgp: SigningKey | undefined,
  ed: SigningKey | undefined,
  logCopy: { dir: OpenDirectory; tmp: string } | undefined,
): Promise<Omit<GenerateResult, 'warnings'>> {
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
  // the output folder: opened once (made now if absent), then written only through its descriptor
  const out = await folders.out(true);
  if (logCopy) {
    const { dir, tmp } = logCopy;
    await rename(dir.at(tmp), dir.at('certified.log')).catch((e: unknown) => {
      throw new CotError('OUTPUT_FAILED', `cannot write ${dir.display('certified.log')}: ${fsReason(e)}`, {
        cause: e,
      });
    });
  }
  // old signatures go first, and signatures are renamed after the document: a crash between renames can leave a
  // document without its signature, never a signature beside a document it does not sign
  await writeFilesAtomicIn(
    files.map((f) => ({ folder: out, name: basename(f.path), data: f.data, mode: 0o644 })),
    {
      removeFirst: files
        .map((f) => f.path)
        .filter((p) => p === outPaths.sig || p === outPaths.openpgp)
        .map((p) => ({ folder: out, name: basename(p) })),
    },
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
