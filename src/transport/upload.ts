import { COT_ARTIFACT_NAMES } from '../document/names.js';
import { CotError, optionRef } from '../errors.js';
import { checkOption, checkOptions } from '../util/options.js';
import { uploadContentType } from './content-type.js';
import type { TaskQueue } from './queue.js';

export interface UploadFile {
  name: string;
  path: string;
  /** the sha256 the signed document lists for it: uploads stop if the bytes are not these */
  sha256?: string;
}

export interface UploadOptions {
  taskId: string;
  runId: number;
  /** ISO time; default: the task definition's `expires` */
  expires?: string;
  storageType?: 's3' | 'object';
  /** files uploaded at once (default 4); the chain-of-trust files always go last, after every other artifact */
  concurrency?: number;
}

export interface UploadedFile {
  name: string;
  path: string;
  contentType: string;
  gzip: boolean;
}

/**
 * Upload artifacts of a run: every artifact expires with the task (unless told otherwise), text is gzipped on the
 * wire (the stored artifact is the original bytes), the chain-of-trust files go last so that a document is never
 * visible before the artifacts it lists. Throws OPTIONS_INVALID (bad options, or no `expires` given and the task
 * has none), and what `queue.task` and `queue.createArtifact` throw (QUEUE_NOT_FOUND, QUEUE_REQUEST_REFUSED,
 * TRANSPORT_*, ARTIFACT_CHANGED, FILE_NOT_FOUND / FILE_UNREADABLE).
 */
export async function uploadArtifacts(
  queue: TaskQueue,
  files: readonly UploadFile[],
  o: UploadOptions,
): Promise<UploadedFile[]> {
  checkOption('uploadArtifacts', 'queue', queue, { kind: 'queue' });
  checkOption('uploadArtifacts', 'files', files, { kind: 'array', hint: '[{ name, path }]' });
  checkOptions('uploadArtifacts', o, {
    taskId: { kind: 'string' },
    runId: { kind: 'nonNegativeInteger' },
    expires: { kind: 'string', optional: true },
    storageType: { kind: 'string', optional: true, oneOf: ['s3', 'object'] },
    concurrency: { kind: 'nonNegativeInteger', optional: true },
  });
  let expires = o.expires;
  if (expires === undefined) {
    const task = await queue.task(o.taskId);
    if (typeof task.expires !== 'string') {
      throw new CotError('OPTIONS_INVALID', `task ${o.taskId} has no expires; give ${optionRef('expires')}`, {
        details: { options: ['expires'] },
      });
    }
    expires = task.expires;
  }
  const cotNames = new Set<string>(Object.values(COT_ARTIFACT_NAMES));
  const payload = files.filter((f) => !cotNames.has(f.name));
  const cot = files
    .filter((f) => cotNames.has(f.name))
    .sort((a, b) => (a.name.endsWith('.sig') ? 1 : b.name.endsWith('.sig') ? -1 : 0));
  const done: UploadedFile[] = [];
  const one = async (f: UploadFile) => {
    const t = uploadContentType(f.name);
    await queue.createArtifact({
      taskId: o.taskId,
      runId: o.runId,
      name: f.name,
      path: f.path,
      contentType: t.contentType,
      expires: expires!,
      storageType: o.storageType ?? 's3',
      gzip: t.gzip,
      ...(f.sha256 !== undefined ? { expectedSha256: f.sha256 } : {}),
    });
    done.push({ name: f.name, path: f.path, ...t });
  };
  const limit = Math.max(1, o.concurrency ?? 4);
  for (let i = 0; i < payload.length; i += limit) await Promise.all(payload.slice(i, i + limit).map(one));
  for (const f of cot) await one(f);
  return done;
}
