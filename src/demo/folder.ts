import { lstat, mkdir, readdir, readFile, realpath, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { CotError, optionRef } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { fsReason } from '../util/fs-paths.js';

/**
 * The `cot demo` folder: what makes a folder the demo's (its marker and manifest), how a new run clears what the
 * previous one made (and nothing else), and how a folder the demo did not make is refused. Data safety rule: the
 * demo never removes a file it did not write.
 */

/**
 * The file the demo writes at the top of its folder: it marks the folder as the demo's and lists every file and
 * folder the demo made there, so that a new run (no --force needed) removes exactly those and nothing else.
 */
export const DEMO_MARKER = '.cot-demo.json';

/** Everything the demo writes lies under these names of its folder (and the marker). */
const DEMO_ENTRIES = [
  'queue',
  'keys',
  'key-repo',
  'ed25519-keys.json',
  'policy.yml',
  'tree',
  'demo.json',
  'report.html',
];

interface DemoManifest {
  files: string[];
  dirs: string[];
}

/** The manifest of a folder the demo made, or undefined (no marker, or not one the demo wrote). */
async function readManifest(dir: string): Promise<DemoManifest | undefined> {
  let v: unknown;
  try {
    v = JSON.parse(await readFile(join(dir, DEMO_MARKER), 'utf8'));
  } catch {
    return undefined;
  }
  const m = v as { cotDemo?: unknown; files?: unknown; dirs?: unknown };
  const strings = (x: unknown) => Array.isArray(x) && x.every((e) => typeof e === 'string');
  if (m === null || typeof m !== 'object' || m.cotDemo !== 1 || !strings(m.files) || !strings(m.dirs)) {
    return undefined;
  }
  return { files: m.files as string[], dirs: m.dirs as string[] };
}

/** A manifest entry: a relative path without `..`, inside one of the demo's own entries. */
function safeEntry(rel: string): boolean {
  if (rel === '' || isAbsolute(rel) || normalize(rel) !== rel || rel.split(sep).includes('..')) return false;
  return DEMO_ENTRIES.includes(rel.split(sep)[0]!);
}

/**
 * Remove what a previous run listed in its manifest: its files (never through a symlinked folder: the file's folder
 * must really lie in the demo folder), then its folders deepest first, each only if empty. A file someone added to
 * the demo folder since is kept, and so are the folders holding it.
 */
async function removePreviousRun(dir: string, m: DemoManifest): Promise<void> {
  const realDir = await realpath(dir);
  for (const rel of m.files.filter(safeEntry)) {
    const path = join(dir, rel);
    // the file's folder must be the demo's own, reached without a symlink (else it is someone else's file)
    const parent = await realpath(dirname(path)).catch(() => undefined);
    if (parent === undefined || parent !== dirname(join(realDir, rel))) continue;
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined || st.isDirectory()) continue;
    await unlink(path).catch((e: unknown) => {
      throw new CotError('OUTPUT_FAILED', `cannot remove ${path} of the previous demo run: ${fsReason(e)}`, {
        cause: e,
      });
    });
  }
  const dirs = m.dirs.filter(safeEntry).sort((a, b) => b.split(sep).length - a.split(sep).length);
  for (const rel of dirs) {
    const path = join(dir, rel);
    const real = await realpath(path).catch(() => undefined);
    if (real === undefined || real !== join(realDir, rel)) continue; // a symlink now: not the demo's folder
    await rmdir(path).catch(() => undefined); // not empty: someone's files are in it, kept
  }
}

/** Every file (or symlink) and folder under the demo's entries, relative to `dir`; symlinks are not followed. */
async function demoTree(dir: string): Promise<{ files: Set<string>; dirs: Set<string> }> {
  const files = new Set<string>();
  const dirs = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    const st = await lstat(join(dir, rel)).catch(() => undefined);
    if (st === undefined) return;
    if (!st.isDirectory()) {
      files.add(rel);
      return;
    }
    dirs.add(rel);
    for (const name of await readdir(join(dir, rel)).catch(() => [] as string[])) await walk(join(rel, name));
  };
  for (const e of DEMO_ENTRIES) await walk(e);
  return { files, dirs };
}

/**
 * Make `dir` ready for the demo, removing nothing the demo did not write: a new or empty folder is used as is; a
 * folder with the demo's marker has the previous run's files removed (its manifest); any other non-empty folder is
 * refused (FILE_EXISTS) unless `force`, and then left as it is (the demo writes its own names over it). A path that
 * exists and is not a folder is FILE_EXISTS.
 */
async function prepareDemoFolder(dir: string, force: boolean): Promise<void> {
  const st = await stat(dir).catch(() => undefined);
  if (st !== undefined && !st.isDirectory()) {
    throw new CotError(
      'FILE_EXISTS',
      `${dir} exists and is not a folder: give the demo a new or empty folder`,
      {
        details: { path: dir },
      },
    );
  }
  if (st === undefined) {
    await mkdir(dir, { recursive: true }).catch((e: unknown) => {
      throw new CotError('OUTPUT_FAILED', `cannot create the demo folder ${dir}: ${fsReason(e)}`, {
        cause: e,
      });
    });
    return;
  }
  const manifest = await readManifest(dir);
  if (manifest !== undefined) {
    await removePreviousRun(dir, manifest);
    return;
  }
  const entries = await readdir(dir).catch((e: unknown) => {
    throw new CotError('OUTPUT_FAILED', `cannot list the demo folder ${dir}: ${fsReason(e)}`, { cause: e });
  });
  if (entries.length > 0 && !force) {
    throw new CotError(
      'FILE_EXISTS',
      `${dir} is not empty and was not made by cot demo (it has no ${DEMO_MARKER}): nothing was touched. Give a new or empty folder, or pass ${optionRef('force')} to write the demo's files there (replacing only files at the demo's own names: ${DEMO_ENTRIES.join(', ')}; nothing is removed)`,
      { details: { path: dir, entries: entries.slice(0, 20), options: ['force'] } },
    );
  }
}

/**
 * Make `dir` the demo's folder (prepareDemoFolder, same errors) and write its marker at once, so that it is the
 * demo's even if the run stops half-way. Returns the function that rewrites the marker: it lists every file and
 * folder under the demo's entries that was not there when the folder was claimed (what was there before is never
 * listed, so never removed by a later run). Call it when the run ends, failed or not. Throws FILE_EXISTS and
 * OUTPUT_FAILED.
 */
export async function claimDemoFolder(dir: string, force: boolean): Promise<() => Promise<void>> {
  await prepareDemoFolder(dir, force);
  const before = await demoTree(dir);
  const marker = join(dir, DEMO_MARKER);
  const writeManifest = async () => {
    const after = await demoTree(dir);
    const made = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();
    const manifest = {
      cotDemo: 1,
      about:
        'made by `cot demo`: a new run over this folder removes exactly the files and folders listed here (what the previous run made), and nothing else',
      files: made(after.files, before.files),
      dirs: made(after.dirs, before.dirs),
    };
    await writeFileAtomic(marker, `${JSON.stringify(manifest, null, 2)}\n`);
  };
  await writeManifest();
  return writeManifest;
}
