import { type FileHandle, readlink, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { CotError } from '../errors.js';

/**
 * Path and file-system helpers every layer that touches files shares (util, hashing, transport, generation): where a
 * path lies, what an open descriptor really is, and how a failed call is described without the paths Node puts in
 * its messages.
 */

/** True when `p` is `root` or lies below it (both absolute, normalised). */
export function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** True when `p` lies inside `within` (one folder) or inside one of them (a list; an empty list: false). */
export function isInsideAny(within: string | readonly string[], p: string): boolean {
  return (typeof within === 'string' ? [within] : within).some((w) => isInside(w, p));
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

const ERRNO_TEXT: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a component of the path is not a folder',
  EISDIR: 'is a folder',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EXDEV: 'on another file system',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many symlinks (or a symlink where none is followed)',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EIO: 'input/output error',
  EBUSY: 'busy',
  ETXTBSY: 'busy',
  ENOTEMPTY: 'folder not empty',
};

/**
 * Why a file-system call failed, WITHOUT the paths Node puts in its messages (they may name a hidden temp file):
 * `permission denied (EACCES)`. For a non-errno error, its message.
 */
export function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) {
    return ERRNO_TEXT[code] ? `${ERRNO_TEXT[code]} (${code})` : code;
  }
  return e instanceof Error ? e.message : String(e);
}
