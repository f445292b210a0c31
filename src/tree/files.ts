import { constants, open, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CotError, fsError, notAFile } from '../errors.js';
import { isJsonObject, type JsonObject, type JsonValue, parseJson } from '../json/parse.js';
import { readBounded, readFileBounded } from '../util/read.js';

/**
 * The tree material a parent task is rebuilt from, by role, with the file names a tree folder (`--tree DIR`) uses:
 * the names of the shared vectors (`../shared/interop/scriptworker-cot/`), which are those of the reference
 * (scriptworker `cot/verify.py`: the decision task's `public/actions.json` and `public/parameters.yml`, the
 * repository's `.taskcluster.yml`, hg's `json-pushes` answer, ci-configuration's `projects.yml`).
 */
export const TREE_FILES = {
  template: '.taskcluster.yml',
  pushlog: 'pushlog.json',
  projects: 'projects.yml',
  actions: 'actions.json',
  parameters: 'parameters.yml',
} as const;

export type TreeFileRole = keyof typeof TREE_FILES;

/**
 * The tree files that are not in the repository but artifacts of the decision task, by role, with their names on the
 * queue (the reference's get_action_context_and_template reads them from the decision task).
 */
export const DECISION_ARTIFACT_NAMES = {
  actions: 'public/actions.json',
  parameters: 'public/parameters.yml',
} as const satisfies Partial<Record<TreeFileRole, string>>;

const MiB = 1024 * 1024;

/**
 * Size bound of each tree file in bytes. Real ones are far smaller (a `.taskcluster.yml` about 17 KiB, an
 * `actions.json` about 120 KiB, `projects.yml` about 10 KiB); the template's bound is also the render's input bound.
 */
export const TREE_FILE_MAX_BYTES: Readonly<Record<TreeFileRole, number>> = {
  template: 1 * MiB,
  pushlog: 4 * MiB,
  projects: 4 * MiB,
  actions: 16 * MiB,
  parameters: 4 * MiB,
};

/** Most YAML aliases expanded in one file (the `yaml` package's own default): an alias bomb is refused. */
const MAX_YAML_ALIASES = 100;

/** One loaded tree file: where it came from (a path or a URL, for messages) and its value. */
export interface TreeFile {
  source: string;
  value: JsonValue;
}

/**
 * What a rebuild reads from a tree, by role; a role absent is a file the tree does not have (TREE_FILE_MISSING when
 * a rebuild needs it). `warnings`: what reading accepted but a person should know (a duplicated YAML key).
 */
export interface TreeMaterial {
  /** where the files were looked for (a folder, a URL), for the message naming a file the tree lacks */
  location?: string;
  files: Partial<Record<TreeFileRole, TreeFile>>;
  /**
   * The GitHub REST API's answer to a lookup a GitHub context needs (readTreeFolder: the files of githubLookupPath;
   * online: the API), or undefined when the tree does not have it (TREE_GITHUB_LOOKUP_FAILED when needed). Absent:
   * the tree has no GitHub answers.
   */
  github?: (lookup: GithubLookup) => Promise<TreeFile | undefined>;
  warnings: string[];
}

/**
 * A GitHub REST API lookup a context needs (scriptworker `github.py` GitHubRepository: definition, get_commit,
 * get_pull_request, get_release): `GET /repos/{owner}/{name}`, `.../commits/{sha}`, `.../pulls/{number}`,
 * `.../releases/tags/{tag}`.
 */
export type GithubLookup =
  | { kind: 'repository'; owner: string; name: string }
  | { kind: 'commit'; owner: string; name: string; sha: string }
  | { kind: 'pull'; owner: string; name: string; number: number }
  | { kind: 'release'; owner: string; name: string; tag: string };

/** Size bound of one GitHub API answer, bytes (a pull request's answer is about 30 KiB). */
export const GITHUB_ANSWER_MAX_BYTES = 4 * MiB;

