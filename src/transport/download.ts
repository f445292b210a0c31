import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import type { HashAlgorithm } from '../document/schema.js';
import { CotError } from '../errors.js';
import { assertDigests, Digester, type FileDigest } from '../hashing/digest.js';
import { WORKER_DIGEST_MIN_BYTES, WorkerDigester } from '../hashing/worker-digest.js';
import { type StagedWrite, stagedWriteAt } from '../util/atomic.js';
import { fsReason } from '../util/fs-paths.js';
import { checkOption, checkOptions } from '../util/options.js';
import { streamInBlocks } from '../util/stream-file.js';
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

/** How one download is hashed: each chunk inline (Digester) or each block on a worker thread (WorkerDigester). */
interface Hashing {
  onChunk?: (chunk: Buffer) => void;
  onBlock?: (block: Buffer) => Promise<void>;
  result(): Promise<FileDigest>;
  close(): Promise<void>;
}

/**
 * A worker for a download of a known length of at least WORKER_DIGEST_MIN_BYTES (the main thread then only receives
 * and copies, the worker hashes on the other core), inline hashing otherwise or if no worker can be started.
 */
function hashingFor(algorithms: readonly HashAlgorithm[], size: number | undefined): Hashing {
  if (size !== undefined && size >= WORKER_DIGEST_MIN_BYTES) {
    try {
      const w = new WorkerDigester(algorithms);
      return { onBlock: (b) => w.update(b), result: () => w.result(), close: () => w.close() };
    } catch {
      // no worker (e.g. out of threads): hashed inline below
    }
  }
  const d = new Digester(algorithms);
  return {
    onChunk: (c) => d.update(c),
    result: async () => d.result(),
    close: async () => undefined,
  };
}

/**
 * Consume the artifact's stream through `hashing`, into `staged`'s temp file when there is one, and give the
 * digests. A CotError of the source (or of the hashing) passes as is; a failed write is OUTPUT_FAILED, anything
 * else TRANSPORT_NETWORK.
 */
async function consume(
  stream: Readable,
  hashing: Hashing,
  staged: StagedWrite | undefined,
  label: string,
  dest: string | undefined,
): Promise<FileDigest> {
  try {
    const handlers = {
      ...(hashing.onChunk ? { onChunk: hashing.onChunk } : {}),
      ...(hashing.onBlock ? { onBlock: hashing.onBlock } : {}),
    };
    if (staged) await staged.pipeFrom(stream, handlers);
    else await streamInBlocks(stream, handlers);
    return await hashing.result();
  } catch (e) {
    if (e instanceof CotError) throw e;
    if (staged?.writeFailed)
      throw new CotError('OUTPUT_FAILED', `${label}: cannot write ${dest}: ${fsReason(e)}`, { cause: e });
    throw new CotError('TRANSPORT_NETWORK', `${label}: ${(e as Error).message}`, { cause: e });
  } finally {
    await hashing.close();
  }
}

/**
 * Download one artifact and hash it while streaming: one pass, never the whole artifact in memory. With `dest`,
 * the bytes land atomically and only when they match `expected`: they go to a hidden temp file next to `dest`
 * (stagedWriteAt: the temp-name scheme of src/util/atomic.ts), fsynced and renamed into place after the digests
 * matched, and removed on any failure.
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
  // the destination folder first: once the source stream exists, it is consumed (and its errors handled) at once
  if (o.dest) await makeDestFolder(o.dest);
  const opened = await queue.openArtifact(taskId, runId, name, o);
  const label = `artifact ${name} of task ${taskId} run ${opened.runId}`;
  const staged = o.dest ? stagedWriteAt(o.dest) : undefined;
  const hashing = hashingFor(algorithmsFor(o), opened.size);
  const { size, digests } = await consume(opened.stream, hashing, staged, label, o.dest);
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
