import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CotError, fsError } from '../errors.js';
import type { JsonObject } from '../json/parse.js';
import { readTreeFolder, type TreeMaterial } from '../tree/files.js';
import { githubRepository, isGithubUrl } from '../tree/github.js';
import { fetchTreeMaterial, type OnlineTreeOptions } from '../tree/online.js';
import { isPlainRepositoryUrl } from '../tree/repository-url.js';

/**
 * Where a chain's tree material comes from offline: the policy's `tree.dir`, one folder per repository and
 * revision, `DIR/<host>/<repository path>/<revision>/` (for https://hg.mozilla.org/projects/maple at
 * 054fe08d...: `DIR/hg.mozilla.org/projects/maple/054fe08d.../`), holding what `cot verify-parent --tree` reads
 * (readTreeFolder: `.taskcluster.yml`, `pushlog.json`, `projects.yml`, `actions.json`, `parameters.yml`); a
 * `DIR/projects.yml` serves every folder that has none. Each folder is read once per verification (TreeSource).
 */

/**
 * The folder of a directory store that holds its chain's tree material (`cot fetch --trees` writes it), in the layout
 * of `tree.dir`: `<mirror>/trees/<host>/<repository path>/<revision>/`. `cot verify --queue <mirror>` reads it when
 * the policy has a `tree` section without `dir`.
 */
export const MIRROR_TREES_FOLDER = 'trees';

/** A path segment a folder name may be made of: no `.` or `..`, no separator, nothing a file system treats apart. */
const SEGMENT = /^(?!\.{1,2}$)[A-Za-z0-9._~-]{1,200}$/;
/** A revision: a hex commit id (hg and git, short or full). */
const REVISION = /^[0-9a-f]{7,64}$/i;

/**
 * The folder names of a repository URL: host then path segments; a GitHub repository (https, ssh or the scp-like
 * `git@github.com:` form, with or without `.git`: tree/github.ts githubRepository) is `github.com/<owner>/<name>`
 * whatever its form. Undefined when the URL is not https (ssh for GitHub only) or has a query, fragment or user.
 */
function repositoryFolders(repository: string, field: string): string[] | undefined {
  if (isGithubUrl(repository)) {
    const { owner, name } = githubRepository(repository, field);
    return ['github.com', owner, name];
  }
  if (!isPlainRepositoryUrl(repository)) return undefined; // before parsing: URL() resolves `..` and `%2e%2e`
  let u: URL;
  try {
    u = new URL(repository);
  } catch {
    return undefined;
  }
  return [u.hostname, ...u.pathname.split('/').filter(Boolean)];
}

/**
 * The folder of `repository` (a URL, as `<PREFIX>_HEAD_REPOSITORY` gives it) at `revision` under `dir`:
 * `dir/<host>/<repository path>/<revision>` (repositoryFolders). The host, the path segments and the revision become
 * folder names only when each is a plain name, so a task's fields can never lead the verifier out of `dir`. Throws
 * TREE_TASK_INVALID (naming `field`) otherwise.
 */
export function treeFolderOf(dir: string, repository: string, revision: string, field: string): string {
  const folders = repositoryFolders(repository, field);
  if (folders === undefined || folders.length < 2 || !folders.every((s) => SEGMENT.test(s)))
    throw new CotError(
      'TREE_TASK_INVALID',
      `${field} ${JSON.stringify(repository)} is not an https repository URL that names a tree folder`,
      { details: { field } },
    );
  if (!REVISION.test(revision))
    throw new CotError(
      'TREE_TASK_INVALID',
      `the revision ${JSON.stringify(revision)} is not a hex commit id`,
      {
        details: { field: field.replace(/_HEAD_REPOSITORY$/, '_HEAD_REV') },
      },
    );
  return join(dir, ...folders, revision);
}

/** Whether `path` is a folder (false when it does not exist); other errors throw (fsError). */
async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR')
      return false;
    throw fsError(e, path, 'cannot read the tree folder');
  }
}

/** The tree material of one verification: each folder read once, the shared `projects.yml` read once. */
export class TreeSource {
  private readonly folders = new Map<string, Promise<TreeMaterial | null>>();
  private shared: Promise<TreeMaterial> | undefined;

  constructor(readonly dir: string) {}

  /**
   * The material of `folder` (treeFolderOf), null when the folder does not exist (the tree is untraced). Throws
   * what readTreeFolder throws (TREE_FILE_INVALID, TREE_TEMPLATE_INVALID, FILE_UNREADABLE).
   */
  material(folder: string): Promise<TreeMaterial | null> {
    let p = this.folders.get(folder);
    if (p === undefined) {
      p = this.read(folder);
      this.folders.set(folder, p);
    }
    return p;
  }

  private async read(folder: string): Promise<TreeMaterial | null> {
    if (!(await isFolder(folder))) return null;
    const tree = await readTreeFolder(folder);
    if (tree.files.projects === undefined) {
      this.shared ??= readTreeFolder(this.dir);
      const shared = await this.shared;
      if (shared.files.projects !== undefined) {
        tree.files.projects = shared.files.projects;
        tree.warnings.push(...shared.warnings);
      }
    }
    return tree;
  }
}

/**
 * The tree source of a directory store's own trees folder (`<root>/trees`, MIRROR_TREES_FOLDER), or undefined when
 * the store has none. Throws FILE_UNREADABLE (fsError) when the folder cannot be looked at.
 */
export async function mirrorTreeSource(storeRoot: string): Promise<TreeSource | undefined> {
  const dir = join(storeRoot, MIRROR_TREES_FOLDER);
  return (await isFolder(dir)) ? new TreeSource(dir) : undefined;
}

/** The parent link whose tree material is wanted online, with its decision task (OnlineTreeOptions). */
interface OnlineTreeRequest {
  task: JsonObject;
  taskId: string;
  decisionTask: JsonObject;
  decisionTaskId: string;
  envPrefix: string;
  repository: string;
  revision: string;
  tasksFor: string;
}

/**
 * The tree material of one verification fetched from the repositories' hosts (tree/online.ts fetchTreeMaterial with
 * the caller's fetch function and host rules): once per repository, revision and `tasks_for` (which files a rebuild
 * needs depends on it). An action's decision task artifacts are not fetched here: the chain reads them from the
 * decision task's run, hash-checked against its signed document. Throws what fetchTreeMaterial throws
 * (TREE_HOST_REFUSED, TREE_FETCH_FAILED, TREE_FILE_MISSING, TREE_FILE_INVALID, TREE_TASK_INVALID...).
 */
export class OnlineTreeSource {
  private readonly fetched = new Map<string, Promise<TreeMaterial>>();

  constructor(
    readonly o: Pick<OnlineTreeOptions, 'fetch' | 'allowedTreeHosts' | 'projectsUrl' | 'baseUrls'>,
  ) {}

  material(r: OnlineTreeRequest): Promise<TreeMaterial> {
    const key = `${r.repository}\n${r.revision}\n${r.tasksFor}`;
    let p = this.fetched.get(key);
    if (p === undefined) {
      p = fetchTreeMaterial({
        ...this.o,
        task: r.task,
        taskId: r.taskId,
        decisionTask: r.decisionTask,
        decisionTaskId: r.decisionTaskId,
        envPrefix: r.envPrefix,
      });
      this.fetched.set(key, p);
    }
    return p;
  }
}
