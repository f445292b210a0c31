import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isAction, parentOf } from '../chain/edges.js';
import { MIRROR_TREES_FOLDER, treeFolderOf } from '../chain/tree-material.js';
import { CotError, type ErrorCode } from '../errors.js';
import type { JsonObject } from '../json/parse.js';
import { needString } from '../tree/builder.js';
import { envPrefixOf } from '../tree/context.js';
import { githubLookupPath, TREE_FILES, type TreeFile, type TreeFileRole } from '../tree/files.js';
import { fetchTreeMaterial, type OnlineTreeOptions, type TreeFetch } from '../tree/online.js';
import { rebuildParentTask } from '../tree/rebuild.js';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * How `cot fetch` reaches the tree material of the chain's decision, cron and action tasks (tree/online.ts
 * fetchTreeMaterial): the fetch function (the library makes no request itself; the CLI gives
 * cli/tree-fetch.ts treeFetch), the hosts a tree URL may name (default DEFAULT_TREE_HOSTS), base URLs standing
 * for allowed hosts, the URL of `projects.yml`, and the prefix of the repository variables (default: told from
 * each decision task's env, envPrefixOf).
 */
export interface FetchTreeOptions {
  fetch: TreeFetch;
  allowedTreeHosts?: readonly string[];
  baseUrls?: Readonly<Record<string, string>>;
  projectsUrl?: string;
  envPrefix?: string;
}

/** A decision, cron or action task of the mirrored chain, with what the tree mirror needs of it. */
interface TreeParent {
  taskId: string;
  task: JsonObject;
}

/** What could not be mirrored of a parent task's tree (the FetchMissing shape of mirror/fetch.ts). */
interface TreeMissing {
  taskId: string;
  code: ErrorCode;
  reason: string;
}

/** Codes of a rebuild run only to record GitHub answers that say the mirror lacks something (else: not ours). */
const LOOKUP_CODES: ReadonlySet<ErrorCode> = new Set([
  'TREE_GITHUB_LOOKUP_FAILED',
  'TREE_FETCH_FAILED',
  'TREE_HOST_REFUSED',
]);

/** One tree folder being mirrored: its files by path relative to the folder, as fetched. */
type FolderFiles = Map<string, string>;

interface TreeMirrorRun {
  dir: string;
  o: FetchTreeOptions;
  /** every parent task of the chain, by id (an action's decision task is looked up here) */
  parents: ReadonlyMap<string, JsonObject>;
  /** the decision task's own `actions.json` and `parameters.yml` (mirrored, hash-checked), when it has them */
  decisionFiles: (decisionTaskId: string) => Promise<Partial<Record<TreeFileRole, TreeFile>>>;
  /** one fetch per URL, whichever parent task needs it */
  cache: Map<string, Promise<string | undefined>>;
  folders: Map<string, FolderFiles>;
  missing: TreeMissing[];
}

/** The decision task of a parent: an action's parent (`extra.parent`, else its task group), else itself. */
function decisionOf(run: TreeMirrorRun, p: TreeParent): { id: string; task: JsonObject } {
  if (!isAction(p.task)) return { id: p.taskId, task: p.task };
  const id = parentOf(p.taskId, p.task).id;
  const task = id === undefined ? undefined : run.parents.get(id);
  if (id === undefined || task === undefined)
    throw new CotError(
      'TREE_NOT_TRACED',
      `action task ${p.taskId}: its decision task ${id ?? '(none named)'} is not part of the mirrored chain, so its tree cannot be named`,
    );
  return { id, task };
}

/**
 * Fetch the tree material of one parent task into its folder's files: what fetchTreeMaterial fetches (the template,
 * hg's pushlog, `projects.yml`), and for a GitHub repository the REST API answers its context asks for (found by
 * rebuilding the task once; the rebuild's own verdict is the verifier's business, not the mirror's).
 */
async function mirrorParent(run: TreeMirrorRun, p: TreeParent): Promise<void> {
  const decision = decisionOf(run, p);
  const prefix = run.o.envPrefix ?? envPrefixOf(decision.task, decision.id);
  const field = `payload.env.${prefix}_HEAD_REPOSITORY`;
  const who = `decision task ${decision.id}`;
  const repository = needString(decision.task, field, who).replace(/\/+$/, '');
  const revision = needString(decision.task, `payload.env.${prefix}_HEAD_REV`, who);
  const folder = treeFolderOf(run.dir, repository, revision, field);
  const files = run.folders.get(folder) ?? new Map<string, string>();
  run.folders.set(folder, files);
  const online: OnlineTreeOptions = {
    task: p.task,
    taskId: p.taskId,
    decisionTask: decision.task,
    decisionTaskId: decision.id,
    envPrefix: prefix,
    fetch: (url, f) => {
      let text = run.cache.get(url);
      if (text === undefined) {
        text = run.o.fetch(url, f);
        run.cache.set(url, text);
      }
      return text;
    },
    ...(run.o.allowedTreeHosts ? { allowedTreeHosts: run.o.allowedTreeHosts } : {}),
    ...(run.o.baseUrls ? { baseUrls: run.o.baseUrls } : {}),
    ...(run.o.projectsUrl ? { projectsUrl: run.o.projectsUrl } : {}),
    onFetched: (what, text) =>
      files.set('role' in what ? TREE_FILES[what.role] : githubLookupPath(what.lookup), text),
  };
  const tree = await fetchTreeMaterial(online);
  if (tree.github === undefined) return;
  Object.assign(tree.files, await run.decisionFiles(decision.id));
  try {
    await rebuildParentTask({
      task: p.task,
      taskId: p.taskId,
      decisionTask: decision.task,
      decisionTaskId: decision.id,
      tree,
      envPrefix: prefix,
    });
  } catch (e) {
    if (!(e instanceof CotError) || !LOOKUP_CODES.has(e.code)) return;
    throw e;
  }
}

/**
 * Mirror the tree material of the chain's decision, cron and action tasks into `<out>/trees/` (MIRROR_TREES_FOLDER),
 * in the layout of the policy's `tree.dir` (chain/tree-material.ts: `<host>/<repository path>/<revision>/`, named
 * from each decision task's `<PREFIX>_HEAD_REPOSITORY` and `_HEAD_REV` by treeFolderOf), each file as its host
 * served it (`.taskcluster.yml`, `pushlog.json`, `projects.yml`, GitHub answers under `github/`), written
 * atomically. `actions.json` and `parameters.yml` are not tree files: the verifier reads them from the decision
 * task's own mirrored artifacts. Returns what could not be mirrored, one item per parent task, with its code
 * (TREE_NOT_TRACED: an action whose decision task is not in the chain; TREE_ENV_PREFIX_UNKNOWN, TREE_TASK_INVALID,
 * TREE_HOST_REFUSED, TREE_FILE_MISSING, TREE_FILE_INVALID, TREE_TEMPLATE_INVALID, TREE_FETCH_FAILED,
 * TREE_GITHUB_LOOKUP_FAILED from fetchTreeMaterial and the GitHub lookups). Files of a folder are written even when
 * another parent of the same folder failed. File system errors (FILE_*) throw.
 */
export async function mirrorTrees(
  outDir: string,
  parents: readonly TreeParent[],
  o: FetchTreeOptions,
  decisionFiles: TreeMirrorRun['decisionFiles'],
): Promise<TreeMissing[]> {
  const run: TreeMirrorRun = {
    dir: join(outDir, MIRROR_TREES_FOLDER),
    o,
    parents: new Map(parents.map((p) => [p.taskId, p.task])),
    decisionFiles,
    cache: new Map(),
    folders: new Map(),
    missing: [],
  };
  for (const p of parents) {
    try {
      await mirrorParent(run, p);
    } catch (e) {
      if (!(e instanceof CotError)) throw e;
      run.missing.push({ taskId: p.taskId, code: e.code, reason: `tree material: ${e.message}` });
    }
  }
  for (const [folder, files] of run.folders)
    for (const [rel, text] of files) {
      const path = join(folder, ...rel.split('/'));
      await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, text);
    }
  return run.missing;
}
