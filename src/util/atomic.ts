import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, lstat, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CotError, optionRef } from '../errors.js';
import { fsReason } from './fs-paths.js';

interface AtomicFile {
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
interface TargetFolder {
  at(name: string): string;
  display(name: string): string;
  sync(): Promise<void>;
}

/** One file to write atomically: `name` (a single path component) inside `folder`. */
interface AtomicEntry {
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
function pathFolder(dir: string): TargetFolder {
  return { at: (name) => join(dir, name), display: (name) => join(dir, name), sync: () => fsyncDir(dir) };
}

/** Longest part of the destination's name kept in its temp name (so a 255-byte name still has a legal temp name). */
const TEMP_NAME_KEEP = 100;

/**
 * The one temp-name scheme of every file cot writes in place: `.<name>.<pid>.<12 hex>.tmp` in the destination's own
 * folder (hidden; the same file system, so the rename is atomic; `<name>` cut to its first 100 characters). Listings
 * skip such names (isTempName); the generator sweeps those a killed run left (tempNamePattern).
 */
export function tempNameFor(name: string): string {
  return `.${name.slice(0, TEMP_NAME_KEEP)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/** True for a name of the temp-name scheme (a hidden `.tmp` file): a half-written file, never content. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}

/**
 * Matches the temp names (tempNameFor) of the given destination names, with or without the pid (cot 0.1's
 * certified-log copy had none), for sweeping what a killed writer left.
 */
export function tempNamePattern(names: readonly string[]): RegExp {
  const alternatives = names.map((n) => n.slice(0, TEMP_NAME_KEEP).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^\\.(${alternatives.join('|')})\\.([0-9]+\\.)?[0-9a-f]+\\.tmp$`);
}

/**
 * A file written under a temp name (tempNameFor) in its destination's folder and put in place only by `commit`: the
 * one staged write. The caller creates and fills `temp` (O_EXCL: never an existing file, never through a symlink),
 * e.g. with `pipeFrom` or as a copy made while hashing; readers of the destination never see a partial file.
 */
export interface StagedWrite {
  /** the temp file's path (through the folder's `at`: its descriptor, for an OpenDirectory) */
  readonly temp: string;
  /** the destination as messages name it (never the temp name) */
  readonly display: string;
  /**
   * Stream `source` through `through` (e.g. a digestTransform) into a new temp file (mode `mode`, default 0644);
   * resolves to the bytes written. On failure the temp file is removed and the error rethrown as is; `writeFailed`
   * then says whether the file side failed (else the source or a stage did).
   */
  pipeFrom(source: NodeJS.ReadableStream, through?: readonly Transform[], mode?: number): Promise<number>;
  readonly writeFailed: boolean;
  /**
   * fsync the temp file (unless `sync: false`) and rename it over the destination. On failure the temp file is
   * removed and the file-system error rethrown as is (callers word it: fsReason never names the temp file).
   */
  commit(o?: { sync?: boolean }): Promise<void>;
  /** Remove the temp file, best effort (never throws). */
  discard(): Promise<void>;
}

/** fsync a file by path (open, sync, close). */
async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A staged write of `name` inside `folder` (an OpenDirectory or pathFolder). */
export function stagedWrite(folder: TargetFolder, name: string): StagedWrite {
  const temp = folder.at(tempNameFor(name));
  const dest = folder.at(name);
  let writeFailed = false;
  const discard = () =>
    unlink(temp).then(
      () => undefined,
      () => undefined,
    );
  return {
    temp,
    display: folder.display(name),
    get writeFailed() {
      return writeFailed;
    },
    async pipeFrom(source, through = [], mode = 0o644) {
      let bytes = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _e, cb) {
          bytes += chunk.length;
          cb(null, chunk);
        },
      });
      const out = createWriteStream(temp, { flags: 'wx', mode });
      out.on('error', () => {
        writeFailed = true;
      });
      try {
        // pipeline, not pipe: an error of any stage (the source's above all) destroys every stage and rejects here
        await pipeline([source, ...through, counter, out]);
        return bytes;
      } catch (e) {
        await discard();
        throw e;
      }
    },
    async commit(o = {}) {
      try {
        if (o.sync !== false) await fsyncFile(temp);
        await rename(temp, dest);
      } catch (e) {
        await discard();
        throw e;
      }
    },
    discard,
  };
}

/** stagedWrite of the file at `dest`, its folder reached by path (pathFolder: a folder no task process can write). */
export function stagedWriteAt(dest: string): StagedWrite {
  return stagedWrite(pathFolder(dirname(dest)), basename(dest));
}

/** Write `f`'s data to a new staged temp file (created with its final mode, fsynced); not yet in place. */
async function writeTemp(f: AtomicEntry): Promise<StagedWrite> {
  const staged = stagedWrite(f.folder, f.name);
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(staged.temp, 'wx', f.mode ?? 0o644); // O_EXCL: never an existing file, never a symlink
    await fh.writeFile(f.data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    return staged;
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await staged.discard();
    throw writeError(e, staged.display);
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
        `${display} already exists and was not replaced (${optionRef('force')} replaces it)`,
        {
          details: { path: display, options: ['force'] },
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
        `${display} already exists and was not replaced (${optionRef('force')} replaces it)`,
        {
          details: { path: display, options: ['force'] },
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
  const temps: (StagedWrite | undefined)[] = [];
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
      const staged = temps[i]!;
      if (f.noReplace) await placeNew(staged.temp, f.folder.at(f.name), current);
      else await staged.commit({ sync: false }); // fsynced when written
      temps[i] = undefined;
    }
    current = files.map((f) => f.folder.display(f.name)).join(', ');
    for (const folder of new Set(files.map((f) => f.folder))) await folder.sync();
  } catch (e) {
    await Promise.all(temps.map((t) => t?.discard()));
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
