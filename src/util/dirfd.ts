import { constants, type FileHandle, lstat, mkdir, open, readlink, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { CotError, toCotError } from '../errors.js';
import { describeStat, descriptorRealPath, isInside } from './fs-paths.js';

/**
 * Folders opened ONCE and then used only through their descriptor, so that a process of the task user still running
 * (which may write the artifact and task folders) cannot redirect the worker's writes by swapping a folder on the
 * path for a symlink after it was checked.
 *
 * Node has no openat/renameat/unlinkat. On Linux, /proc/self/fd/N is the kernel's "magic link" to the very file
 * descriptor N refers to: a path `/proc/self/fd/N/<name>` is resolved from the folder open as N, whatever its
 * original path names now, so open/rename/unlink/mkdir/readdir with such paths act inside the checked folder (the
 * same mount, so renames between two such names work). Without /proc (macOS, BSD), `at()` names the folder's real
 * path as checked when it was opened: a process racing the worker could still swap a folder on that path.
 */
export interface OpenDirectory {
  /** the folder's path as the caller named it (messages, results) */
  readonly path: string;
  /** its real path when it was opened, read from the descriptor (/proc/self/fd/N), checked by the opener */
  readonly real: string;
  /** true when at() and here go through the descriptor (Linux /proc); false: through `real` */
  readonly pinned: boolean;
  /** a path naming the folder itself (for readdir): /proc/self/fd/N, or `real` */
  readonly here: string;
  /** a path naming `name` (a single component: no "/", not "." or "..") inside this very folder */
  at(name: string): string;
  /** `name` under `path`, for messages */
  display(name: string): string;
  /** fsync the folder, so that renames and unlinks in it are durable */
  sync(): Promise<void>;
  /** close the descriptor; at() and here must not be used afterwards (INTERNAL if they are) */
  close(): Promise<void>;
}

/** A folder `path` may have to lie in: the path as given and its real path, resolved once. */
export interface FolderRoot {
  given: string;
  real: string;
}

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NONBLOCK;

function assertComponent(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\u0000')) {
    throw new CotError('INTERNAL', `${JSON.stringify(name)} is not a single path component`);
  }
}

