import { createHash } from 'node:crypto';
import { constants, type FileHandle, open } from 'node:fs/promises';
import { HASH_ALGORITHMS, type HashAlgorithm } from '../document/schema.js';
import { CotError, fsError } from '../errors.js';

/** Read size for hashing: large reads, double-buffered so the next read overlaps hashing. */
export const HASH_CHUNK_SIZE = 2 * 1024 * 1024;

export interface FileDigest {
  /** lowercase hex digest per requested algorithm */
  digests: Partial<Record<HashAlgorithm, string>>;
  size: number;
}

export function assertHashAlgorithm(name: string): asserts name is HashAlgorithm {
  if (!(HASH_ALGORITHMS as string[]).includes(name)) {
    throw new CotError(
      'HASH_UNSUPPORTED_ALGORITHM',
      `hash algorithm ${JSON.stringify(name)} is not supported (supported: ${HASH_ALGORITHMS.join(', ')})`,
    );
  }
}

export function digestBytes(bytes: Uint8Array, algorithm: HashAlgorithm = 'sha256'): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

export interface OpenRegularOptions {
  /** Refuse to follow a symlink at the final path component (the caller resolved it already). */
  noFollow?: boolean;
  /** Name of the artifact, for messages. */
  name?: string;
}

/**
 * Open a file for reading and prove, on the open descriptor, that it is a regular file. O_NONBLOCK keeps a FIFO
 * from blocking the open; O_NOFOLLOW (optional) refuses a symlink swapped in after it was checked.
 */
export async function openRegularFile(path: string, options: OpenRegularOptions = {}): Promise<FileHandle> {
  const label = options.name !== undefined ? `artifact ${options.name} (${path})` : path;
  let flags = constants.O_RDONLY | constants.O_NONBLOCK;
  if (options.noFollow) flags |= constants.O_NOFOLLOW;
  let fh: FileHandle;
  try {
    fh = await open(path, flags);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new CotError('ARTIFACT_UNSAFE_FILE', `${label}: became a symlink after it was checked`, {
        cause: e,
      });
    }
    throw fsError(e, label, 'cannot open');
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw new CotError('ARTIFACT_UNSAFE_FILE', `${label}: is a ${describeStat(st)}, not a regular file`);
    }
    return fh;
  } catch (e) {
    await fh.close();
    throw fsError(e, label, 'cannot stat');
  }
}

export function describeStat(st: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSymbolicLink(): boolean;
}): string {
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isSymbolicLink()) return 'symlink';
  return 'special file';
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

/**
 * Stream an open file through the hashes. Reads of HASH_CHUNK_SIZE are double-buffered, so the next read runs
 * on the thread pool while this one is hashed; memory use is two chunks whatever the file size.
 */
export async function digestHandle(
  fh: FileHandle,
  algorithms: readonly HashAlgorithm[],
  label: string,
): Promise<FileDigest> {
  const hashes = algorithms.map((a) => createHash(a));
  const bufs = [acquire(), acquire()] as const;
  let size = 0;
  let which = 0;
  try {
    let pending = fh.read(bufs[0], 0, HASH_CHUNK_SIZE, 0);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const current = bufs[which]!;
      size += bytesRead;
      which ^= 1;
      if (bytesRead === HASH_CHUNK_SIZE) {
        pending = fh.read(bufs[which]!, 0, HASH_CHUNK_SIZE, size); // overlap the next read with hashing
      } else {
        // a short read is usually the end: confirm with one more read only after hashing this chunk
        pending = undefined as unknown as typeof pending;
      }
      const chunk = bytesRead === HASH_CHUNK_SIZE ? current : current.subarray(0, bytesRead);
      for (const h of hashes) h.update(chunk);
      if (pending === undefined) pending = fh.read(bufs[which]!, 0, HASH_CHUNK_SIZE, size);
    }
  } catch (e) {
    throw fsError(e, label, 'cannot read');
  } finally {
    release(bufs[0]);
    release(bufs[1]);
  }
  const digests: Partial<Record<HashAlgorithm, string>> = {};
  algorithms.forEach((a, i) => {
    digests[a] = hashes[i]!.digest('hex');
  });
  return { digests, size };
}

/** Hash one file by path (must be a regular file). */
export async function digestFile(
  path: string,
  algorithms: readonly HashAlgorithm[] = ['sha256'],
  options: OpenRegularOptions = {},
): Promise<FileDigest> {
  const fh = await openRegularFile(path, options);
  try {
    return await digestHandle(fh, algorithms, options.name !== undefined ? `artifact ${options.name}` : path);
  } finally {
    await fh.close();
  }
}

/** Run `fn` over items with at most `limit` in flight; results keep input order; first error wins. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (e) {
        failed ??= { error: e };
      }
    }
  };
  const n = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  if (failed) throw failed.error;
  return results;
}

/** Files hashed at once by default: enough to keep libuv's four I/O threads busy while hashing. */
export const DEFAULT_HASH_CONCURRENCY = 8;