/**
 * Where a tree folder holds the answer to a lookup, relative to the folder (one folder per repository, so the
 * owner and name are not part of it): `github/repository.json`, `github/commits/<sha>.json`,
 * `github/pulls/<number>.json`, `github/releases/<tag, percent-encoded>.json`. Each file holds the REST API's own
 * JSON answer. A commit is named by its full hexadecimal id, a pull request by its number: anything else is
 * refused (TREE_TASK_INVALID) before a path is made of it.
 */
export function githubLookupPath(lookup: GithubLookup): string {
  switch (lookup.kind) {
    case 'repository':
      return 'github/repository.json';
    case 'commit':
      if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(lookup.sha))
        throw new CotError(
          'TREE_TASK_INVALID',
          `the revision ${JSON.stringify(lookup.sha)} is not a full git commit id`,
          {
            details: { revision: lookup.sha },
          },
        );
      return `github/commits/${lookup.sha}.json`;
    case 'pull':
      return `github/pulls/${lookup.number}.json`;
    case 'release':
      return `github/releases/${encodeURIComponent(lookup.tag)}.json`;
  }
}

/** A lookup for messages: `commit 330ea92... of mozilla-mobile/mozilla-vpn-client`. */
export function describeGithubLookup(lookup: GithubLookup): string {
  const of = `of ${lookup.owner}/${lookup.name}`;
  switch (lookup.kind) {
    case 'repository':
      return `the repository ${lookup.owner}/${lookup.name}`;
    case 'commit':
      return `commit ${lookup.sha} ${of}`;
    case 'pull':
      return `pull request ${lookup.number} ${of}`;
    case 'release':
      return `release ${JSON.stringify(lookup.tag)} ${of}`;
  }
}

/**
 * Parse a GitHub API answer (strict JSON, a mapping at its top, at most GITHUB_ANSWER_MAX_BYTES). Throws
 * TREE_FILE_INVALID naming `source`.
 */
export function parseGithubAnswer(text: string, source: string): TreeFile {
  const invalid = (m: string, cause?: unknown) =>
    new CotError('TREE_FILE_INVALID', m, { details: { path: source }, ...(cause ? { cause } : {}) });
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > GITHUB_ANSWER_MAX_BYTES)
    throw invalid(
      `${source} is ${bytes} bytes, over the bound of ${GITHUB_ANSWER_MAX_BYTES} for a GitHub answer`,
    );
  let value: JsonValue;
  try {
    value = parseJson(text, { source });
  } catch (e) {
    throw invalid(`${source} is not valid JSON: ${(e as Error).message}`, e);
  }
  if (!isJsonObject(value)) throw invalid(`${source} does not hold a JSON object`);
  return { source, value };
}

/**
 * Read a file of a tree folder, at most `maxBytes` (`tooLarge` past it), or undefined when it does not exist. Opened
 * without blocking and checked on the open descriptor to be a regular file: a FIFO, socket or device in a folder
 * (a mirror is material from elsewhere) is FILE_UNREADABLE naming `what` and the path at once, never waited on.
 * Other read errors are thrown as Node raised them.
 */
async function readFolderFile(
  path: string,
  what: string,
  maxBytes: number,
  tooLarge: (size: number) => Error,
): Promise<Buffer | undefined> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notAFile(path, what, st);
    return await readBounded(fh, maxBytes, tooLarge);
  } finally {
    await fh.close();
  }
}

/** The answer to `lookup` in the tree folder `dir` (githubLookupPath), or undefined when the file does not exist. */
async function readGithubAnswer(dir: string, lookup: GithubLookup): Promise<TreeFile | undefined> {
  const path = join(dir, githubLookupPath(lookup));
  let bytes: Buffer | undefined;
  try {
    bytes = await readFolderFile(
      path,
      'the GitHub answer',
      GITHUB_ANSWER_MAX_BYTES,
      (size) =>
        new CotError(
          'TREE_FILE_INVALID',
          `${path} is ${size} bytes or more, over the bound of ${GITHUB_ANSWER_MAX_BYTES} for a GitHub answer`,
          { details: { path } },
        ),
    );
  } catch (e) {
    throw fsError(e, path, 'cannot read a GitHub answer');
  }
  return bytes === undefined ? undefined : parseGithubAnswer(bytes.toString('utf8'), path);
}

