import { CotError } from '../../errors.js';
import type { JsonObject } from '../../json/parse.js';
import { pushTo } from '../../util/group.js';
import { obj } from '../edges.js';
import type { ChainCheck, ChainRun, LinkState } from '../state.js';
import { repositoryHolds, restrictedEntry, type TreePolicy, trustedRepositoryPath } from '../tree-policy.js';
import { envOf } from './tree-rebuild.js';

/** `metadata.source` of a task, or undefined. */
function sourceOf(task: JsonObject): string | undefined {
  const v = obj(task.metadata)?.source;
  return typeof v === 'string' ? v : undefined;
}

/** The first segment of a URL's path (`/try/rev/...` -> `try`), '' when none. */
function firstSegment(url: string): string {
  try {
    return (
      new URL(url.replace(/^git@github\.com:/, 'ssh://github.com/')).pathname.split('/').filter(Boolean)[0] ??
      ''
    );
  } catch {
    return '';
  }
}

function isGithubUrl(url: string): boolean {
  try {
    return new URL(url.replace(/^git@github\.com:/, 'ssh://github.com/')).hostname === 'github.com';
  } catch {
    return false;
  }
}

/**
 * Why a task is a try push or a pull request, or undefined (the reference's is_try_or_pull_request). A GitHub task
 * (schedulerId `taskcluster-github`, `tasks_for` github-*, or a github.com source: is_github_task) is a pull
 * request when its `tasks_for` is a pull-request one or the owner of its repository or its source is not the
 * official owner (is_pull_request); the reference also asks GitHub whether the revision landed on the official
 * repository, which needs the network and is not done offline (a fork's commit is refused by the owner rule). Any
 * other task is a try push when its schedulerId is `gecko-level-1`, its MH_BRANCH holds `try`, or the first path
 * segment of its repository or source holds `try` (is_try).
 */
function tryOrPullRequest(task: JsonObject, tree: TreePolicy): string | undefined {
  const repo = envOf(task, `${tree.envPrefix}_HEAD_REPOSITORY`)?.replace(/\/+$/, '');
  const source = sourceOf(task) ?? '';
  const tasksFor = obj(task.extra)?.tasks_for;
  const github =
    task.schedulerId === 'taskcluster-github' ||
    (typeof tasksFor === 'string' && tasksFor.startsWith('github-')) ||
    isGithubUrl(source);
  if (github) {
    if (tasksFor === 'github-pull-request' || tasksFor === 'github-pull-request-untrusted')
      return `tasks_for ${tasksFor}`;
    for (const url of [repo, source])
      if (url && firstSegment(url) !== tree.githubOwner)
        return `${url} is not a repository of the official owner ${JSON.stringify(tree.githubOwner)}`;
    return undefined;
  }
  if (task.schedulerId === 'gecko-level-1') return 'schedulerId gecko-level-1';
  if ((envOf(task, 'MH_BRANCH') ?? '').includes('try')) return 'MH_BRANCH holds try';
  for (const url of [repo, source])
    if (url && firstSegment(url).includes('try')) return `${url} is a try repository`;
  return undefined;
}

/** The repository of every link: its source agrees with its repository variable (get_source_url). */
function checkSources(s: ChainRun, tree: TreePolicy, links: LinkState[]): Map<LinkState, string | null> {
  const paths = new Map<LinkState, string | null>();
  for (const n of links) {
    const repo = envOf(n.task, `${tree.envPrefix}_HEAD_REPOSITORY`)?.replace(/\/+$/, '');
    const source = sourceOf(n.task);
    if (repo !== undefined && (source === undefined || !repositoryHolds(repo, source)))
      s.fail(
        n,
        'TREE_SOURCE_MISMATCH',
        `metadata.source ${JSON.stringify(source ?? null)} is not in the repository ${tree.envPrefix}_HEAD_REPOSITORY names (${repo})`,
        { repository: repo, source: source ?? null },
      );
    const path = source === undefined ? null : trustedRepositoryPath(tree.trustedRepositories, source);
    paths.set(n, path);
    n.link.tree = { ...n.link.tree, repositoryPath: path };
  }
  return paths;
}

/** The decision task a task belongs to: its task group (the reference's get_decision_task_id). */
function groupOf(n: LinkState): string | undefined {
  return typeof n.task.taskGroupId === 'string' ? n.task.taskGroupId : undefined;
}

/** Every link of one decision task comes from one repository (trace_back_to_tree, for every task group). */
function checkGroups(s: ChainRun, paths: Map<LinkState, string | null>): void {
  const groups = new Map<string, LinkState[]>();
  for (const n of paths.keys()) {
    const g = groupOf(n);
    if (g !== undefined) pushTo(groups, g, n);
  }
  for (const [group, members] of groups) {
    const lead = members.find((m) => m.link.taskId === group) ?? members[0]!;
    const want = paths.get(lead);
    for (const m of members)
      if (paths.get(m) !== want)
        s.fail(
          m,
          'TREE_REPOSITORY_MISMATCH',
          `its source lies in ${paths.get(m) ?? 'no trusted repository'}, but task ${lead.link.taskId} of the same decision task ${group} lies in ${want ?? 'no trusted repository'}`,
          { group, repository: paths.get(m) ?? null, expected: want ?? null },
        );
  }
}

/** The scm level of a link's decision task, as its rebuild found it in projects.yml. */
function levelOf(s: ChainRun, n: LinkState): string | undefined {
  const g = groupOf(n);
  // a GitHub repository has no level in projects.yml (null): no level is known
  return (g === undefined ? undefined : s.nodes.get(g))?.link.tree?.rebuild?.level ?? undefined;
}

