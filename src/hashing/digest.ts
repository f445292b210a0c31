import { createHash } from 'node:crypto';
import { constants, type FileHandle, open, unlink } from 'node:fs/promises';
import { Transform } from 'node:stream';
import type { HashAlgorithm } from '../document/schema.js';
import { CotError, fsError, IntegrityError, toCotError } from '../errors.js';
import { fsReason } from '../util/fs-paths.js';
import { type OpenRegularOptions, openRegularFile } from '../util/read.js';

/** Read size for hashing: large reads, double-buffered so the next read overlaps hashing. */
const HASH_CHUNK_SIZE = 2 * 1024 * 1024;

export interface FileDigest {
  /** lowercase hex digest per requested algorithm */
  digests: Partial<Record<HashAlgorithm, string>>;
  size: number;
}

export function digestBytes(bytes: Uint8Array, algorithm: HashAlgorithm = 'sha256'): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

/**
 * The one hashing stream: every algorithm asked for, fed chunk by chunk, counting bytes. Files (digestHandle) and
 * downloads (digestTransform) both go through it.
 */
export class Digester {
  private readonly hashes: ReturnType<typeof createHash>[];
  /** bytes hashed so far */
  size = 0;
  constructor(readonly algorithms: readonly HashAlgorithm[]) {
    this.hashes = algorithms.map((a) => createHash(a));
  }
  update(chunk: Uint8Array): void {
    this.size += chunk.length;
    for (const h of this.hashes) h.update(chunk);
  }
  /** The lowercase hex digests and the size; call once, at the end. */
  result(): FileDigest {
    const digests: Partial<Record<HashAlgorithm, string>> = {};
    this.algorithms.forEach((a, i) => {
      digests[a] = this.hashes[i]!.digest('hex');
    });
    return { digests, size: this.size };
  }
}

/** A pass-through stream stage that feeds every chunk to `digester` (for pipeline: source -> hash -> file). */
export function digestTransform(digester: Digester): Transform {
  return new Transform({
    highWaterMark: HASH_CHUNK_SIZE,
    transform(chunk: Buffer, _e, cb) {
      digester.update(chunk);
      cb(null, chunk);
    },
  });
}

/**
 * The one digest comparison: every algorithm of `expected` must equal `found`'s (the first that differs, in
 * `expected`'s order, is reported). Throws IntegrityError (HASH_MISMATCH, details artifact/algorithm/expected/found)
 * with the message `<label>: <alg> is <found>, the signed document lists <expected>`. `artifact` is the name the
 * error carries (details.artifact).
 */
export function assertDigests(
  label: string,
  artifact: string,
  expected: Partial<Record<HashAlgorithm, string>>,
  found: Partial<Record<HashAlgorithm, string>>,
): void {
  for (const [alg, want] of Object.entries(expected) as [HashAlgorithm, string][]) {
    const got = found[alg];
    if (got !== want) {
      throw new IntegrityError(
        `${label}: ${alg} is ${got}, the signed document lists ${want}`,
        artifact,
        alg,
        want,
        got ?? '',
      );
    }
  }
}

/** Reusable read buffers: hashing many small files must not allocate megabytes per file. */
const pool: Buffer[] = [];
const POOL_MAX = 16;
function acquire(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafe(HASH_CHUNK_SIZE);
}
function release(b: Buffer): void {
  if (pool.length < POOL_MAX) pool.push(b);
}