interface YamlModule {
  parseDocument(
    text: string,
    options: Record<string, unknown>,
  ): {
    errors: { code: string; message: string; linePos?: { line: number; col: number }[] }[];
    toJS(options: Record<string, unknown>): unknown;
  };
}

let yamlModule: YamlModule | undefined;
function yaml(): YamlModule {
  yamlModule ??= createRequire(import.meta.url)('yaml') as YamlModule;
  return yamlModule;
}

/** `value` as a JSON value, or the path of the first part that is not JSON (a date, a non-finite number...). */
function nonJsonPath(value: unknown, path: string): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = nonJsonPath(value[i], `${path}[${i}]`);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) {
      const bad = nonJsonPath(v, path ? `${path}.${k}` : k);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  return path || '(root)';
}

/**
 * Parse YAML as the reference reads it (PyYAML `safe_load`: YAML 1.1, so `on`/`yes` are booleans and `017` is
 * octal; a duplicated mapping key keeps its later value). A duplicated key is accepted with a warning pushed to
 * `warnings` (the real `projects.yml` holds one: `cedar`), never a failure. Throws `invalid(message)` for YAML
 * that does not parse, or a value that is not JSON.
 */
function parseYaml(
  text: string,
  source: string,
  warnings: string[],
  invalid: (m: string) => CotError,
): JsonValue {
  const Y = yaml();
  let value: unknown;
  try {
    const strict = Y.parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: true });
    const duplicates = strict.errors.filter((e) => e.code === 'DUPLICATE_KEY');
    const other = strict.errors.find((e) => e.code !== 'DUPLICATE_KEY');
    if (other) throw invalid(`${source} is not valid YAML: ${other.message.split('\n')[0]}`);
    const doc =
      duplicates.length === 0
        ? strict
        : Y.parseDocument(text, { version: '1.1', uniqueKeys: false, prettyErrors: true });
    for (const d of duplicates)
      warnings.push(
        `${source}: a mapping key is duplicated at line ${d.linePos?.[0]?.line ?? '?'}: the later value is used, as the reference (PyYAML) reads it`,
      );
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    if (e instanceof CotError) throw e;
    throw invalid(`${source} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const bad = nonJsonPath(value, '');
  if (bad !== undefined) throw invalid(`${source}: ${bad} is not a JSON value (a YAML date or another type)`);
  return value as JsonValue;
}

/** The code a file of this role is refused with when it cannot be read as its format. */
function invalidCode(role: TreeFileRole): 'TREE_TEMPLATE_INVALID' | 'TREE_FILE_INVALID' {
  return role === 'template' ? 'TREE_TEMPLATE_INVALID' : 'TREE_FILE_INVALID';
}

/**
 * Parse the text of a tree file of `role`, named `source` in messages: YAML (parseYaml, with its duplicate-key
 * warning) for `.taskcluster.yml`, `projects.yml` and `parameters.yml`; strict JSON for `pushlog.json` and
 * `actions.json`. Throws TREE_TEMPLATE_INVALID (the template) or TREE_FILE_INVALID (the others): over its size
 * bound (TREE_FILE_MAX_BYTES, counted in UTF-8 bytes), not valid YAML or JSON, or not a mapping at its top.
 */
export function parseTreeFile(
  role: TreeFileRole,
  text: string,
  source: string,
  warnings: string[],
): TreeFile {
  const code = invalidCode(role);
  const invalid = (m: string) => new CotError(code, m, { details: { path: source } });
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > TREE_FILE_MAX_BYTES[role])
    throw invalid(
      `${source} is ${bytes} bytes, over the bound of ${TREE_FILE_MAX_BYTES[role]} for ${TREE_FILES[role]}`,
    );
  let value: JsonValue;
  if (role === 'pushlog' || role === 'actions') {
    try {
      value = parseJson(text, { source });
    } catch (e) {
      throw new CotError(code, `${source} is not valid JSON: ${(e as Error).message}`, {
        cause: e,
        details: { path: source },
      });
    }
  } else value = parseYaml(text, source, warnings, invalid);
  if (!isJsonObject(value)) throw invalid(`${source} does not hold a mapping at its top`);
  return { source, value };
}

/**
 * Read a tree folder: each file of TREE_FILES that exists in `dir` (read bounded, parsed by parseTreeFile), and
 * the GitHub answers of its `github/` folder when a context asks for one (githubLookupPath);
 * `template` replaces `DIR/.taskcluster.yml` when given (`--template FILE`). A file that does not exist is left
 * out (the rebuild says which one it needs: TREE_FILE_MISSING). Throws TREE_TEMPLATE_INVALID, TREE_FILE_INVALID
 * (parseTreeFile, or over its size bound), FILE_UNREADABLE (a folder, FIFO or device where a file should be, a read error), and
 * TREE_FILE_MISSING for a `template` given that does not exist.
 */
export async function readTreeFolder(
  dir: string,
  options: { template?: string } = {},
): Promise<TreeMaterial> {
  try {
    if (!(await stat(dir)).isDirectory())
      throw new CotError('FILE_UNREADABLE', `the tree ${dir} is not a folder`, { details: { path: dir } });
  } catch (e) {
    throw fsError(e, dir, 'cannot read the tree folder');
  }
  const tree: TreeMaterial = {
    location: dir,
    files: {},
    github: (lookup) => readGithubAnswer(dir, lookup),
    warnings: [],
  };
  for (const role of Object.keys(TREE_FILES) as TreeFileRole[]) {
    const given = role === 'template' && options.template !== undefined;
    const path = given ? options.template! : join(dir, TREE_FILES[role]);
    const tooLarge = (size: number) =>
      new CotError(
        invalidCode(role),
        `${path} is ${size} bytes or more, over the bound of ${TREE_FILE_MAX_BYTES[role]} for ${TREE_FILES[role]}`,
        { details: { path } },
      );
    let bytes: Buffer | undefined;
    try {
      // a template given on the command line may be a pipe (`--template <(...)`); a folder's files are regular files
      bytes = given
        ? await readFileBounded(path, TREE_FILE_MAX_BYTES[role], tooLarge)
        : await readFolderFile(path, TREE_FILES[role], TREE_FILE_MAX_BYTES[role], tooLarge);
    } catch (e) {
      if (!(e instanceof CotError) && (e as NodeJS.ErrnoException).code === 'ENOENT' && given)
        throw missingTreeFile(path, 'template');
      throw fsError(e, path, `cannot read ${TREE_FILES[role]}`);
    }
    if (bytes === undefined) continue;
    tree.files[role] = parseTreeFile(role, bytes.toString('utf8'), path, tree.warnings);
  }
  return tree;
}

function missingTreeFile(path: string, role: TreeFileRole): CotError {
  return new CotError(
    'TREE_FILE_MISSING',
    `${path} (${TREE_FILES[role]}) does not exist: the rebuild needs it`,
    {
      details: { path, file: TREE_FILES[role] },
    },
  );
}

/**
 * The tree file of `role` a rebuild needs, for `why` (a short phrase for the message). Throws TREE_FILE_MISSING
 * naming the file when the tree does not have it.
 */
export function needTreeFile(tree: TreeMaterial, role: TreeFileRole, why: string): TreeFile {
  const f = tree.files[role];
  if (f === undefined) {
    const where = tree.location === undefined ? TREE_FILES[role] : join(tree.location, TREE_FILES[role]);
    throw new CotError('TREE_FILE_MISSING', `${where} does not exist: ${why} needs it`, {
      details: { path: where, file: TREE_FILES[role] },
    });
  }
  return f;
}

/** The mapping a tree file holds (parseTreeFile checked it is one). */
export function treeObject(f: TreeFile): JsonObject {
  return f.value as JsonObject;
}
