import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import type { HashAlgorithm } from '../document/schema.js';
import { CotError } from '../errors.js';
import { assertDigests, Digester, digestTransform, type FileDigest } from '../hashing/digest.js';
import { hashInWorker, hashWorkerSlots, WORKER_HASH_MIN_BYTES } from '../hashing/hash-worker.js';
import { type StagedWrite, stagedWriteAt } from '../util/atomic.js';
import { fsReason } from '../util/fs-paths.js';
import { checkOption, checkOptions } from '../util/options.js';
import type { DownloadLimits, TaskQueue } from './queue.js';

export interface DownloadedArtifact {
  taskId: string;
  runId: number;
  name: string;
  size: number;
  digests: Partial<Record<HashAlgorithm, string>>;
  /** where the bytes were written, if a destination was given */
  path?: string;
}

export interface DownloadOptions extends DownloadLimits {
  /** digests the bytes must have (from the producer's signed document); checked in the same pass */
  expected?: Partial<Record<HashAlgorithm, string>>;
  /** algorithms to compute (default: those of `expected`, else sha256) */
  algorithms?: readonly HashAlgorithm[];
  /** write the bytes here, atomically (temp file renamed only after the digests matched) */
  dest?: string;
}

/** The algorithms to compute: those asked for, else those of `expected`, else sha256. */
function algorithmsFor(o: DownloadOptions): HashAlgorithm[] {
  if (o.algorithms) return [...o.algorithms];
  const listed = Object.keys(o.expected ?? {}) as HashAlgorithm[];
  return listed.length > 0 ? listed : ['sha256'];
}

/** Make the destination's folder (OUTPUT_FAILED naming it), before any source stream exists. */
async function makeDestFolder(dest: string): Promise<void> {
  try {
    await mkdir(dirname(dest), { recursive: true });
  } catch (e) {
    throw new CotError('OUTPUT_FAILED', `cannot create the folder of ${dest}: ${fsReason(e)}`, { cause: e });
  }
}

/**
 * Consume the artifact's stream through `digester`, into `staged`'s temp file when there is one. A CotError of the
 * source passes as is; a failed write is OUTPUT_FAILED, anything else TRANSPORT_NETWORK.
 */
async function consume(
  stream: NodeJS.ReadableStream,
  algorithms: readonly HashAlgorithm[],
  staged: StagedWrite | undefined,
  label: string,
  dest: string | undefined,
): Promise<FileDigest> {
  const digester = new Digester(algorithms);
  try {
    if (staged) await staged.pipeFrom(stream, [digestTransform(digester)]);
    else for await (const chunk of stream as AsyncIterable<Buffer>) digester.update(chunk);
    return digester.result();
  } catch (e) {
    if (e instanceof CotError) throw e;
    if (staged?.writeFailed)
      throw new CotError('OUTPUT_FAILED', `${label}: cannot write ${dest}: ${fsReason(e)}`, { cause: e });
    throw new CotError('TRANSPORT_NETWORK', `${label}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * consume for a large artifact: hashed, and written into `staged`'s temp file (created here, O_EXCL, 0644), on a
 * worker thread (hashInWorker), while this thread receives. The same errors as consume; on any failure the temp file
 * is removed.
 */
async function consumeInWorker(
  stream: Readable,
  algorithms: readonly HashAlgorithm[],
  staged: StagedWrite | undefined,
  label: string,
  dest: string | undefined,
): Promise<FileDigest> {
  let fh: FileHandle | undefined;
  let writeFailed = false;
  const wrote = <T>(p: Promise<T>) =>
    p.catch((e: unknown) => {
      writeFailed = true;
      throw e;
    });
  // while the temp file is created the stream is not read yet: an error of it now is seen by hashInWorker (or ends
  // the stream below), never an unhandled 'error' event
  const early = () => undefined;
  stream.on('error', early);
  try {
    if (staged) fh = await wrote(open(staged.temp, 'wx', 0o644)); // O_EXCL: never an existing file or a symlink
    stream.off('error', early);
    const d = await hashInWorker(stream, algorithms, {
      ...(fh ? { fd: fh.fd } : {}),
      onFileError: () => {
        writeFailed = true;
      },
    });
    await wrote(fh?.close() ?? Promise.resolve());
    fh = undefined;
    return d;
  } catch (e) {
    stream.off('error', early);
    stream.destroy();
    await fh?.close().catch(() => undefined);
    await staged?.discard();
    if (e instanceof CotError) throw e;
    if (writeFailed)
      throw new CotError('OUTPUT_FAILED', `${label}: cannot write ${dest}: ${fsReason(e)}`, { cause: e });
    throw new CotError('TRANSPORT_NETWORK', `${label}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Download one artifact and hash it while streaming: one pass, never the whole artifact in memory. With `dest`,
 * the bytes land atomically and only when they match `expected`: they go to a hidden temp file next to `dest`
 * (stagedWriteAt: the temp-name scheme of src/util/atomic.ts), fsynced and renamed into place after the digests
 * matched, and removed on any failure. An artifact of known length of WORKER_HASH_MIN_BYTES (16 MiB) or more is
 * hashed, and written, on a worker thread (hashInWorker; at most one per core, else inline) while this thread
 * receives it: both cores work.
 *
 * Every error of the source (a truncated or stalled body, a deadline or minimum rate missed, a byte limit) rejects
 * the returned promise with its code (TRANSPORT_*); it never escapes as an unhandled stream error. A write
 * failure at the destination is OUTPUT_FAILED; a digest mismatch is HASH_MISMATCH (an IntegrityError).
 */
export async function downloadArtifact(
  queue: TaskQueue,
  taskId: string,
  runId: number | undefined,
  name: string,
  o: DownloadOptions = {},
): Promise<DownloadedArtifact> {
  checkOption('downloadArtifact', 'queue', queue, { kind: 'queue' });
  checkOption('downloadArtifact', 'runId', runId, { kind: 'nonNegativeInteger', optional: true });
  checkOption('downloadArtifact', 'name', name, { kind: 'string' });
  checkOptions('downloadArtifact', o, {
    expected: { kind: 'object', optional: true },
    algorithms: { kind: 'array', optional: true },
    dest: { kind: 'string', optional: true },
  });
  const algorithms = algorithmsFor(o);
  // the destination folder first: once the source stream exists, it is consumed (and its errors handled) at once
  if (o.dest) await makeDestFolder(o.dest);
  const opened = await queue.openArtifact(taskId, runId, name, o);
  const label = `artifact ${name} of task ${taskId} run ${opened.runId}`;
  const staged = o.dest ? stagedWriteAt(o.dest) : undefined;
  // a large artifact of known length: hashed and written on a worker thread (if one is free), so both cores work
  const inWorker =
    opened.size !== undefined && opened.size >= WORKER_HASH_MIN_BYTES && hashWorkerSlots.take();
  const { size, digests } = inWorker
    ? await consumeInWorker(opened.stream, algorithms, staged, label, o.dest).finally(() =>
        hashWorkerSlots.release(),
      )
    : await consume(opened.stream, algorithms, staged, label, o.dest);
  try {
    assertDigests(label, name, o.expected ?? {}, digests);
  } catch (e) {
    await staged?.discard();
    throw e;
  }
  if (staged) {
    await staged.commit().catch((e: unknown) => {
      throw new CotError('OUTPUT_FAILED', `${label}: cannot write ${o.dest}: ${fsReason(e)}`, { cause: e });
    });
  }
  return { taskId, runId: opened.runId, name, size, digests, ...(o.dest ? { path: o.dest } : {}) };
}