/** The restricted scopes of the verified task against the trees their levels allow; returns whether it has any. */
function checkScopes(s: ChainRun, tree: TreePolicy, root: LinkState, path: string | null): boolean {
  const scopes = Array.isArray(root.task.scopes) ? root.task.scopes.filter((x) => typeof x === 'string') : [];
  const found: NonNullable<NonNullable<LinkState['link']['tree']>['scopes']> = [];
  const level = levelOf(s, root);
  // the trusted path comes from metadata.source: name it when the task has no repository variable
  const url = envOf(root.task, `${tree.envPrefix}_HEAD_REPOSITORY`) ?? sourceOf(root.task);
  const where = `repository ${path ?? `${url ?? 'not named'} (not a trusted one)`}${level ? `, level ${level}` : ''}`;
  for (const scope of scopes) {
    let restricted: string | undefined;
    try {
      restricted = restrictedEntry(tree.restrictedScopes, scope);
    } catch (e) {
      if (!(e instanceof CotError)) throw e;
      s.failWith(root, e);
      continue;
    }
    if (restricted === undefined) continue;
    const lvl = tree.restrictedScopes[restricted]!;
    const trees = tree.restrictedTrees[lvl] ?? [];
    const allowed = path !== null && trees.includes(path);
    found.push({ scope, restricted, level: lvl, trees, allowed });
    if (allowed) root.link.checks.push(`tree trace: ${where}, scope ${scope} allowed (${lvl})`);
    else
      s.fail(
        root,
        'TREE_SCOPE_NOT_ALLOWED',
        `${where}: the scope ${scope} needs ${lvl}, which allows only ${trees.join(', ') || 'no repository'}`,
        { scope, level: lvl, trees, repository: path },
      );
  }
  if (found.length === 0) root.link.checks.push(`tree trace: ${where}, no restricted scope`);
  root.link.tree = { ...root.link.tree, scopes: found };
  return found.length > 0;
}

/**
 * Trace the chain back to its tree (the reference's trace_back_to_tree, with get_source_url and
 * verify_repo_matches_url), for a policy with a `tree` section:
 * - every link: `metadata.source` lies in the repository its `<PREFIX>_HEAD_REPOSITORY` names
 *   (TREE_SOURCE_MISMATCH; a link holding that variable and no source too), and its trusted repository path is
 *   found with the policy's trusted repository rules;
 * - every link of one decision task (task group) lies in one repository (TREE_REPOSITORY_MISMATCH); stricter than
 *   the reference, which asks it of the verified task's group only;
 * - each restricted scope of the verified task (exact or `*` prefix, ambiguous ones refused): its repository
 *   must be among the trees of the scope's level (TREE_SCOPE_NOT_ALLOWED); the trace is a check line;
 * - when one is held: every link of another decision task lies in some trusted repository
 *   (TREE_REPOSITORY_UNTRUSTED), and no link is a try push or a pull request (TREE_TRY_RESTRICTED, on that link).
 */
export const checkTreeTrace: ChainCheck = {
  name: 'tree-trace',
  async run(s) {
    const tree = s.policy.tree;
    const root = s.nodes.get(s.root);
    if (tree === undefined || root === undefined || !root.fetched) return;
    const links = [...s.nodes.values()].filter((n) => n.fetched);
    const paths = checkSources(s, tree, links);
    checkGroups(s, paths);
    if (!checkScopes(s, tree, root, paths.get(root) ?? null)) return;
    const rootGroup = groupOf(root);
    for (const n of links) {
      if (groupOf(n) !== rootGroup && paths.get(n) === null)
        s.fail(
          n,
          'TREE_REPOSITORY_UNTRUSTED',
          `the verified task ${s.root} holds a restricted scope, and this task (of another decision task) lies in no trusted repository`,
          { source: sourceOf(n.task) ?? null },
        );
      const why = tryOrPullRequest(n.task, tree);
      if (why !== undefined)
        s.fail(
          n,
          'TREE_TRY_RESTRICTED',
          `the verified task ${s.root} holds a restricted scope, and this task is a try push or a pull request (${why})`,
          { reason: why },
        );
    }
  },
};

/**
 * The kinds that must run on scriptworker (`tree.scriptworkerKinds`; the reference's verify_scriptworker_task for
 * the task types get_valid_task_types maps to it): a link of such a kind, by the chain (its kinds) or by its own
 * `tags.kind`, whose worker type maps to another implementation is refused (TREE_KIND_NOT_SCRIPTWORKER). A link
 * whose worker type maps to no implementation already failed the documents check.
 */
export const checkScriptworkerKinds: ChainCheck = {
  name: 'tree-kinds',
  async run(s) {
    const tree = s.policy.tree;
    if (tree === undefined) return;
    for (const n of s.nodes.values()) {
      const tag = obj(n.task.tags)?.kind;
      const kinds = [...n.link.kinds, ...(typeof tag === 'string' ? [tag] : [])];
      const hit = kinds.find((k) => tree.scriptworkerKinds.includes(k));
      const impl = n.link.implementation;
      if (hit === undefined || impl === undefined) continue;
      if (impl === 'scriptworker') n.link.checks.push(`a ${hit} task, on scriptworker`);
      else
        s.fail(
          n,
          'TREE_KIND_NOT_SCRIPTWORKER',
          `a ${hit} task must run on scriptworker; it ran on ${impl} (${n.link.provisionerId}/${n.link.workerType})`,
          { kind: hit, implementation: impl },
        );
    }
  },
};