/** Write all of `chunk` at `position` (a regular file may take fewer bytes per call). */
async function writeAll(fh: FileHandle, chunk: Buffer, position: number): Promise<void> {
  for (let done = 0; done < chunk.length; ) {
    const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Stream an open file through the hashes. Reads of HASH_CHUNK_SIZE are double-buffered, so the next read runs
 * on the thread pool while this one is hashed; memory use is two chunks whatever the file size. Each chunk hashed
 * is also written to every `sinks` handle (private copies made in the same pass: exactly the bytes hashed, even if
 * the file changes later); a failed write is OUTPUT_FAILED, a failed read FILE_UNREADABLE.
 */
async function digestHandle(
  fh: FileHandle,
  algorithms: readonly HashAlgorithm[],
  label: string,
  sinks: readonly FileHandle[] = [],
): Promise<FileDigest> {
  const digester = new Digester(algorithms);
  const bufs = [acquire(), acquire()] as const;
  let size = 0;
  let which = 0;
  try {
    let pending = fh.read(bufs[0], 0, HASH_CHUNK_SIZE, 0);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const current = bufs[which]!;
      const offset = size;
      size += bytesRead;
      which ^= 1;
      if (bytesRead === HASH_CHUNK_SIZE) {
        pending = fh.read(bufs[which]!, 0, HASH_CHUNK_SIZE, size); // overlap the next read with hashing
      } else {
        // a short read is usually the end: confirm with one more read only after hashing this chunk
        pending = undefined as unknown as typeof pending;
      }
      const chunk = bytesRead === HASH_CHUNK_SIZE ? current : current.subarray(0, bytesRead);
      digester.update(chunk);
      // the copy is written before `current` can be read into again (two iterations from now)
      for (const sink of sinks) {
        await writeAll(sink, chunk, offset).catch((e: unknown) => {
          throw new CotError('OUTPUT_FAILED', `cannot copy ${label}: ${fsReason(e)}`, { cause: e });
        });
      }
      if (pending === undefined) pending = fh.read(bufs[which]!, 0, HASH_CHUNK_SIZE, size);
    }
  } catch (e) {
    throw fsError(e, label, 'cannot read');
  } finally {
    release(bufs[0]);
    release(bufs[1]);
  }
  return digester.result();
}

/** A copy written while a file is hashed: created anew (O_EXCL, never through a symlink), default mode 0600. */
interface DigestCopy {
  path: string;
  mode?: number;
  /** the copy's name in messages (default `path`; e.g. when `path` goes through /proc/self/fd/N) */
  label?: string;
}

interface DigestFileOptions extends OpenRegularOptions {
  /** Files to create and fill with exactly the bytes hashed, in the same pass (removed again on failure). */
  copies?: readonly DigestCopy[];
}

/**
 * Hash one file by path, opened once (openRegularFile: regular file, optionally no symlink at the end and inside
 * `within`). With `copies`, the bytes are copied while they are hashed: each copy holds exactly what was hashed.
 */
export async function digestFile(
  path: string,
  algorithms: readonly HashAlgorithm[] = ['sha256'],
  options: DigestFileOptions = {},
): Promise<FileDigest> {
  const fh = await openRegularFile(path, options);
  const label = options.label ?? (options.name !== undefined ? `artifact ${options.name}` : path);
  const sinks: FileHandle[] = [];
  const created: string[] = [];
  try {
    for (const c of options.copies ?? []) {
      sinks.push(
        await open(c.path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, c.mode ?? 0o600).catch(
          (e: unknown) => {
            throw new CotError(
              'OUTPUT_FAILED',
              `cannot create ${c.label ?? c.path} to copy ${label}: ${fsReason(e)}`,
              { cause: e },
            );
          },
        ),
      );
      created.push(c.path);
    }
    const d = await digestHandle(fh, algorithms, label, sinks);
    await Promise.all(sinks.splice(0).map((s) => s.close()));
    return d;
  } catch (e) {
    await Promise.all(sinks.map((s) => s.close().catch(() => undefined)));
    await Promise.all(created.map((p) => unlink(p).catch(() => undefined)));
    throw toCotError(e, 'OUTPUT_FAILED', `cannot copy ${label}`);
  } finally {
    await fh.close();
  }
}

/** Files hashed at once by default: enough to keep libuv's four I/O threads busy while hashing. */
export const DEFAULT_HASH_CONCURRENCY = 8;