/** Wrap an open folder descriptor: its real path is read from the descriptor itself (descriptorRealPath). */
async function wrap(fh: FileHandle, openedBy: string, path: string): Promise<OpenDirectory> {
  const { real, viaProc } = await descriptorRealPath(fh, openedBy, path, 'OUTPUT_UNSAFE_FOLDER');
  const base = `/proc/self/fd/${fh.fd}`;
  let closed = false;
  const live = (): void => {
    // a closed descriptor's number may be reused by another file: never name a path through it
    if (closed) throw new CotError('INTERNAL', `folder ${path} was used after it was closed`);
  };
  return {
    path,
    real,
    pinned: viaProc,
    get here() {
      live();
      return viaProc ? base : real;
    },
    at(name: string) {
      live();
      assertComponent(name);
      return viaProc ? `${base}/${name}` : join(real, name);
    },
    display: (name: string) => join(path, name),
    sync: () => fh.sync(),
    async close() {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}

/** The coded error for a failed open of a folder at `p` (described with lstat, which never follows `p`). */
async function openError(e: unknown, p: string, label: string): Promise<CotError> {
  const errno = (e as NodeJS.ErrnoException).code;
  if (errno === 'ENOENT')
    return new CotError('FILE_NOT_FOUND', `${label}: no such folder`, { cause: e, details: { path: label } });
  if (errno === 'ENOTDIR' || errno === 'ELOOP') {
    const st = await lstat(p).catch(() => undefined);
    const what = st?.isSymbolicLink()
      ? 'a symlink, which cot does not follow here (a task process may have put it there)'
      : st === undefined
        ? 'not a folder (or a folder above it is not)'
        : `a ${st.isFile() ? 'file' : describeStat(st)}, not a folder`;
    return new CotError('OUTPUT_UNSAFE_FOLDER', `${label}: is ${what}; nothing was written there`, {
      cause: e,
      details: { path: label },
    });
  }
  return toCotError(e, 'OUTPUT_FAILED', `cannot open the folder ${label}`);
}

/**
 * Open the folder at `path` by its path (following symlinks on the way, as given; O_NOFOLLOW at the last component
 * with `noFollow`), creating it and its parents first with `create`. For folders no task process can write on the
 * way (the worker's own): a folder a task may write is opened with openFolderInside. Throws FILE_NOT_FOUND (absent,
 * without `create`), OUTPUT_UNSAFE_FOLDER (a symlink with `noFollow`, or not a folder), OUTPUT_FAILED.
 */
export async function openDirectory(
  path: string,
  o: { create?: boolean; noFollow?: boolean } = {},
): Promise<OpenDirectory> {
  if (o.create) {
    await mkdir(path, { recursive: true }).catch((e: unknown) => {
      throw toCotError(e, 'OUTPUT_FAILED', `cannot create the folder ${path}`);
    });
  }
  let fh: FileHandle;
  try {
    fh = await open(path, DIR_FLAGS | (o.noFollow ? constants.O_NOFOLLOW : 0));
  } catch (e) {
    throw await openError(e, path, path);
  }
  try {
    return await wrap(fh, path, path);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/**
 * Open (with `create`: make first, mode 0777 less the umask) the folder `name` inside the open folder `parent`,
 * through the parent's descriptor and never through a symlink (O_NOFOLLOW | O_DIRECTORY): a symlink, file or
 * special file there is OUTPUT_UNSAFE_FOLDER, an absent folder FILE_NOT_FOUND (without `create`).
 */
export async function openSubdirectory(
  parent: OpenDirectory,
  name: string,
  o: { create?: boolean } = {},
): Promise<OpenDirectory> {
  const p = parent.at(name);
  const label = parent.display(name);
  if (o.create) {
    await mkdir(p).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw toCotError(e, 'OUTPUT_FAILED', `cannot create the folder ${label}`);
    });
  }
  let fh: FileHandle;
  try {
    fh = await open(p, DIR_FLAGS | constants.O_NOFOLLOW);
  } catch (e) {
    throw await openError(e, p, label);
  }
  try {
    return await wrap(fh, p, label);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** Real paths of the given folders, resolved once; folders that do not exist are left out. */
export async function resolveRoots(paths: readonly string[]): Promise<FolderRoot[]> {
  const out: FolderRoot[] = [];
  for (const given of paths) {
    const real = await realpath(given).catch(() => undefined);
    if (real !== undefined) out.push({ given, real });
  }
  return out;
}

const components = (p: string): string[] => p.split('/').filter((c) => c !== '');

/** The innermost root whose real path (or resolved given path, with `given`) contains `p`. */
function innermost(roots: readonly FolderRoot[], p: string, given: boolean) {
  let best: { root: FolderRoot; base: string } | undefined;
  for (const root of roots) {
    for (const base of given ? [root.real, resolve(root.given)] : [root.real]) {
      if (isInside(base, p) && (best === undefined || base.length > best.base.length)) best = { root, base };
    }
  }
  return best;
}

/**
 * Where `path` lies among `roots` (folders a task process may write): the innermost root it is in and the folder
 * names from that root's real path down to it, or undefined when it lies in none. A path spelled inside a root (as
 * given, or by its real path) is placed lexically; otherwise its components are resolved one at a time as the
 * kernel would (following symlinks, which lie outside every root so far) and it is placed at the first prefix that
 * enters a root: no symlink inside a root is ever followed here (openFolderInside refuses them). A path that enters
 * a root and goes back up with ".." from there is OUTPUT_UNSAFE_FOLDER.
 */
export async function locateInRoots(
  path: string,
  roots: readonly FolderRoot[],
): Promise<{ root: FolderRoot; rel: string[] } | undefined> {
  const abs = resolve(path);
  const spelled = innermost(roots, abs, true);
  if (spelled) return { root: spelled.root, rel: components(relative(spelled.base, abs)) };
  const enter = (prefix: string, rest: readonly string[]) => {
    const hit = innermost(roots, prefix, false);
    if (hit === undefined) return undefined;
    if (rest.includes('..')) {
      throw new CotError(
        'OUTPUT_UNSAFE_FOLDER',
        `${path}: goes back up ("..") from inside ${hit.root.given}, which a task process may change`,
      );
    }
    return {
      root: hit.root,
      rel: [...components(relative(hit.base, prefix)), ...rest.filter((c) => c !== '.')],
    };
  };
  let prefix = '/';
  let rest = components(abs);
  for (let links = 0; rest.length > 0; ) {
    const found = enter(prefix, rest);
    if (found) return found;
    const c = rest.shift()!;
    if (c === '.') continue;
    if (c === '..') {
      prefix = dirname(prefix);
      continue;
    }
    const next = join(prefix, c);
    const st = await lstat(next).catch(() => undefined);
    if (st === undefined) {
      // nothing exists from here on: the rest is only names
      return enter(resolve(next, ...rest), []);
    }
    if (st.isSymbolicLink()) {
      if (++links > 40) return undefined; // a loop: opening it fails anyway
      const target = await readlink(next).catch(() => undefined);
      if (target === undefined) return undefined;
      if (isAbsolute(target)) prefix = '/';
      rest = [...components(target), ...rest];
      continue;
    }
    prefix = next;
  }
  return enter(prefix, []);
}

/**
 * Open the folder `rel` (folder names) below a root (a folder a task process may write) without following any
 * symlink: the root is opened by its real path, then each folder through its parent's descriptor with O_NOFOLLOW
 * (openSubdirectory), made first with `create`; the descriptor's real path must then lie inside the root's real
 * path. Returns undefined when a folder is absent (without `create`). `path` names it in messages. Throws
 * OUTPUT_UNSAFE_FOLDER (a symlink or a non-folder on the way, or a folder moved out of the root meanwhile),
 * OUTPUT_FAILED.
 */
export async function openFolderInside(
  root: FolderRoot,
  rel: readonly string[],
  path: string,
  o: { create?: boolean } = {},
): Promise<OpenDirectory | undefined> {
  let cur = await openDirectory(root.real, { noFollow: true });
  try {
    for (const c of rel) {
      let next: OpenDirectory;
      try {
        next = await openSubdirectory(cur, c, o);
      } catch (e) {
        if (!o.create && e instanceof CotError && e.code === 'FILE_NOT_FOUND') {
          await cur.close();
          return undefined;
        }
        throw e;
      }
      await cur.close();
      cur = next;
    }
    if (!isInside(root.real, cur.real)) {
      throw new CotError(
        'OUTPUT_UNSAFE_FOLDER',
        `${path}: the folder opened is ${cur.real}, outside ${root.real} (moved or swapped while it was opened?)`,
        { details: { path, opened: cur.real, within: root.real } },
      );
    }
    const opened = cur;
    return {
      path,
      real: opened.real,
      pinned: opened.pinned,
      get here() {
        return opened.here;
      },
      at: (name: string) => opened.at(name),
      display: (name: string) => join(path, name),
      sync: () => opened.sync(),
      close: () => opened.close(),
    };
  } catch (e) {
    await cur.close();
    throw e;
  }
}

/**
 * Open the output folder `path` ONCE (with `create`: making it and the folders above it as needed), as a folder and
 * never through a symlink at its last component. Inside one of `roots` (folders a task process may write; see
 * locateInRoots) it is reached from the root without following any symlink (openFolderInside) and its descriptor's
 * real path must lie inside that root's; elsewhere (a worker folder) it is opened by its path (openDirectory,
 * noFollow), and its real path must then lie inside no root. Everything written there afterwards goes through the
 * returned descriptor (OpenDirectory.at). Returns undefined when it does not exist (without `create`). Throws
 * OUTPUT_UNSAFE_FOLDER, OUTPUT_FAILED.
 */
export async function openOutputFolder(
  path: string,
  roots: readonly FolderRoot[],
  o: { create?: boolean } = {},
): Promise<OpenDirectory | undefined> {
  const place = await locateInRoots(path, roots);
  if (place) return openFolderInside(place.root, place.rel, path, o);
  let dir: OpenDirectory;
  try {
    dir = await openDirectory(path, { noFollow: true, ...o });
  } catch (e) {
    if (!o.create && e instanceof CotError && e.code === 'FILE_NOT_FOUND') return undefined;
    throw e;
  }
  const inRoot = innermost(roots, dir.real, false);
  if (inRoot) {
    await dir.close();
    throw new CotError(
      'OUTPUT_UNSAFE_FOLDER',
      `${path}: the folder opened is ${dir.real}, inside ${inRoot.root.given}, which it was not on the way to (swapped while it was opened?)`,
      { details: { path, opened: dir.real, within: inRoot.root.real } },
    );
  }
  return dir;
}
