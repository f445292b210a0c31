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

/** fsync a folder, so that renames and links in it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeTemp(f: AtomicFile): Promise<string> {
  const tmp = join(
    dirname(f.path),
    `.${basename(f.path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(tmp, 'wx', f.mode ?? 0o644);
    await fh.writeFile(f.data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    return tmp;
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw toCotError(e, 'OUTPUT_FAILED', `cannot write ${f.path}`);
  }
}

/**
 * Write several files so that each destination is either its old content or its complete new content:
 * every temp file (same folder, created with the final mode, fsynced) is written before any is renamed
 * into place, then the folders are fsynced. On failure no temp file is left behind.
 */
export async function writeFilesAtomic(
  files: readonly AtomicFile[],
  o: { removeFirst?: readonly string[] } = {},
): Promise<void> {
  const temps: string[] = [];
  try {
    for (const f of files) temps.push(await writeTemp(f));
    // files that must never be seen paired with the new ones (old signatures): gone before any rename
    for (const p of o.removeFirst ?? [])
      await unlink(p).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    for (let i = 0; i < files.length; i++) {
      await rename(temps[i]!, files[i]!.path);
      temps[i] = '';
    }
    for (const dir of new Set(files.map((f) => dirname(f.path)))) await fsyncDir(dir);
  } catch (e) {
    await Promise.all(temps.filter(Boolean).map((t) => unlink(t).catch(() => undefined)));
    if (e instanceof CotError) throw e;
    throw toCotError(e, 'OUTPUT_FAILED', `cannot write ${files.map((f) => f.path).join(', ')}`);
  }
}

export async function writeFileAtomic(path: string, data: Uint8Array | string, mode?: number): Promise<void> {
  await writeFilesAtomic([{ path, data, ...(mode === undefined ? {} : { mode }) }]);
}
