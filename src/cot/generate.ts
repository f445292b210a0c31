import { open, readdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { mergeAdditionalData } from '../document/additional-data.js';
import { assertCotDocument, buildDocument, type CotDocument } from '../document/document.js';
import {
  CERTIFIED_LOG_FILE,
  CERTIFIED_LOG_NAME,
  COT_FILE_NAMES,
  isChainOfTrustFile,
  RESERVED_ARTIFACT_NAMES,
} from '../document/names.js';
import type { HashAlgorithm } from '../document/schema.js';
import { CotError, fsError, optionRef, toCotError } from '../errors.js';
import {
  type ArtifactSource,
  enumerateArtifactDir,
  type HashedArtifact,
  hashArtifacts,
  toArtifactDigests,
} from '../hashing/artifacts.js';
import { DEFAULT_HASH_CONCURRENCY, digestBytes, digestFile } from '../hashing/digest.js';
import { canonicalize } from '../json/canonical.js';
import type { JsonObject } from '../json/parse.js';
import type { SigningKey } from '../keys/keys.js';
import {
  type DocumentSigner,
  documentSigners,
  type SignatureFormat,
  type SignedFile,
} from '../signature/sign.js';
import { type StagedWrite, stagedWrite, tempNamePattern, writeFilesAtomicIn } from '../util/atomic.js';
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

export type { SignatureFormat } from '../signature/sign.js';

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
   * explicit artifact, no key file (`source`) and not the certified log may be a file this run writes (OPTIONS_INVALID,
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

/** Temp files (tempNameFor) a killed generator may have left: hidden, never at a document's own name. */
const STALE_TEMP = tempNamePattern([...Object.values(COT_FILE_NAMES), CERTIFIED_LOG_FILE.name]);

/**
 * Remove them before listing artifacts, so that a re-run after a crash neither lists nor keeps them: in the opened
 * output folder and its logs/ (opened through it, never a symlink), best effort.
 */
async function removeStaleTemps(out: OpenDirectory): Promise<void> {
  const logs = await openSubdirectory(out, CERTIFIED_LOG_FILE.folder).catch(() => undefined);
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

/** The files a run writes: the documents' paths in the output folder and the certified log's. */
interface OutputPaths {
  openpgp: string;
  json: string;
  sig: string;
  certifiedLog: string;
}

function outputPaths(outDir: string): OutputPaths {
  return {
    openpgp: join(outDir, COT_FILE_NAMES.openpgp),
    json: join(outDir, COT_FILE_NAMES.json),
    sig: join(outDir, COT_FILE_NAMES.sig),
    certifiedLog: join(outDir, CERTIFIED_LOG_FILE.folder, CERTIFIED_LOG_FILE.name),
  };
}

/**
 * Nothing this run reads is one of the files it writes (an explicit artifact at the document's own path would be
 * hashed, then replaced by the document that lists it): OPTIONS_INVALID, before anything is read (assertDistinctOutputs).
 */
async function assertInputsAreNotOutputs(
  o: GenerateOptions,
  signers: readonly DocumentSigner[],
  out: OutputPaths,
): Promise<void> {
  const ed = signers.some((s) => s.format === 'ed25519');
  const pgp = signers.some((s) => s.format === 'openpgp');
  await assertDistinctOutputs(
    [
      ...(ed
        ? [
            { path: out.json, what: `the output ${COT_FILE_NAMES.json}` },
            { path: out.sig, what: `the output ${COT_FILE_NAMES.sig}` },
          ]
        : []),
      ...(pgp ? [{ path: out.openpgp, what: `the output ${COT_FILE_NAMES.openpgp}` }] : []),
      ...(o.certifiedLog === undefined
        ? []
        : [{ path: out.certifiedLog, what: 'the output logs/certified.log' }]),
    ],
    [
      ...(o.inputFiles ?? []),
      ...o.keys.map((k) => ({ path: k.source, what: `the key ${k.source}` })),
      ...(o.certifiedLog === undefined ? [] : [{ path: o.certifiedLog, what: 'the certified log' }]),
      ...(o.artifacts ?? []).map((a) => ({ path: a.path, what: `artifact ${a.name}` })),
    ],
  );
}

/**
 * Hash the artifacts, build and validate the v1 document, sign it in the requested format(s), check each
 * signature, and only then write all files atomically. Nothing is written if any step fails.
 *
 * A process of the task user may still be running (on a real worker, the artifact and task folders are the task's):
 * every file read is opened once and checked on its descriptor (hashArtifacts; explicit artifacts and the certified
 * log as described at `artifacts` and `certifiedLog`), and every write, rename and unlink goes through the output
 * folder opened once (openOutputFolder; on Linux through /proc/self/fd/N, see src/util/dirfd.ts), never through
 * its path again. Throws OPTIONS_INVALID (also: an input at an output's path), ARTIFACT_UNSAFE_FILE, ARTIFACT_RESERVED_NAME, ARTIFACT_DUPLICATE_NAME,
 * FILE_NOT_FOUND, FILE_UNREADABLE, DOCUMENT_INVALID, SIGNING_FAILED, SIGNING_LINE_TOO_LONG, OUTPUT_UNSAFE_FOLDER,
 * OUTPUT_FAILED.
 */
export async function generateChainOfTrust(o: GenerateOptions): Promise<GenerateResult> {
  checkOptions('generateChainOfTrust', o, GENERATE_OPTION_RULES);
  const signers = documentSigners(o.keys, o.format);
  if (
    o.artifactDir === undefined &&
    (o.artifacts === undefined || o.artifacts.length === 0) &&
    o.certifiedLog === undefined
  ) {
    throw new CotError('OPTIONS_INVALID', 'give an artifact directory or at least one NAME=PATH artifact');
  }
  const outDir = resolve(o.outDir);
  const out = outputPaths(outDir);
  await assertInputsAreNotOutputs(o, signers, out);
  // the folders a task process may write, resolved once: the artifact folder and the given roots
  const roots = await resolveRoots([
    ...(o.artifactDir === undefined ? [] : [o.artifactDir]),
    ...(o.artifactRoots ?? []),
  ]);
  const folders = new Folders(outDir, roots);
  try {
    const existing = await folders.out(false);
    if (existing) await removeStaleTemps(existing);
    return await generateIn(o, folders, out, signers);
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
    this.logsDir ??= await openSubdirectory(await this.out(true), CERTIFIED_LOG_FILE.folder, {
      create: true,
    });
    return this.logsDir;
  }
  async close(): Promise<void> {
    await this.logsDir?.close();
    await this.outDir?.close();
  }
}

/**
 * The artifacts to hash: the artifact folder's listing (without this run's outputs; leftover chain-of-trust files
 * refused, a folder one level too deep warned about) and the explicit artifacts, held to the roots when roots are
 * given (else trusted as given).
 */
async function collectSources(
  o: GenerateOptions,
  folders: Folders,
  out: OutputPaths,
  warnings: GenerateWarning[],
): Promise<ArtifactSource[]> {
  const sources: ArtifactSource[] = [];
  if (o.artifactDir !== undefined) {
    const listed = await enumerateArtifactDir(o.artifactDir, {
      exclude: [out.openpgp, out.json, out.sig, ...(o.certifiedLog ? [out.certifiedLog] : [])],
    });
    refuseLeftovers(o, listed, folders.path);
    const tooDeep = folderTooDeepWarning(o.artifactDir, listed);
    if (tooDeep) warnings.push(tooDeep);
    sources.push(...listed);
  }
  const explicitWithin =
    o.artifactRoots !== undefined && o.artifactRoots.length > 0
      ? folders.roots.map((r) => r.real)
      : undefined;
  for (const s of o.artifacts ?? []) {
    sources.push(
      s.within !== undefined || explicitWithin === undefined ? s : { ...s, within: explicitWithin },
    );
  }
  return sources;
}

/** The certified log being copied: the staged copy in logs/ (renamed into place with the documents) and its hash. */
interface LogCopy {
  staged: StagedWrite;
  hashed: Promise<HashedArtifact>;
}

/**
 * The certified log: a frozen copy of the task log, hashed from the log itself while it is copied (to a staged file
 * in logs/, renamed into place with the documents, and to the staging folder), so the copies are the bytes hashed.
 * ARTIFACT_RESERVED_NAME when an artifact claims its name; ARTIFACT_UNSAFE_FILE for a log path that enters a task
 * folder and leaves it.
 */
async function startLogCopy(
  o: GenerateOptions & { certifiedLog: string },
  sources: readonly ArtifactSource[],
  folders: Folders,
  out: OutputPaths,
  algorithms: readonly HashAlgorithm[],
): Promise<LogCopy> {
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
    await locateInRoots(log, folders.roots).catch((e: unknown) => {
      throw new CotError('ARTIFACT_UNSAFE_FILE', `certified log ${log}: ${(e as Error).message}`, {
        cause: e,
      });
    })
  )?.root;
  const staged = stagedWrite(await folders.logs(), CERTIFIED_LOG_FILE.name);
  const stageCopy = o.stageDir === undefined ? undefined : join(o.stageDir, CERTIFIED_LOG_FILE.name);
  const hashed = digestFile(log, algorithms, {
    noFollow: true,
    label: `certified log ${log}`,
    ...(logRoot === undefined ? {} : { within: logRoot.real }),
    copies: [
      { path: staged.temp, mode: 0o644, label: staged.display },
      ...(stageCopy ? [{ path: stageCopy }] : []),
    ],
  }).then(
    (d) => ({
      name: CERTIFIED_LOG_NAME,
      path: out.certifiedLog,
      size: d.size,
      digests: d.digests,
      ...(stageCopy ? { staged: stageCopy } : {}),
    }),
    (e: unknown) => {
      throw fsError(e, log, 'cannot copy the task log');
    },
  );
  return { staged, hashed };
}

async function generateIn(
  o: GenerateOptions,
  folders: Folders,
  out: OutputPaths,
  signers: readonly DocumentSigner[],
): Promise<GenerateResult> {
  const warnings: GenerateWarning[] = [];
  const mismatch = workerTypeWarning(o);
  if (mismatch) warnings.push(mismatch);
  const sources = await collectSources(o, folders, out, warnings);
  const algorithms = o.hashAlgorithms ?? ['sha256'];
  const logCopy =
    o.certifiedLog === undefined
      ? undefined
      : await startLogCopy({ ...o, certifiedLog: o.certifiedLog }, sources, folders, out, algorithms);
  // both settle before anything is cleaned up: nothing keeps reading or copying after a failure
  const [payload, log] = await Promise.allSettled([
    hashArtifacts(sources, {
      algorithms,
      concurrency: o.concurrency ?? DEFAULT_HASH_CONCURRENCY,
      ...(o.stageDir === undefined ? {} : { stageDir: o.stageDir }),
    }),
    logCopy?.hashed,
  ]);
  if (payload.status === 'rejected' || log.status === 'rejected') {
    await logCopy?.staged.discard();
    throw payload.status === 'rejected' ? payload.reason : (log as PromiseRejectedResult).reason;
  }
  const hashed = log.value
    ? [...payload.value, log.value].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    : payload.value;
  try {
    return { ...(await signAndWrite(o, hashed, folders, signers, logCopy?.staged)), warnings };
  } catch (e) {
    await logCopy?.staged.discard();
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
    `${names.slice(0, -1).join(', ')}${several ? ' and ' : ''}${names.at(-1)} in the artifact folder ${o.artifactDir} ${several ? 'are chain-of-trust files' : 'is a chain-of-trust file'} left by an earlier run (this run writes the documents to ${outDir}, so ${several ? 'they would be listed as artifacts' : 'it would be listed as an artifact'}): delete ${several ? 'them' : 'it'} (${leftovers.map((s) => s.path).join(', ')}), or write the documents over ${several ? 'them' : 'it'} with ${optionRef('outDir')} ${join(o.artifactDir, 'public')} (the default)`,
    { details: { leftovers: names, paths: leftovers.map((s) => s.path), options: ['outDir'] } },
  );
}

/**
 * Every signer's check before anything is signed or written (OpenPGP: a line GnuPG could not verify,
 * SIGNING_LINE_TOO_LONG, details line/length/limit); when an ed25519 signer is also at work (--format both) the
 * message says that ed25519 alone could still sign it.
 */
function assertSignable(signers: readonly DocumentSigner[], canonical: string): void {
  for (const signer of signers) {
    try {
      signer.check(canonical);
    } catch (e) {
      if (
        e instanceof CotError &&
        e.code === 'SIGNING_LINE_TOO_LONG' &&
        signers.some((s) => s.format === 'ed25519')
      ) {
        throw new CotError(
          e.code,
          `${e.message}; nothing was written: ed25519 alone (${optionRef('format')} ed25519) could still sign this document`,
          { details: { ...e.details, options: ['format'] }, cause: e },
        );
      }
      throw e;
    }
  }
}

/**
 * The v1 document listing `hashed`, with the task's additional data merged under the worker's own values (which win,
 * nested keys of both kept; DOCUMENT_INVALID when the merge is not a valid document), and its canonical JSON.
 */
function buildSignedDocument(
  o: GenerateOptions,
  hashed: readonly HashedArtifact[],
): { document: CotDocument; canonical: string } {
  const generated = buildDocument({
    task: o.task,
    taskId: o.taskId,
    runId: o.runId,
    workerGroup: o.workerGroup,
    workerId: o.workerId,
    ...(o.workerType === undefined ? {} : { workerType: o.workerType }),
    ...(o.environment === undefined ? {} : { environment: o.environment }),
    artifacts: toArtifactDigests(hashed),
  });
  let document: CotDocument = generated;
  if (o.additionalData !== undefined) {
    const merged = mergeAdditionalData(o.additionalData, generated as unknown as JsonObject);
    assertCotDocument(merged, 'document merged with the additional data');
    document = merged;
  }
  return { document, canonical: canonicalize(document) };
}

/**
 * The private copies an upload reads, never the output folder (which the task may write): every artifact's staged
 * copy, then each signed file written into the staging folder as `cot-<name>`.
 */
async function stageOutputs(
  stageDir: string,
  hashed: readonly HashedArtifact[],
  files: readonly SignedFile[],
): Promise<StagedFile[]> {
  const staged: StagedFile[] = [];
  for (const h of hashed) {
    if (h.staged === undefined) throw new CotError('INTERNAL', `artifact ${h.name} has no staged copy`);
    staged.push({ name: h.name, path: h.staged, ...(h.digests.sha256 ? { sha256: h.digests.sha256 } : {}) });
  }
  for (const f of files) {
    const path = join(stageDir, `cot-${f.name}`);
    await writeStaged(path, f.data);
    staged.push({ name: f.artifact, path, sha256: digestBytes(f.data) });
  }
  return staged;
}

/**
 * Put everything in the output folder (opened once, made now if absent, then written only through its descriptor):
 * the certified log first, then the documents with writeFilesAtomicIn. Old signatures go first, and signatures are
 * renamed after the document: a crash between renames can leave a document without its signature, never a
 * signature beside a document it does not sign.
 */
async function writeOutputs(
  folders: Folders,
  files: readonly SignedFile[],
  log: StagedWrite | undefined,
): Promise<void> {
  const out = await folders.out(true);
  if (log) {
    await log.commit({ sync: false }).catch((e: unknown) => {
      throw new CotError('OUTPUT_FAILED', `cannot write ${log.display}: ${fsReason(e)}`, { cause: e });
    });
  }
  await writeFilesAtomicIn(
    files.map((f) => ({ folder: out, name: f.name, data: f.data, mode: 0o644 })),
    { removeFirst: files.filter((f) => f.signature).map((f) => ({ folder: out, name: f.name })) },
  );
}

async function signAndWrite(
  o: GenerateOptions,
  hashed: HashedArtifact[],
  folders: Folders,
  signers: readonly DocumentSigner[],
  log: StagedWrite | undefined,
): Promise<Omit<GenerateResult, 'warnings'>> {
  const { document, canonical } = buildSignedDocument(o, hashed);
  assertSignable(signers, canonical);
  const files: SignedFile[] = [];
  for (const signer of signers)
    files.push(...(await signer.sign(canonical, { now: o.now, taskId: o.taskId })));
  const staged = o.stageDir === undefined ? undefined : await stageOutputs(o.stageDir, hashed, files);
  await writeOutputs(folders, files, log);
  return {
    document,
    canonical,
    artifacts: hashed,
    files: files.map((f) => ({
      artifact: f.artifact,
      path: join(folders.path, f.name),
      size: f.data.length,
      sha256: digestBytes(f.data),
    })),
    signers: signers.map((s) => s.description),
    ...(staged === undefined ? {} : { staged }),
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
