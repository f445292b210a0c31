import type { Dirent } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { ArtifactDigests } from '../document/document.js';
import { RESERVED_ARTIFACT_NAMES } from '../document/names.js';
import type { HashAlgorithm } from '../document/schema.js';
import { CotError, fsError, optionRef } from '../errors.js';
import { mapBounded } from '../util/concurrency.js';
import { describeStat, isInside } from '../util/fs-paths.js';
import { checkOption, checkOptions } from '../util/options.js';
import { DEFAULT_HASH_CONCURRENCY, digestFile } from './digest.js';

/**
 * One artifact to hash: its name in the queue and the file that holds its bytes. Whatever its origin, the file is
 * opened once, never through a symlink at its last component (O_NOFOLLOW), and must be a regular file.
 */
export interface ArtifactSource {
  name: string;
  path: string;
  /**
   * true when `path` was resolved by cot from a listing (enumerateArtifactDir), false for an explicit NAME=PATH
   * pair; informational: neither is opened through a symlink at its last component.
   */
  resolved: boolean;
  /**
   * Real path of the folder the file must lie in when it is opened, or several (one of them), checked on the open
   * descriptor: enumerateArtifactDir sets the artifact folder's real path; generateChainOfTrust sets its
   * `artifactRoots` (and artifact folder) on explicit artifacts that have none. Without it an explicit path is
   * trusted as given, except for its last component.
   */
  within?: string | readonly string[];
}

/**
 * Refuse names that could escape a folder or be read differently by another tool: ARTIFACT_NAME_INVALID for an
 * empty or absolute name, NUL, a backslash, or a "..", "." or empty segment.
 */
export function assertArtifactName(name: string): void {
  const bad = (why: string): never => {
    throw new CotError('ARTIFACT_NAME_INVALID', `artifact name ${JSON.stringify(name)} ${why}`);
  };
  if (name.length === 0) bad('is empty');
  if (name.includes('\u0000')) bad('contains NUL');
  if (name.includes('\\')) bad('contains a backslash');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) bad('is absolute');
  for (const seg of name.split('/')) {
    if (seg === '..') bad('contains a ".." segment');
    if (seg === '.') bad('contains a "." segment');
    if (seg === '') bad('contains an empty segment');
  }
}

interface EnumerateOptions {
  /** Absolute paths never to list (the document's own output files). */
  exclude?: Iterable<string>;
}

/**
 * List every regular file under `dir`, recursively, as POSIX relative names sorted by code point.
 * Symlinks are followed only while they stay inside `dir`; sockets, FIFOs and devices are refused
 * (ARTIFACT_UNSAFE_FILE). Each source carries `within`, the real path of `dir` resolved once here: a process
 * that swaps a folder for a symlink after the listing gets the file refused when it is opened (hashArtifacts).
 * The folders above `dir` are trusted: the task user must not be able to rename them.
 */
export async function enumerateArtifactDir(
  dir: string,
  options: EnumerateOptions = {},
): Promise<ArtifactSource[]> {
  const exclude = new Set([...(options.exclude ?? [])].map((p) => resolve(p)));
  let root: string;
  try {
    root = await realpath(dir);
    const st = await stat(root);
    if (!st.isDirectory())
      throw new CotError('OPTIONS_INVALID', `artifact directory ${dir} is not a directory`);
  } catch (e) {
    throw fsError(e, dir, 'artifact directory');
  }
  const excludeReal = new Set<string>(exclude);
  for (const p of exclude) {
    try {
      excludeReal.add(await realpath(p));
    } catch {
      try {
        excludeReal.add(join(await realpath(dirname(p)), basename(p))); // not written yet
      } catch {
        // its folder does not exist either: nothing under the artifact directory can be it
      }
    }
  }
  const out: ArtifactSource[] = [];
  const visiting = new Set<string>();

  const walk = async (realDir: string, logicalDir: string, prefix: string): Promise<void> => {
    if (visiting.has(realDir)) {
      throw new CotError(
        'ARTIFACT_UNSAFE_FILE',
        `symlink loop: ${logicalDir} leads back to a folder being listed`,
      );
    }
    visiting.add(realDir);
    let entries: Dirent[];
    try {
      entries = await readdir(logicalDir, { withFileTypes: true });
    } catch (e) {
      throw fsError(e, logicalDir, 'cannot list');
    }
    for (const ent of entries) {
      const name = prefix + ent.name;
      const full = join(logicalDir, ent.name);
      if (exclude.has(full) || excludeReal.has(full)) continue;
      assertArtifactName(name);
      if (ent.isDirectory()) {
        await walk(join(realDir, ent.name), full, `${name}/`);
      } else if (ent.isFile()) {
        out.push({ name, path: full, resolved: true, within: root });
      } else if (ent.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(full);
        } catch (e) {
          throw new CotError('ARTIFACT_UNSAFE_FILE', `artifact ${name}: symlink ${full} is dangling`, {
            cause: e,
          });
        }
        if (!isInside(root, target)) {
          throw new CotError(
            'ARTIFACT_UNSAFE_FILE',
            `artifact ${name}: symlink ${full} points outside the artifact directory (to ${target})`,
          );
        }
        if (excludeReal.has(target)) continue;
        // the entry may change between these calls (a task process still running): coded errors, never raw ones
        const st = await stat(target).catch((e: unknown) => {
          throw fsError(e, full, `artifact ${name}: cannot list`);
        });
        if (st.isDirectory()) await walk(target, full, `${name}/`);
        else if (st.isFile()) out.push({ name, path: target, resolved: true, within: root });
        else throw new CotError('ARTIFACT_UNSAFE_FILE', `artifact ${name}: symlink to a ${describeStat(st)}`);
      } else {
        const st = await lstat(full).catch((e: unknown) => {
          throw fsError(e, full, `artifact ${name}: cannot list`);
        });
        throw new CotError('ARTIFACT_UNSAFE_FILE', `artifact ${name}: ${full} is a ${describeStat(st)}`);
      }
    }
    visiting.delete(realDir);
  };
  await walk(root, root, '');
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/**
 * Parse `NAME=PATH` (the name may not contain "="; the path may). The result has no `within`: the path is trusted as
 * given (bar a symlink at its last component) unless the caller sets one (generateChainOfTrust's `artifactRoots`).
 * Throws OPTIONS_INVALID when `pair` is not NAME=PATH (named as `` `artifact` ``, details.options), and
 * ARTIFACT_NAME_INVALID for a bad name (assertArtifactName). Nothing is read.
 */
