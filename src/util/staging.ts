import { constants, lstat, mkdtemp, open, readdir, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CotError, toCotError } from '../errors.js';
import { isInside } from './fs-paths.js';

/** A worker-private folder for the copies an upload reads, and how to remove it. */
interface StagingDir {
  dir: string;
  remove(): Promise<void>;
}

const PREFIX = 'cot-stage-';
const STAGE_NAME = /^cot-stage-([0-9]+)-/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, someone else's
  }
}

/** Remove staging folders of this user left by a generator that was killed (its process is gone). */
async function removeStale(parent: string): Promise<void> {
  const names = await readdir(parent).catch(() => [] as string[]);
  const uid = process.getuid?.();
  await Promise.all(
    names.map(async (n) => {
      const m = STAGE_NAME.exec(n);
      if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) return;
      const st = await lstat(join(parent, n)).catch(() => undefined);
      if (!st?.isDirectory() || (uid !== undefined && st.uid !== uid)) return;
      await rm(join(parent, n), { recursive: true, force: true }).catch(() => undefined);
    }),
  );
}

/**
 * Create a fresh staging folder, `<parent>/cot-stage-<pid>-XXXXXX`, with mkdtemp (a new folder, mode 0700, owned
 * by the running user): the task user can neither read nor change what is copied into it. `parent` defaults to
 * os.tmpdir() and must not lie inside any of `forbidden` (the artifact, output and task folders, which the task can
 * write), nor be writable by group or others without the sticky bit (another user could rename the staging folder
 * away and put a symlink at its name, and the copies are written by path): OPTIONS_INVALID otherwise. Staging folders left by
 * killed generators (dead pid, same user) are removed first. The new folder is checked on an open descriptor
 * (O_DIRECTORY | O_NOFOLLOW: a folder, mode 0700, owned by the running user). Throws OUTPUT_FAILED if the folder
 * cannot be made or is not private.
 */
export async function createStagingDir(
  parent: string = tmpdir(),
  forbidden: readonly (string | undefined)[] = [],
): Promise<StagingDir> {
  let realParent: string;
  try {
    realParent = await realpath(parent);
  } catch (e) {
    throw toCotError(e, 'OUTPUT_FAILED', `staging folder parent ${parent}`);
  }
  for (const f of forbidden) {
    if (f === undefined) continue;
    const realF = await realpath(f).catch(() => resolve(f));
    if (isInside(realF, realParent)) {
      throw new CotError(
        'OPTIONS_INVALID',
        `the staging folder (in ${parent}) must not be inside ${f}, which the task can write`,
      );
    }
  }
  const parentStat = await stat(realParent).catch((e: unknown) => {
    throw toCotError(e, 'OUTPUT_FAILED', `staging folder parent ${parent}`);
  });
  if (process.platform !== 'win32' && (parentStat.mode & 0o022) !== 0 && (parentStat.mode & 0o1000) === 0) {
    throw new CotError(
      'OPTIONS_INVALID',
      `the staging folder's parent ${parent} is writable by group or others without the sticky bit: another user could swap the staging folder`,
    );
  }
  await removeStale(realParent);
  let dir: string;
  try {
    dir = await mkdtemp(join(realParent, `${PREFIX}${process.pid}-`));
  } catch (e) {
    throw toCotError(e, 'OUTPUT_FAILED', `cannot create a staging folder in ${parent}`);
  }
  const remove = () => rm(dir, { recursive: true, force: true });
  const uid = process.getuid?.();
  const posix = process.platform !== 'win32';
  // checked on a descriptor of the folder itself, never through a symlink at its name
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch(
    () => undefined,
  );
  const st = await fh?.stat().catch(() => undefined);
  await fh?.close();
  if (
    st === undefined ||
    !st.isDirectory() ||
    (posix && (st.mode & 0o077) !== 0) ||
    (uid !== undefined && st.uid !== uid)
  ) {
    await remove();
    throw new CotError('OUTPUT_FAILED', `staging folder ${dir} is not private to this user (mode 0700)`);
  }
  return { dir, remove };
}
