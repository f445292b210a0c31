import { type FileHandle, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import {
  GENERATE_OPTION_RULES,
  type GenerateOptions,
  type GenerateResult,
  generateChainOfTrust,
} from '../cot/generate.js';
import { ADDITIONAL_DATA_FILE } from '../document/names.js';
import { CotError, fsError } from '../errors.js';
import { isJsonObject, type JsonObject, parseJsonBytes } from '../json/parse.js';
import type { TaskQueue } from '../transport/queue.js';
import { type UploadedFile, uploadArtifacts } from '../transport/upload.js';
import { checkOptions } from '../util/options.js';
import { openRegularFile, readBounded } from '../util/read.js';
import { createStagingDir } from '../util/staging.js';
import { collectEnvironment, type EnvironmentSource } from './environment.js';

const MAX_ADDITIONAL_DATA = 1024 * 1024;

/**
 * Read `<taskDir>/chain-of-trust-additional-data.json` if the task wrote one (undefined otherwise). The task controls
 * that folder, and a process of the task may still be running: the file is opened once, non-blocking and without
 * following a symlink at its name, and the open descriptor must be a regular file inside the task folder's real
 * path (openRegularFile); the bytes are then read from that descriptor, at most 1 MiB. So a symlink (which could
 * point at a file only the worker may read), a FIFO, a device or a folder swapped in at any moment is refused
 * (ARTIFACT_UNSAFE_FILE), never read. Also JSON_INVALID (too large, not a JSON object), FILE_UNREADABLE.
 */
export async function readAdditionalData(taskDir: string): Promise<JsonObject | undefined> {
  const p = join(taskDir, ADDITIONAL_DATA_FILE);
  let fh: FileHandle;
  try {
    fh = await openRegularFile(p, { noFollow: true, within: await realpath(taskDir) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // no task folder
    if (e instanceof CotError && e.code === 'FILE_NOT_FOUND') return undefined;
    throw fsError(e, p, 'cannot read additional data');
  }
  let bytes: Buffer;
  try {
    bytes = await readBounded(
      fh,
      MAX_ADDITIONAL_DATA,
      () => new CotError('JSON_INVALID', `${p} is over ${MAX_ADDITIONAL_DATA} bytes`),
    );
  } catch (e) {
    throw fsError(e, p, 'cannot read additional data');
  } finally {
    await fh.close();
  }
  const v = parseJsonBytes(bytes, { source: p, exactNumbers: true });
  if (!isJsonObject(v)) throw new CotError('JSON_INVALID', `${p} must hold a JSON object`);
  return v;
}

export interface WorkerChainOfTrustOptions
  extends Omit<GenerateOptions, 'environment' | 'additionalData' | 'stageDir'> {
  /** where the environment comes from (default static: `environment`) */
  environmentFrom?: EnvironmentSource;
  /** static environment, or extra keys laid under the collected one */
  environment?: JsonObject;
  /** metadata endpoint for ec2/gcp (tests point it at a local server) */
  metadataEndpoint?: string;
  /**
   * the task directory, where the task may leave chain-of-trust-additional-data.json. When given, it is also one
   * of the generator's `artifactRoots`: every explicit artifact must lie inside it (or inside `artifactDir`, or
   * another `artifactRoots` folder), and the output folder and certified log, when inside it, are held to it.
   */
  taskDir?: string;
  /**
   * Upload every artifact and then the chain-of-trust files. `stagingDir`: where the private staging folder is
   * made (default os.tmpdir(); never inside the artifact, output or task folder or an `artifactRoots` folder, nor
   * in a folder group or others may write without the sticky bit: createStagingDir); it needs room for a copy of
   * every artifact, and is removed afterwards.
   */
  upload?: { queue: TaskQueue; storageType?: 's3' | 'object'; expires?: string; stagingDir?: string };
}

export interface WorkerChainOfTrustResult extends Omit<GenerateResult, 'staged'> {
  environment: JsonObject;
  additionalData: boolean;
  uploaded: UploadedFile[];
}

/**
 * The whole worker side in one call: collect the environment, read the task's additional data, hash the artifacts
 * (and the certified log), build, validate, sign, write atomically, and optionally upload. Returns what it did.
 *
 * With `upload`, no byte is published that was not hashed, whatever a task process still running does to its
 * folders: each file is opened once and checked on its descriptor (hashArtifacts), copied into a fresh
 * worker-private staging folder in the same pass as it is hashed, and the upload reads only those copies (and
 * private copies of the signed files); the staging folder is removed afterwards, success or not. The queue still
 * checks each upload against the listed sha256 (ARTIFACT_CHANGED) and the chain-of-trust files go last, so a
 * failed run never uploads the document. Throws the codes of readAdditionalData, generateChainOfTrust and
 * uploadArtifacts (an upload failure keeps its code, and its message and `details.written` name the chain-of-trust
 * files written locally), OPTIONS_INVALID for missing or wrong options, and OPTIONS_INVALID / OUTPUT_FAILED for the
 * staging folder (createStagingDir).
 */
export async function workerChainOfTrust(o: WorkerChainOfTrustOptions): Promise<WorkerChainOfTrustResult> {
  checkOptions('workerChainOfTrust', o, {
    ...GENERATE_OPTION_RULES,
    environmentFrom: { kind: 'string', optional: true, oneOf: ['static', 'ec2', 'gcp'] },
    metadataEndpoint: { kind: 'string', optional: true },
    taskDir: { kind: 'string', optional: true },
    upload: { kind: 'object', optional: true },
  });
  if (o.upload !== undefined)
    checkOptions(
      'workerChainOfTrust',
      o.upload,
      {
        queue: { kind: 'queue' },
        storageType: { kind: 'string', optional: true, oneOf: ['s3', 'object'] },
        expires: { kind: 'string', optional: true },
        stagingDir: { kind: 'string', optional: true },
      },
      'options.upload',
    );
  const collected = await collectEnvironment(o.environmentFrom ?? 'static', {
    ...(o.environment ? { static: o.environment } : {}),
    ...(o.metadataEndpoint ? { endpoint: o.metadataEndpoint } : {}),
  });
  const environment =
    o.environmentFrom && o.environmentFrom !== 'static'
      ? { ...(o.environment ?? {}), ...collected }
      : collected;
  const additionalData = o.taskDir ? await readAdditionalData(o.taskDir) : undefined;
  const { upload, environmentFrom: _e, metadataEndpoint: _m, taskDir: _t, ...gen } = o;
  const staging = upload
    ? await createStagingDir(upload.stagingDir, [
        o.artifactDir,
        o.outDir,
        o.taskDir,
        ...(o.artifactRoots ?? []),
      ])
    : undefined;
  try {
    const artifactRoots = [...(o.artifactRoots ?? []), ...(o.taskDir === undefined ? [] : [o.taskDir])];
    const { staged, ...r } = await generateChainOfTrust({
      ...gen,
      ...(artifactRoots.length > 0 ? { artifactRoots } : {}),
      environment,
      ...(additionalData ? { additionalData } : {}),
      ...(staging ? { stageDir: staging.dir } : {}),
    });
    let uploaded: UploadedFile[] = [];
    if (upload) {
      if (staged === undefined) throw new CotError('INTERNAL', 'nothing was staged for the upload');
      const expires = upload.expires ?? (typeof o.task.expires === 'string' ? o.task.expires : undefined);
      // the local file each staged copy was made from, for the result
      const origin = new Map<string, string>([
        ...r.artifacts.map((a) => [a.name, a.path] as const),
        ...r.files.map((f) => [f.artifact, f.path] as const),
      ]);
      try {
        uploaded = (
          await uploadArtifacts(upload.queue, staged, {
            taskId: o.taskId,
            runId: o.runId,
            ...(upload.storageType ? { storageType: upload.storageType } : {}),
            ...(expires ? { expires } : {}),
          })
        ).map((u) => ({ ...u, path: origin.get(u.name) ?? u.path }));
      } catch (e) {
        // the signed files are on disk: say so, and where, whatever the upload's failure
        if (!(e instanceof CotError)) throw e;
        const written = r.files.map((f) => f.path);
        throw new CotError(
          e.code,
          `${e.message}; the upload stopped, but the chain-of-trust files were written locally: ${written.join(', ')} (upload them again after the artifacts)`,
          { cause: e, details: { ...e.details, written } },
        );
      }
    }
    return {
      ...r,
      artifacts: r.artifacts.map(({ staged: _s, ...a }) => a), // the staging folder is gone
      environment,
      additionalData: additionalData !== undefined,
      uploaded,
    };
  } finally {
    await staging?.remove();
  }
}
