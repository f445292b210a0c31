import { randomBytes } from 'node:crypto';
import { link, lstat, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CotError } from '../errors.js';
import { fsReason } from './fs-paths.js';

export interface AtomicFile {
  path: string;
  data: Uint8Array | string;
  /** file mode for the new file (default 0o644) */
  mode?: number;
  /** never replace an existing file: it is put in place with link(2), which fails if the name exists (FILE_EXISTS) */
  noReplace?: boolean;
}

/**
 * A folder files are written in: how a name in it is reached, how it is shown, and how the folder is fsynced.
 * An OpenDirectory (src/util/dirfd.ts) is one: its names go through its open descriptor.
 */
export interface TargetFolder {
  at(name: string): string;
  display(name: string): string;
  sync(): Promise<void>;
}

/** One file to write atomically: `name` (a single path component) inside `folder`. */
export interface AtomicEntry {
  folder: TargetFolder;
  name: string;
  data: Uint8Array | string;
  /** file mode for the new file (default 0o644) */
  mode?: number;
  /** never replace an existing file: it is put in place with link(2), which fails if the name exists (FILE_EXISTS) */
  noReplace?: boolean;
}

/** fsync a folder, so that renames and links in it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A folder reached by its path every time (for folders no other user can change). */
export function pathFolder(dir: string): TargetFolder {
  return { at: (name) => join(dir, name), display: (name) => join(dir, name), sync: () => fsyncDir(dir) };
}

async function writeTemp(f: AtomicEntry): Promise<string> {
  const tmp = `.${f.name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(f.folder.at(tmp), 'wx', f.mode ?? 0o644); // O_EXCL: never an existing file, never a symlink
    await fh.writeFile(f.data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    return tmp;
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await unlink(f.folder.at(tmp)).catch(() => undefined);
    throw writeError(e, f.folder.display(f.name));
  }
}

/**
 * Put the complete temp file at `dest` only if nothing is there: link(2) never replaces (EEXIST: FILE_EXISTS), then
 * the temp name is removed. A file system without hard links gets a rename after a last look (a file created in
 * between could then be replaced).
 */
async function placeNew(tmp: string, dest: string, display: string): Promise<void> {
  try {
    await link(tmp, dest);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new CotError(
        'FILE_EXISTS',
        `${display} already exists and was not replaced (--force replaces it)`,
        {
          details: { path: display },
        },
      );
    }
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw e;
    if (
      await lstat(dest).then(
        () => true,
        () => false,
      )
    ) {
      throw new CotError(
        'FILE_EXISTS',
        `${display} already exists and was not replaced (--force replaces it)`,
        {
          details: { path: display },
        },
      );
    }
    await rename(tmp, dest);
    return;
  }
  await unlink(tmp);
}

/** OUTPUT_FAILED naming the file the caller asked for and the reason, never the temp file (fsReason). */
function writeError(e: unknown, display: string): CotError {
  if (e instanceof CotError) return e;
  return new CotError('OUTPUT_FAILED', `cannot write ${display}: ${fsReason(e)}`, { cause: e });
}

/**
 * Write several files so that each destination is either its old content or its complete new content: every temp
 * file (same folder, created anew with the final mode, fsynced) is written before any is renamed into place, the
 * `removeFirst` files (old signatures that must never be seen beside the new document) are unlinked before the
 * first rename, then the folders are fsynced. Every open, rename and unlink goes through `folder.at`, so with
 * OpenDirectory folders nothing is reached through a path a task process could swap. On failure no temp file is
 * left behind. Throws OUTPUT_FAILED (naming the file and the reason, never a temp file), FILE_EXISTS (a
 * `noReplace` file exists).
 */
export async function writeFilesAtomicIn(
  files: readonly AtomicEntry[],
  o: { removeFirst?: readonly { folder: TargetFolder; name: string }[] } = {},
): Promise<void> {
  const temps: string[] = [];
  // the file being worked on, for the message: the caller's names only, never a temp file's
  let current = files.map((f) => f.folder.display(f.name)).join(', ');
  try {
    for (const f of files) {
      current = f.folder.display(f.name);
      temps.push(await writeTemp(f));
    }
    for (const r of o.removeFirst ?? []) {
      current = r.folder.display(r.name);
      await unlink(r.folder.at(r.name)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      current = f.folder.display(f.name);
      if (f.noReplace) await placeNew(f.folder.at(temps[i]!), f.folder.at(f.name), current);
      else await rename(f.folder.at(temps[i]!), f.folder.at(f.name));
      temps[i] = '';
    }
    current = files.map((f) => f.folder.display(f.name)).join(', ');
    for (const folder of new Set(files.map((f) => f.folder))) await folder.sync();
  } catch (e) {
    await Promise.all(
      temps.map((t, i) => (t ? unlink(files[i]!.folder.at(t)).catch(() => undefined) : undefined)),
    );
    throw writeError(e, current);
  }
}

/**
 * writeFilesAtomicIn for files named by path (FILE_IS_DIRECTORY, before anything is made, for a path that is a
 * folder or ends with "/"): each folder is reached by its path (pathFolder), for folders no task
 * process can write (the generator's output goes through an opened folder instead: src/cot/generate.ts).
 */
export async function writeFilesAtomic(
  files: readonly AtomicFile[],
  o: { removeFirst?: readonly string[] } = {},
): Promise<void> {
  // a folder given as a file: its basename would be taken as the file's name in the folder above (a temp file at
  // "/" for "/tmp/"); refused as given, before anything is made
  for (const f of files) {
    if (f.path.endsWith('/') || (await stat(f.path).catch(() => undefined))?.isDirectory()) {
      throw new CotError('FILE_IS_DIRECTORY', `cannot write ${f.path}: it is a folder, not a file`, {
        details: { path: f.path },
      });
    }
  }
  const folders = new Map<string, TargetFolder>();
  const folder = (p: string): TargetFolder => {
    const dir = dirname(p);
    const known = folders.get(dir);
    if (known !== undefined) return known;
    const f = pathFolder(dir);
    folders.set(dir, f);
    return f;
  };
  await writeFilesAtomicIn(
    files.map((f) => ({
      folder: folder(f.path),
      name: basename(f.path),
      data: f.data,
      ...(f.mode === undefined ? {} : { mode: f.mode }),
      ...(f.noReplace ? { noReplace: true } : {}),
    })),
    { removeFirst: (o.removeFirst ?? []).map((p) => ({ folder: folder(p), name: basename(p) })) },
  );
}

export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  mode?: number,
  o: { noReplace?: boolean } = {},
): Promise<void> {
  await writeFilesAtomic([
    { path, data, ...(mode === undefined ? {} : { mode }), ...(o.noReplace ? { noReplace: true } : {}) },
  ]);
}
