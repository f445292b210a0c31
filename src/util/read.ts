import { constants, type FileHandle, open } from 'node:fs/promises';
import { CotError, fsError } from '../errors.js';
import { describeStat, descriptorPath, isInsideAny } from './fs-paths.js';

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

/** Read size of readBounded. */
const READ_CHUNK = 256 * 1024;

/**
 * The one bounded read: the whole content of an open file, at most `maxBytes` bytes. The size is judged first on
 * the descriptor (fstat) and then on what is actually read (a file growing meanwhile cannot slip past; at most
 * maxBytes + 1 bytes are ever held). Over the limit, throws `tooLarge(size)` (the size seen: fstat's, or the bytes
 * read so far); read errors are thrown as Node raised them (callers word them with fsError).
 */
export async function readBounded(
  fh: FileHandle,
  maxBytes: number,
  tooLarge: (size: number) => Error,
): Promise<Buffer> {
  const { size } = await fh.stat();
  if (size > maxBytes) throw tooLarge(size);
  const chunks: Buffer[] = [];
  let n = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, maxBytes + 1 - n));
    const { bytesRead } = await fh.read(chunk, 0, chunk.length, n);
    if (bytesRead === 0) break;
    chunks.push(chunk.subarray(0, bytesRead));
    n += bytesRead;
    if (n > maxBytes) throw tooLarge(n);
  }
  return Buffer.concat(chunks, n);
}

/** readBounded of the file at `path`, opened for reading (following symlinks, as given) and closed again. */
/**
 * Read a small input file whole (a policy, a key file, a trust file, a document), at most `maxBytes`: a larger file
 * is FILE_UNREADABLE naming `what` and the limit, a file that grows while it is read is read to the limit only.
 */
export async function readSmallFile(path: string, what: string, maxBytes: number): Promise<Buffer> {
  return readFileBounded(
    path,
    maxBytes,
    (size) =>
      new CotError('FILE_UNREADABLE', `${what} ${path} is ${size} bytes, over the ${maxBytes}-byte limit`),
  );
}

export async function readFileBounded(
  path: string,
  maxBytes: number,
  tooLarge: (size: number) => Error,
): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    return await readBounded(fh, maxBytes, tooLarge);
  } finally {
    await fh.close();
  }
}
