import { lstat, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { CotError } from '../errors.js';
import { isInside } from './fs-paths.js';

/**
 * Rules for the paths a command writes: no output is written over another output or over one of the command's own
 * inputs, a path given for a file is never a folder, and messages name the paths the user gave (never a temp file).
 */

/**
 * The path as the file system will resolve it: the real path of the longest part that exists, then the rest as
 * given. Two paths naming one file through symlinks or `..` compare equal.
 */
export async function canonicalPath(path: string): Promise<string> {
  const abs = resolve(path);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      const real = await realpath(head);
      return tail.length === 0 ? real : join(real, ...tail.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return abs;
      tail.push(basename(head));
      head = parent;
    }
  }
}

/** What identifies a file: its canonical path, and its device and inode when it exists. */
interface FileIdentity {
  canonical: string;
  inode?: string;
}

async function identityOf(path: string): Promise<FileIdentity> {
  const st = await stat(path).catch(() => undefined);
  return { canonical: await canonicalPath(path), ...(st ? { inode: `${st.dev}:${st.ino}` } : {}) };
}

function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.canonical === b.canonical || (a.inode !== undefined && a.inode === b.inode);
}

/**
 * A path a command reads or writes, and how the command calls it in messages ("the key", "the private key file
 * (`out`)"...). `option`: the library option it was given as, when `what` names it as `` `option` `` (optionRef):
 * the error then lists it in `details.options`, and the command line shows its flag there.
 */
export interface NamedPath {
  path: string;
  what: string;
  option?: string;
}

/** The options two named paths were given as (for `details.options`), when they say. */
function optionsOf(...paths: NamedPath[]): { options?: string[] } {
  const options = paths.flatMap((p) => (p.option === undefined ? [] : [p.option]));
  return options.length > 0 ? { options } : {};
}

/**
 * Refuse (OPTIONS_INVALID, before anything is written) two outputs that name one file, and an output that names one of the
 * inputs: `cot keys new --out X --pub-out X` would write the public key over the private one. Paths are compared
 * by canonical path (symlinks and `..` resolved) and, for existing files, by inode (hard links).
 */
export async function assertDistinctOutputs(
  outputs: readonly NamedPath[],
  inputs: readonly NamedPath[] = [],
): Promise<void> {
  const all = [...outputs, ...inputs];
  const ids = await Promise.all(all.map((p) => identityOf(p.path)));
  for (let i = 0; i < outputs.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      if (!sameIdentity(ids[i]!, ids[j]!)) continue;
      const o = all[i]!;
      const other = all[j]!;
      const isInput = j >= outputs.length;
      throw new CotError(
        'OPTIONS_INVALID',
        `${o.what} (${o.path}) and ${other.what} (${other.path}) are the same file: ${isInput ? `the output would be written over the ${other.what} it reads` : 'one output would be written over the other'}; nothing was written, give different paths`,
        { details: { path: o.path, conflictsWith: other.path, ...optionsOf(o, other) } },
      );
    }
  }
}

/**
 * Refuse, before any work, a path given for a FILE to write that is a folder (or ends with "/"): FILE_IS_DIRECTORY,
 * naming it as the user gave it, with an example of a file path, unless `fixedName` (the command names the file
 * itself, as the Sigstore bundle beside an envelope: no other path can be given). A missing file is fine (it will be
 * created); its folder must exist.
 */
export async function assertFileTarget(
  path: string,
  what: string,
  o: { fixedName?: boolean } = {},
): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (path.endsWith('/') || st?.isDirectory() || (await stat(path).catch(() => undefined))?.isDirectory()) {
    throw new CotError(
      'FILE_IS_DIRECTORY',
      o.fixedName
        ? `${what} ${path} is a folder: nothing was written`
        : `${what} ${path} is a folder: give the path of a file to write (for example ${join(path, defaultNameFor(what))})`,
      { details: { path } },
    );
  }
  const parent = dirname(resolve(path));
  const pst = await stat(parent).catch(() => undefined);
  if (pst === undefined) {
    throw new CotError('OUTPUT_FAILED', `${what} ${path}: its folder ${parent} does not exist`, {
      details: { path },
    });
  }
  if (!pst.isDirectory()) {
    throw new CotError('OUTPUT_FAILED', `${what} ${path}: ${parent} is not a folder`, { details: { path } });
  }
}

function defaultNameFor(what: string): string {
  if (/report/.test(what)) return 'report.html';
  if (/output/.test(what)) return 'verified.json';
  if (/^--attest$/.test(what)) return 'vsa.intoto.json';
  if (/pub/.test(what)) return 'worker.pub';
  if (/key|out/.test(what)) return 'worker.key';
  return 'file';
}

/**
 * Refuse (OPTIONS_INVALID) two folders of which one lies in the other or both are one: `cot fetch --queue DIR --out DIR`
 * would write the mirror into the store it reads.
 */
export async function assertSeparateFolders(a: NamedPath, b: NamedPath): Promise<void> {
  const [ca, cb] = await Promise.all([canonicalPath(a.path), canonicalPath(b.path)]);
  if (isInside(cb, ca) || isInside(ca, cb)) {
    throw new CotError(
      'OPTIONS_INVALID',
      `${a.what} (${a.path}) and ${b.what} (${b.path}) ${ca === cb ? 'are the same folder' : 'lie one inside the other'}: give separate folders`,
      { details: { path: a.path, conflictsWith: b.path, ...optionsOf(a, b) } },
    );
  }
}
