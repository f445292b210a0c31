import { createHash } from 'node:crypto';
import { constants, type FileHandle, open, readlink, realpath, stat, unlink } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { HASH_ALGORITHMS, type HashAlgorithm } from '../document/schema.js';
import { CotError, fsError, toCotError } from '../errors.js';
import { fsReason } from '../util/output-paths.js';

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
  /** Refuse to follow a symlink at the final path component (O_NOFOLLOW). */
  noFollow?: boolean;
  /** Name of the artifact, for messages. */
  name?: string;
  /** How the file is named in messages (default: `artifact NAME (PATH)` with `name`, else PATH). */
  label?: string;
  /**
   * Real path (realpath) of a folder the file must lie in, or several (it must lie in one of them), checked on the
   * open descriptor (see descriptorPath): this covers every component of the path as the kernel resolved it when
   * opening, not only the last one. An empty list admits nothing.
   */
  within?: string | readonly string[];
}

/** True when `p` is `root` or lies below it (both absolute, normalised). */
export function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The real path of an open file, read from its descriptor. On Linux: readlink of /proc/self/fd/N, the kernel's own
 * name for the file the descriptor refers to, whatever the path looked like when it was opened (a file unlinked
 * since keeps its last name, followed by " (deleted)"). Elsewhere, or without /proc mounted: realpath of `path`,
 * accepted only if it names the very file open (same device and inode), else ARTIFACT_UNSAFE_FILE; that check
 * is made after the open, so a process racing it can still mislead it: run workers on Linux.
 */
export async function descriptorPath(fh: FileHandle, path: string, label = path): Promise<string> {
  return (await descriptorRealPath(fh, path, label)).real;
}

/**
 * descriptorPath, also saying where the answer came from: `viaProc` is true when it is the kernel's own name
 * (/proc/self/fd/N), so that paths `/proc/self/fd/N/<name>` reach inside this very descriptor's folder. `code` is
 * the error code of the fallback's mismatch (default ARTIFACT_UNSAFE_FILE).
 */
export async function descriptorRealPath(
  fh: FileHandle,
  path: string,
  label = path,
  code: 'ARTIFACT_UNSAFE_FILE' | 'OUTPUT_UNSAFE_FOLDER' = 'ARTIFACT_UNSAFE_FILE',
): Promise<{ real: string; viaProc: boolean }> {
  if (process.platform === 'linux') {
    try {
      return { real: await readlink(`/proc/self/fd/${fh.fd}`), viaProc: true };
    } catch {
      // no procfs: fall back to the path, checked against the descriptor below
    }
  }
  let real: string;
  try {
    real = await realpath(path);
    const [byPath, byFd] = await Promise.all([stat(real), fh.stat()]);
    if (byPath.dev === byFd.dev && byPath.ino === byFd.ino) return { real, viaProc: false };
  } catch (e) {
    throw new CotError(code, `${label}: changed while it was being opened`, { cause: e });
  }
  throw new CotError(code, `${label}: changed while it was being opened`);
}

/** True when `p` lies inside `within` (one folder) or inside one of them (a list; an empty list: false). */
export function isInsideAny(within: string | readonly string[], p: string): boolean {
  return (typeof within === 'string' ? [within] : within).some((w) => isInside(w, p));
}

/**
 * Open a file for reading ONCE and prove, on the open descriptor, that it is a regular file and (with `within`)
 * that it lies inside that folder (or one of those folders). O_NONBLOCK keeps a FIFO or device swapped in from
 * blocking the open; O_NOFOLLOW (optional) refuses a symlink at the last component. Throws ARTIFACT_UNSAFE_FILE (symlink, special
 * file, outside `within`), FILE_NOT_FOUND, FILE_UNREADABLE.
 */
export async function openRegularFile(path: string, options: OpenRegularOptions = {}): Promise<FileHandle> {
  const label = options.label ?? (options.name !== undefined ? `artifact ${options.name} (${path})` : path);
  let flags = constants.O_RDONLY | constants.O_NONBLOCK;
  if (options.noFollow) flags |= constants.O_NOFOLLOW;
  let fh: FileHandle;
  try {
    fh = await open(path, flags);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new CotError('ARTIFACT_UNSAFE_FILE', `${label}: is a symlink (or a symlink loop), not followed`, {
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
    if (options.within !== undefined) {
      const real = await descriptorPath(fh, path, label);
      if (!isInsideAny(options.within, real)) {
        const folders = typeof options.within === 'string' ? [options.within] : options.within;
        throw new CotError(
          'ARTIFACT_UNSAFE_FILE',
          `${label}: the file opened is ${real}, outside ${folders.length === 0 ? 'every allowed folder (none exists)' : folders.join(' and ')} (a symlink on its path, or a folder swapped for one?)`,
          { details: { path, opened: real, within: options.within } },
        );
      }
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
export async function digestHandle(
  fh: FileHandle,
  algorithms: readonly HashAlgorithm[],
  label: string,
  sinks: readonly FileHandle[] = [],
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
      for (const h of hashes) h.update(chunk);
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
  const digests: Partial<Record<HashAlgorithm, string>> = {};
  algorithms.forEach((a, i) => {
    digests[a] = hashes[i]!.digest('hex');
  });
  return { digests, size };
}

/** A copy written while a file is hashed: created anew (O_EXCL, never through a symlink), default mode 0600. */
export interface DigestCopy {
  path: string;
  mode?: number;
  /** the copy's name in messages (default `path`; e.g. when `path` goes through /proc/self/fd/N) */
  label?: string;
}

export interface DigestFileOptions extends OpenRegularOptions {
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