export function parseArtifactPair(pair: string): ArtifactSource {
  const eq = pair.indexOf('=');
  if (eq <= 0 || eq === pair.length - 1) {
    throw new CotError(
      'OPTIONS_INVALID',
      `${optionRef('artifact')} expects NAME=PATH, got ${JSON.stringify(pair)}`,
      {
        details: { options: ['artifact'] },
      },
    );
  }
  const name = pair.slice(0, eq);
  assertArtifactName(name);
  return { name, path: pair.slice(eq + 1), resolved: false };
}

/** Refuse reserved and duplicate names. */
export function checkArtifactSources(sources: readonly ArtifactSource[]): void {
  const seen = new Set<string>();
  for (const s of sources) {
    assertArtifactName(s.name);
    if (RESERVED_ARTIFACT_NAMES.has(s.name)) {
      throw new CotError(
        'ARTIFACT_RESERVED_NAME',
        `artifact ${s.name} (${s.path}) uses a name reserved for the chain-of-trust document itself`,
      );
    }
    if (seen.has(s.name))
      throw new CotError('ARTIFACT_DUPLICATE_NAME', `artifact name ${s.name} is given twice`);
    seen.add(s.name);
  }
}

export interface HashArtifactsOptions {
  algorithms?: readonly HashAlgorithm[];
  /** Files hashed at once. Default DEFAULT_HASH_CONCURRENCY (8). */
  concurrency?: number;
  /**
   * A worker-private folder (createStagingDir): every file is copied there while it is hashed, in the same pass,
   * and `staged` names its copy. Without it nothing is copied.
   */
  stageDir?: string;
}

export interface HashedArtifact {
  name: string;
  path: string;
  size: number;
  digests: Partial<Record<HashAlgorithm, string>>;
  /** the private copy of exactly the hashed bytes (only with `stageDir`): what an upload must read */
  staged?: string;
}

/**
 * Hash every source (bounded concurrency, streaming) and return them in name order. Each file is opened once and
 * checked on its descriptor (openRegularFile: a regular file; never a symlink at its last component, explicit
 * sources included; inside `within` when set); with `stageDir` its bytes are copied while hashed. Throws ARTIFACT_UNSAFE_FILE,
 * ARTIFACT_RESERVED_NAME, ARTIFACT_DUPLICATE_NAME, FILE_NOT_FOUND, FILE_UNREADABLE, OUTPUT_FAILED (copy).
 */
export async function hashArtifacts(
  sources: readonly ArtifactSource[],
  options: HashArtifactsOptions = {},
): Promise<HashedArtifact[]> {
  checkOption('hashArtifacts', 'sources', sources, {
    kind: 'array',
    hint: '[{ name, path, resolved: false }]',
  });
  checkOptions('hashArtifacts', options, {
    algorithms: { kind: 'array', optional: true },
    concurrency: { kind: 'nonNegativeInteger', optional: true },
  });
  checkArtifactSources(sources);
  const algorithms = options.algorithms ?? ['sha256'];
  const { stageDir } = options;
  const indexed = sources.map((s, i) => ({
    s,
    staged: stageDir === undefined ? undefined : join(stageDir, `artifact-${i}`),
  }));
  const hashed = await mapBounded(
    indexed,
    options.concurrency ?? DEFAULT_HASH_CONCURRENCY,
    async ({ s, staged }) => {
      const d = await digestFile(s.path, algorithms, {
        name: s.name,
        noFollow: true,
        ...(s.within === undefined ? {} : { within: s.within }),
        ...(staged === undefined ? {} : { copies: [{ path: staged }] }),
      });
      return {
        name: s.name,
        path: s.path,
        size: d.size,
        digests: d.digests,
        ...(staged === undefined ? {} : { staged }),
      };
    },
  );
  return hashed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The document's `artifacts` map for hashed artifacts. */
export function toArtifactDigests(hashed: readonly HashedArtifact[]): ArtifactDigests {
  const out: ArtifactDigests = {};
  for (const h of hashed) out[h.name] = { ...(h.digests as Record<string, string>) };
  return out;
}
