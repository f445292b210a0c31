import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import type { HashAlgorithm } from '../document/schema.js';
import { CotError, IntegrityError } from '../errors.js';
import { atomicWriteStream } from './dir-store.js';
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

/**
 * Download one artifact and hash it while streaming: one pass, never the whole artifact in memory. With `dest`,
 * the bytes land atomically and only when they match `expected`.
 */
export async function downloadArtifact(
  queue: TaskQueue,
  taskId: string,
  runId: number | undefined,
  name: string,
  o: DownloadOptions = {},
): Promise<DownloadedArtifact> {
  const algorithms =
    o.algorithms ??
    ((Object.keys(o.expected ?? {}) as HashAlgorithm[]).length
      ? (Object.keys(o.expected!) as HashAlgorithm[])
      : ['sha256']);
  const opened = await queue.openArtifact(taskId, runId, name, o);
  const hashes = algorithms.map((a) => createHash(a));
  let size = 0;
  const hasher = new Transform({
    highWaterMark: 2 * 1024 * 1024,
    transform(chunk: Buffer, _e, cb) {
      size += chunk.length;
      for (const h of hashes) h.update(chunk);
      cb(null, chunk);
    },
  });
  const label = `artifact ${name} of task ${taskId} run ${opened.runId}`;
  let staged: { commit: () => Promise<void>; abort: () => Promise<void> } | undefined;
  try {
    if (o.dest) {
      await mkdir(dirname(o.dest), { recursive: true });
      staged = await stageTo(o.dest, opened.stream.pipe(hasher));
      opened.stream.on('error', (e) => hasher.destroy(e));
    } else {
      for await (const chunk of opened.stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        for (const h of hashes) h.update(chunk);
      }
    }
  } catch (e) {
    if (e instanceof CotError) throw e;
    throw new CotError('TRANSPORT_NETWORK', `${label}: ${(e as Error).message}`, { cause: e });
  }
  const digests: Partial<Record<HashAlgorithm, string>> = {};
  algorithms.forEach((a, i) => {
    digests[a] = hashes[i]!.digest('hex');
  });
  for (const [alg, want] of Object.entries(o.expected ?? {}) as [HashAlgorithm, string][]) {
    if (digests[alg] !== want) {
      await staged?.abort();
      throw new IntegrityError(
        `${label}: ${alg} is ${digests[alg]}, the signed document lists ${want}`,
        name,
        alg,
        want,
        digests[alg]!,
      );
    }
  }
  await staged?.commit();
  return { taskId, runId: opened.runId, name, size, digests, ...(o.dest ? { path: o.dest } : {}) };
}

/** Write a stream to a hidden temp file next to `dest`; commit renames it into place, abort removes it. */
async function stageTo(dest: string, source: NodeJS.ReadableStream) {
  const tmp = join(dirname(dest), `.${basename(dest)}.${randomBytes(6).toString('hex')}.tmp`);
  const { rename, unlink } = await import('node:fs/promises');
  try {
    await atomicWriteStream(tmp, source);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  return {
    commit: () => rename(tmp, dest),
    abort: () => unlink(tmp).catch(() => undefined),
  };
}
