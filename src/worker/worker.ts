import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type GenerateOptions, type GenerateResult, generateChainOfTrust } from '../cot/generate.js';
import { CotError, fsError } from '../errors.js';
import { type JsonObject, parseJsonBytes } from '../json/parse.js';
import type { TaskQueue } from '../transport/queue.js';
import { type UploadedFile, uploadArtifacts } from '../transport/upload.js';
import { collectEnvironment, type EnvironmentSource } from './environment.js';

export const ADDITIONAL_DATA_FILE = 'chain-of-trust-additional-data.json';
const MAX_ADDITIONAL_DATA = 1024 * 1024;

/**
 * Read `<taskDir>/chain-of-trust-additional-data.json` if the task wrote one. The task controls that folder, so a
 * symlink (which could point at a file only the worker may read) or anything but a small regular file is refused.
 */
export async function readAdditionalData(taskDir: string): Promise<JsonObject | undefined> {
  const p = join(taskDir, ADDITIONAL_DATA_FILE);
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(e, p, 'cannot read additional data');
  }
  if (st.isSymbolicLink() || !st.isFile())
    throw new CotError('ARTIFACT_UNSAFE_FILE', `${p} must be a regular file, not a symlink or special file`);
  if (st.size > MAX_ADDITIONAL_DATA)
    throw new CotError('JSON_INVALID', `${p} is ${st.size} bytes, over ${MAX_ADDITIONAL_DATA}`);
  const v = parseJsonBytes(await readFile(p), { source: p, exactNumbers: true });
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new CotError('JSON_INVALID', `${p} must hold a JSON object`);
  return v;
}

export interface WorkerChainOfTrustOptions extends Omit<GenerateOptions, 'environment' | 'additionalData'> {
  /** where the environment comes from (default static: `environment`) */
  environmentFrom?: EnvironmentSource;
  /** static environment, or extra keys laid under the collected one */
  environment?: JsonObject;
  /** metadata endpoint for ec2/gcp (tests point it at a local server) */
  metadataEndpoint?: string;
  /** the task directory, where the task may leave chain-of-trust-additional-data.json */
  taskDir?: string;
  /** upload every artifact and then the chain-of-trust files */
  upload?: { queue: TaskQueue; storageType?: 's3' | 'object'; expires?: string };
}

export interface WorkerChainOfTrustResult extends GenerateResult {
  environment: JsonObject;
  additionalData: boolean;
  uploaded: UploadedFile[];
}

/**
 * The whole worker side in one call: collect the environment, read the task's additional data, hash the artifacts
 * (and the certified log), build, validate, sign, write atomically, and optionally upload. Returns what it did.
 */
export async function workerChainOfTrust(o: WorkerChainOfTrustOptions): Promise<WorkerChainOfTrustResult> {
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
  const r = await generateChainOfTrust({
    ...gen,
    environment,
    ...(additionalData ? { additionalData } : {}),
  });
  let uploaded: UploadedFile[] = [];
  if (upload) {
    const expires = upload.expires ?? (typeof o.task.expires === 'string' ? o.task.expires : undefined);
    uploaded = await uploadArtifacts(
      upload.queue,
      [
        // with the digests the document lists: an artifact changed since it was hashed stops the upload
        ...r.artifacts.map((a) => ({
          name: a.name,
          path: a.path,
          ...(a.digests.sha256 ? { sha256: a.digests.sha256 } : {}),
        })),
        ...r.files.map((f) => ({ name: f.artifact, path: f.path, sha256: f.sha256 })),
      ],
      {
        taskId: o.taskId,
        runId: o.runId,
        ...(upload.storageType ? { storageType: upload.storageType } : {}),
        ...(expires ? { expires } : {}),
      },
    );
  }
  return { ...r, environment, additionalData: additionalData !== undefined, uploaded };
}
