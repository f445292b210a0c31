import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CotError, toCotError } from '../errors.js';

export interface AtomicFile {
  path: string;
  data: Uint8Array | string;
  /** file mode for the new file (default 0o644) */
  mode?: number;
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
    throw toCotError(e, 'OUTPUT_FAILED', `cannot write ${f.folder.display(f.name)}`);
  }
}

/**
 * Write several files so that each destination is either its old content or its complete new content: every temp
 * file (same folder, created anew with the final mode, fsynced) is written before any is renamed into place, the
 * `removeFirst` files (old signatures that must never be seen beside the new document) are unlinked before the
 * first rename, then the folders are fsynced. Every open, rename and unlink goes through `folder.at`, so with
 * OpenDirectory folders nothing is reached through a path a task process could swap. On failure no temp file is
 * left behind. Throws OUTPUT_FAILED.
 */
export async function writeFilesAtomicIn(
  files: readonly AtomicEntry[],
  o: { removeFirst?: readonly { folder: TargetFolder; name: string }[] } = {},
): Promise<void> {
  const temps: string[] = [];
  try {
    for (const f of files) temps.push(await writeTemp(f));
    for (const r of o.removeFirst ?? [])
      await unlink(r.folder.at(r.name)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      await rename(f.folder.at(temps[i]!), f.folder.at(f.name));
      temps[i] = '';
    }
    for (const folder of new Set(files.map((f) => f.folder))) await folder.sync();
  } catch (e) {
    await Promise.all(
      temps.map((t, i) => (t ? unlink(files[i]!.folder.at(t)).catch(() => undefined) : undefined)),
    );
    if (e instanceof CotError) throw e;
    throw toCotError(
      e,
      'OUTPUT_FAILED',
      `cannot write ${files.map((f) => f.folder.display(f.name)).join(', ')}`,
    );
  }
}

/**
 * writeFilesAtomicIn for files named by path: each folder is reached by its path (pathFolder), for folders no task
 * process can write (the generator's output goes through an opened folder instead: src/cot/generate.ts).
 */
export async function writeFilesAtomic(
  files: readonly AtomicFile[],
  o: { removeFirst?: readonly string[] } = {},
): Promise<void> {
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
    })),
    { removeFirst: (o.removeFirst ?? []).map((p) => ({ folder: folder(p), name: basename(p) })) },
  );
}

export async function writeFileAtomic(path: string, data: Uint8Array | string, mode?: number): Promise<void> {
  await writeFilesAtomic([{ path, data, ...(mode === undefined ? {} : { mode }) }]);
}
