import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HashAlgorithm } from '../document/schema.js';
import { CotError, IntegrityError } from '../errors.js';
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

/**
 * Download one artifact and hash it while streaming: one pass, never the whole artifact in memory. With `dest`,
 * the bytes land atomically and only when they match `expected`: they go to a hidden temp file next to `dest`
 * (`.<name>.<random>.tmp`, fsynced), renamed into place after the digests matched, and removed on any failure.
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
  const algorithms =
    o.algorithms ??
    ((Object.keys(o.expected ?? {}) as HashAlgorithm[]).length
      ? (Object.keys(o.expected!) as HashAlgorithm[])
      : ['sha256']);
  // the destination folder first: once the source stream exists, it is consumed (and its errors handled) at once
  if (o.dest) {
    try {
      await mkdir(dirname(o.dest), { recursive: true });
    } catch (e) {
      throw new CotError('OUTPUT_FAILED', `cannot create the folder of ${o.dest}: ${fsReason(e)}`, {
        cause: e,
      });
    }
  }
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
  const tmp = o.dest
    ? join(dirname(o.dest), `.${basename(o.dest)}.${randomBytes(6).toString('hex')}.tmp`)
    : undefined;
  let writeFailed = false;
  try {
    if (tmp) {
      const out = createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
      out.on('error', () => {
        writeFailed = true;
      });
      // pipeline, not pipe: an error of any stage (the source's above all) destroys every stage and rejects here
      await pipeline(opened.stream, hasher, out);
    } else {
      for await (const chunk of opened.stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        for (const h of hashes) h.update(chunk);
      }
    }
  } catch (e) {
    if (tmp) await unlink(tmp).catch(() => undefined);
    if (e instanceof CotError) throw e;
    if (writeFailed)
      throw new CotError('OUTPUT_FAILED', `${label}: cannot write ${o.dest}: ${fsReason(e)}`, { cause: e });
    throw new CotError('TRANSPORT_NETWORK', `${label}: ${(e as Error).message}`, { cause: e });
  }
  if (tmp) {
    try {
      const fh = await open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw new CotError('OUTPUT_FAILED', `${label}: cannot write ${o.dest}: ${fsReason(e)}`, { cause: e });
    }
  }
  const digests: Partial<Record<HashAlgorithm, string>> = {};
  algorithms.forEach((a, i) => {
    digests[a] = hashes[i]!.digest('hex');
  });
  for (const [alg, want] of Object.entries(o.expected ?? {}) as [HashAlgorithm, string][]) {
    if (digests[alg] !== want) {
      if (tmp) await unlink(tmp).catch(() => undefined);
      throw new IntegrityError(
        `${label}: ${alg} is ${digests[alg]}, the signed document lists ${want}`,
        name,
        alg,
        want,
        digests[alg]!,
      );
    }
  }
  if (tmp && o.dest) {
    try {
      await rename(tmp, o.dest);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw new CotError('OUTPUT_FAILED', `${label}: cannot write ${o.dest}: ${fsReason(e)}`, { cause: e });
    }
  }
  return { taskId, runId: opened.runId, name, size, digests, ...(o.dest ? { path: o.dest } : {}) };
}
