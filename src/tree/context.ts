import { CotError } from '../errors.js';
import { isJsonObject, type JsonObject, type JsonValue, parseJson } from '../json/parse.js';
import {
  at,
  type ContextBuilder,
  needString,
  type ParentTasks,
  type RebuildPlan,
  type Render,
  type TreeRepository,
  taskInvalid,
} from './builder.js';
import { needTreeFile, type TreeMaterial, treeObject } from './files.js';
import { GITHUB_BUILDERS, githubRepository, isGithubUrl } from './github.js';

export type { RebuildPlan, TreeRepository } from './builder.js';

/**
 * The JSON-e context (and template) a parent task was rendered with, rebuilt from the tree, for each `tasks_for`.
 * The rules are the reference's (scriptworker `cot/verify.py`: populate_jsone_context, get_scm_level,
 * get_pushlog_info, _get_additional_hg_push_jsone_context, _get_additional_hg_cron_jsone_context,
 * get_action_context_and_template, _get_action_from_actions_json, _get_action_perm, _wrap_action_hook_with_let,
 * _render_action_hook_payload, _get_additional_git_action_jsone_context), as the shared vectors' README states
 * them; the GitHub contexts are in tree/github.ts. One entry per `tasks_for` in CONTEXT_BUILDERS, which picks the
 * hg or the GitHub builder by the decision task's repository (the reference picks by the product's
 * `cot_product_type`; the repository's host says the same thing for one task).
 */

/** `tasks_for` of the parent task (`extra.tasks_for`): TREE_TASKS_FOR_UNKNOWN unless one of `allowed`. */
function tasksForOf(task: JsonObject, taskId: string, allowed: readonly string[]): string {
  const v = at(task, 'extra.tasks_for');
  if (typeof v !== 'string' || !allowed.includes(v))
    throw new CotError(
      'TREE_TASKS_FOR_UNKNOWN',
      `task ${taskId}: extra.tasks_for ${v === undefined ? 'is missing' : JSON.stringify(v)}${v === undefined ? '' : ' is not one cot can rebuild'} (known: ${allowed.join(', ')})`,
      { details: { tasksFor: v ?? null, allowed: [...allowed] } },
    );
  return v;
}

/**
 * The decision task's repository (TreeRepository), its project found in `projects.yml` (get_scm_level): `hg`
 * projects take their level from `access` (`scm_level_` removed), `git` ones from their default branch's `level`.
 * Stricter than the reference: the project's `repo`, when given, must be this repository. Throws TREE_TASK_INVALID
 * (no `<PREFIX>_HEAD_REPOSITORY`, not an https URL), TREE_FILE_MISSING (no projects.yml), TREE_PROJECT_UNKNOWN.
 */
function treeRepository(parent: ParentTasks, tree: TreeMaterial): TreeRepository {
  const field = `payload.env.${parent.envPrefix}_HEAD_REPOSITORY`;
  const raw = needString(parent.decisionTask, field, `decision task ${parent.decisionTaskId}`);
  const url = raw.replace(/\/+$/, '');
  let path: string;
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:') throw new Error('not https');
    path = u.pathname;
  } catch {
    throw taskInvalid(
      `decision task ${parent.decisionTaskId}: ${field} ${JSON.stringify(raw)} is not an https URL`,
      field,
    );
  }
  const project = path.split('/').filter(Boolean).at(-1) ?? '';
  const projects = needTreeFile(tree, 'projects', `the repository level of ${url}`);
  const entry = treeObject(projects)[project];
  const unknown = (why: string) =>
    new CotError('TREE_PROJECT_UNKNOWN', `${url}: ${why} (${projects.source})`, {
      details: { repository: url, project, path: projects.source },
    });
  if (!isJsonObject(entry)) throw unknown(`project ${JSON.stringify(project)} is not in projects.yml`);
  if (typeof entry.repo === 'string' && entry.repo.replace(/\/+$/, '') !== url)
    throw unknown(`project ${project} of projects.yml is the repository ${entry.repo}, not this one`);
  return { url, project, level: projectLevel(entry, project, unknown) };
}

function projectLevel(entry: JsonObject, project: string, unknown: (why: string) => CotError): string {
  if (entry.repo_type === 'hg' && typeof entry.access === 'string')
    return entry.access.replace('scm_level_', '');
  if (entry.repo_type === 'git' && Array.isArray(entry.branches)) {
    const main = typeof entry.default_branch === 'string' ? entry.default_branch : 'main';
    const branch = entry.branches.find((b) => isJsonObject(b) && b.name === main);
    if (isJsonObject(branch) && (typeof branch.level === 'number' || typeof branch.level === 'string'))
      return String(branch.level);
  }
  throw unknown(`project ${project} of projects.yml gives no level (repo_type with access, or branches)`);
}

/** The push the decision task was made for, from `pushlog.json` (get_pushlog_info, _get_additional_hgpush_info). */
interface PushInfo {
  pushlogId: string;
  comment: string;
  date: JsonValue;
  user: JsonValue;
  baseRevision: JsonValue;
}

/**
 * Read the push from `pushlog.json` (hg `json-pushes?changeset=REV&version=2&tipsonly=1`): the first key of
 * `pushes` is the push id; the comment is its last changeset's `desc`, the base revision the first parent of its
 * first changeset. More or fewer than one push is a warning, as the reference says. Stricter: the push must list
 * `revision` among its changesets (else it is the answer for another push). Throws TREE_FILE_MISSING and
 * TREE_FILE_INVALID.
 */
function pushInfo(tree: TreeMaterial, revision: string, warnings: string[]): PushInfo {
  const f = needTreeFile(tree, 'pushlog', 'the push context');
  const invalid = (why: string) =>
    new CotError('TREE_FILE_INVALID', `${f.source}: ${why}`, { details: { path: f.source } });
  const pushes = treeObject(f).pushes;
  if (!isJsonObject(pushes) || Object.keys(pushes).length === 0) throw invalid('no pushes');
  const ids = Object.keys(pushes);
  if (ids.length !== 1)
    warnings.push(`${f.source}: ${ids.length} pushes where one was expected; the first is used`);
  const pushlogId = ids[0]!;
  const push = pushes[pushlogId];
  const changesets = at(push, 'changesets');
  if (!Array.isArray(changesets) || changesets.length === 0 || !changesets.every(isJsonObject))
    throw invalid(`push ${pushlogId} has no changesets`);
  if (!changesets.some((c) => c.node === revision))
    throw invalid(`push ${pushlogId} does not hold revision ${revision} (the pushlog of another push?)`);
  const tip = changesets.at(-1)!;
  const parents = changesets[0]!.parents;
  if (typeof tip.desc !== 'string') throw invalid(`push ${pushlogId}: its last changeset has no desc`);
  if (!Array.isArray(parents) || parents.length === 0)
    throw invalid(`push ${pushlogId}: its first changeset has no parents`);
  return {
    pushlogId,
    comment: tip.desc,
    date: at(push, 'date') ?? null,
    user: at(push, 'user') ?? null,
    baseRevision: parents[0]!,
  };
}

/**
 * The commit message the decision task may carry (GECKO_COMMIT_MSG, default " "): `" "`, or the `try:` line of
 * the push comment (from `try:` to the end of that line), the rule of taskgraph's try_option_syntax the reference
 * applies. Anything else: TREE_COMMIT_MESSAGE_INVALID.
 */
function checkCommitMessage(decisionTask: JsonObject, decisionTaskId: string, pushComment: string): string {
  const v = at(decisionTask, 'payload.env.GECKO_COMMIT_MSG');
  const message = v === undefined ? ' ' : v;
  const allowed = [' '];
  const i = pushComment.indexOf('try:');
  if (i >= 0) allowed.push(pushComment.slice(i).split('\n')[0]!);
  if (typeof message !== 'string' || !allowed.includes(message))
    throw new CotError(
      'TREE_COMMIT_MESSAGE_INVALID',
      `decision task ${decisionTaskId}: GECKO_COMMIT_MSG ${JSON.stringify(message)} is neither " " nor the try: line of the push comment ${JSON.stringify(pushComment)}`,
      { details: { message, pushComment, allowed } },
    );
  return message;
}

const hgPush: ContextBuilder = async ({ parent, tree, base, warnings }) => {
  const repository = treeRepository(parent, tree);
  const revision = needString(
    parent.decisionTask,
    `payload.env.${parent.envPrefix}_HEAD_REV`,
    'the decision task',
  );
  const push = pushInfo(tree, revision, warnings);
  const comment = checkCommitMessage(parent.decisionTask, parent.decisionTaskId, push.comment);
  const context: JsonObject = {
    ...base,
    repository: { ...repository, type: 'hg' },
    push: {
      base_revision: push.baseRevision,
      revision,
      comment,
      owner: push.user,
      pushlog_id: push.pushlogId,
      pushdate: push.date,
    },
  };
  return { template: needTreeFile(tree, 'template', 'the rebuild').value, context, repository };
};

const hgCron: ContextBuilder = async ({ parent, tree, base, warnings }) => {
  const repository = treeRepository(parent, tree);
  const revision = needString(
    parent.decisionTask,
    `payload.env.${parent.envPrefix}_HEAD_REV`,
    'the decision task',
  );
  const raw = needString(parent.task, 'extra.cron', `cron task ${parent.taskId}`);
  let cron: JsonValue;
  try {
    cron = parseJson(raw, { source: 'extra.cron' });
  } catch (e) {
    throw taskInvalid(
      `cron task ${parent.taskId}: extra.cron is not JSON: ${(e as Error).message}`,
      'extra.cron',
    );
  }
  const push = pushInfo(tree, revision, warnings);
  const context: JsonObject = {
    ...base,
    repository: { ...repository, type: 'hg' },
    cron,
    push: {
      base_revision: push.baseRevision,
      revision,
      comment: '',
      owner: 'cron',
      pushlog_id: push.pushlogId,
      pushdate: push.date,
    },
  };
  return { template: needTreeFile(tree, 'template', 'the rebuild').value, context, repository };
};

/**
 * The hook action of `actions.json` whose `hookPayload.decision.action.cb_name` is `callback`
 * (_get_action_from_actions_json). Throws TREE_FILE_INVALID (no `actions` list), TREE_ACTION_UNKNOWN,
 * TREE_ACTION_KIND_INVALID (the one found is not `kind: hook`).
 */
function findHookAction(tree: TreeMaterial, callback: string): JsonObject {
  const f = needTreeFile(tree, 'actions', 'an action task');
  const actions = treeObject(f).actions;
  if (!Array.isArray(actions))
    throw new CotError('TREE_FILE_INVALID', `${f.source}: no actions list`, { details: { path: f.source } });
  const action = actions.find((a) => at(a, 'hookPayload.decision.action.cb_name') === callback);
  if (!isJsonObject(action))
    throw new CotError(
      'TREE_ACTION_UNKNOWN',
      `no action of ${f.source} has the callback ${JSON.stringify(callback)}`,
      {
        details: { callback, path: f.source },
      },
    );
  if (action.kind !== 'hook')
    throw new CotError(
      'TREE_ACTION_KIND_INVALID',
      `action ${JSON.stringify(action.name ?? '<missing>')} of ${f.source} (callback ${callback}) is of kind ${JSON.stringify(action.kind ?? '<missing>')}, not hook`,
      { details: { callback, kind: action.kind ?? null, path: f.source } },
    );
  return action;
}

/**
 * The permission of a hook action (_get_action_perm): `extra.actionPerm`, else `actionPerm`, else `generic` when
 * its `hookId` holds `generic/` (or it has none), else its callback name.
 */
function actionPermission(action: JsonObject): string {
  const perm = at(action, 'extra.actionPerm') ?? action.actionPerm;
  if (perm !== undefined && perm !== null) return String(perm);
  const hookId = typeof action.hookId === 'string' ? action.hookId : 'generic/';
  if (hookId.includes('generic/')) return 'generic';
  return String(at(action, 'hookPayload.decision.action.cb_name'));
}

/**
 * The in-tree template as the hook holds it (_wrap_action_hook_with_let, after ci-admin's in_tree_actions): a
 * `$let` giving `.taskcluster.yml` its context from the hook's payload, with `repo_scope`
 * `assume:repo:<repository url without https://>:<tasks_for>:<permission>`.
 */
function wrapActionTemplate(template: JsonValue, permission: string, tasksFor: string): JsonObject {
  const field = (name: string) => `\${payload.decision.action.${name}}`;
  return {
    $let: {
      tasks_for: tasksFor,
      action: {
        name: field('name'),
        title: field('title'),
        description: field('description'),
        taskGroupId: field('taskGroupId'),
        symbol: field('symbol'),
        repo_scope: `assume:repo:\${payload.decision.repository.url[8:]}:${tasksFor}:${permission}`,
        action_perm: permission,
        cb_name: field('cb_name'),
      },
      push: { $eval: 'payload.decision.push' },
      repository: { $eval: 'payload.decision.repository' },
      input: { $eval: 'payload.user.input' },
      parameters: { $eval: "payload.decision['parameters']" },
      taskId: { $eval: 'payload.user.taskId' },
      taskGroupId: { $eval: 'payload.user.taskGroupId' },
      ownTaskId: { $eval: 'taskId' },
    },
    in: template,
  };
}

/**
 * An action (get_action_context_and_template), for `action` and `pr-action`: the hook action of `actions.json`
 * its callback names, its payload rendered with the action task's `extra.action.context` (`input`, `taskId`), the
 * action task's `taskGroupId` and the decision's parameters (hg: the decision task's `parameters.yml`; GitHub:
 * `parameters` of the action context, as _get_additional_git_action_jsone_context copies it), and the in-tree
 * template wrapped in the hook's `$let`. The rebuilt ACTION_TASK_GROUP_ID is checked after the render (rebuild.ts).
 */
function actionBuilder(kind: 'hg' | 'git'): ContextBuilder {
  return async ({ parent, tree, base, render }) => {
    const callback = needString(parent.task, 'payload.env.ACTION_CALLBACK', `action task ${parent.taskId}`);
    const action = findHookAction(tree, callback);
    const actionContext = at(parent.task, 'extra.action.context');
    if (
      !isJsonObject(actionContext) ||
      !Object.hasOwn(actionContext, 'input') ||
      !Object.hasOwn(actionContext, 'taskId')
    )
      throw taskInvalid(
        `action task ${parent.taskId}: extra.action.context with input and taskId is missing`,
        'extra.action.context',
      );
    const taskGroupId = needString(parent.task, 'taskGroupId', `action task ${parent.taskId}`);
    const repository = kind === 'hg' ? treeRepository(parent, tree) : gitRepositoryOf(parent);
    const parameters =
      kind === 'hg'
        ? needTreeFile(tree, 'parameters', 'an action task').value
        : (actionContext.parameters ?? null);
    const payload = await render({
      template: action.hookPayload ?? null,
      context: { input: actionContext.input!, parameters, taskGroupId, taskId: actionContext.taskId! },
      what: `the hook payload of action ${callback}`,
    });
    const template = wrapActionTemplate(
      needTreeFile(tree, 'template', 'the rebuild').value,
      actionPermission(action),
      String(base.tasks_for),
    );
    const runtime = at(parent.task, 'payload.env.ACTION_TASK_GROUP_ID');
    return {
      template,
      context: { payload, taskId: parent.taskId, now: base.now!, clientId: null },
      repository,
      actionTaskGroupIds: [parent.taskId, parent.decisionTaskId],
      ...(typeof runtime === 'string' ? { runtimeActionTaskGroupId: runtime } : {}),
    };
  };
}

/** The GitHub repository of the decision task, as TreeRepository (no level: the reference reads none here). */
function gitRepositoryOf(parent: ParentTasks): TreeRepository {
  const field = `payload.env.${parent.envPrefix}_HEAD_REPOSITORY`;
  const repo = githubRepository(
    needString(parent.decisionTask, field, `decision task ${parent.decisionTaskId}`),
    field,
  );
  return { url: repo.url, project: repo.name, level: null };
}

/** Whether the decision task's repository is on GitHub (`<PREFIX>_HEAD_REPOSITORY`; TREE_TASK_INVALID when absent). */
function onGithub(parent: ParentTasks): boolean {
  const field = `payload.env.${parent.envPrefix}_HEAD_REPOSITORY`;
  return isGithubUrl(needString(parent.decisionTask, field, `decision task ${parent.decisionTaskId}`));
}

/**
 * The builder of one `tasks_for` by the decision task's repository: `hg` for any other host than github.com.
 * A `tasks_for` that kind of repository does not have (a `github-push` of an hg repository, an `hg-push` on
 * GitHub, a `pr-action` of an hg repository, which the reference refuses too) is TREE_TASKS_FOR_UNKNOWN.
 */
function byRepository(
  tasksFor: string,
  builders: { hg?: ContextBuilder; git?: ContextBuilder },
): ContextBuilder {
  return async (input) => {
    const git = onGithub(input.parent);
    const builder = git ? builders.git : builders.hg;
    if (builder === undefined)
      throw new CotError(
        'TREE_TASKS_FOR_UNKNOWN',
        `task ${input.parent.taskId}: tasks_for ${JSON.stringify(tasksFor)} is not one ${git ? 'a GitHub' : 'an hg'} repository has`,
        { details: { tasksFor, repositoryKind: git ? 'git' : 'hg' } },
      );
    return builder(input);
  };
}

/** The context builder of each `tasks_for` cot rebuilds, hg (Firefox, Thunderbird) or GitHub (mobile, VPN...). */
export const CONTEXT_BUILDERS: Readonly<Record<string, ContextBuilder>> = {
  'hg-push': byRepository('hg-push', { hg: hgPush }),
  cron: byRepository('cron', { hg: hgCron, git: GITHUB_BUILDERS.cron! }),
  action: byRepository('action', { hg: actionBuilder('hg'), git: actionBuilder('git') }),
  'pr-action': byRepository('pr-action', { git: actionBuilder('git') }),
  'github-push': byRepository('github-push', { git: GITHUB_BUILDERS['github-push']! }),
  'github-pull-request': byRepository('github-pull-request', {
    git: GITHUB_BUILDERS['github-pull-request']!,
  }),
  'github-pull-request-untrusted': byRepository('github-pull-request-untrusted', {
    git: GITHUB_BUILDERS['github-pull-request-untrusted']!,
  }),
  'github-release': byRepository('github-release', { git: GITHUB_BUILDERS['github-release']! }),
};

/** The repository URL of an env value or `metadata.source`, as host and path segments (`.git` and `/` dropped). */
function repositoryPlace(url: string): { host: string; segments: string[] } | null {
  try {
    const u = new URL(url.replace(/^git@github\.com:/, 'ssh://github.com/'));
    const segments = u.pathname.split('/').filter(Boolean);
    if (segments.length > 0) segments[segments.length - 1] = segments.at(-1)!.replace(/\.git$/, '');
    return { host: u.hostname, segments };
  } catch {
    return null;
  }
}

/**
 * The prefix of the repository variables of a decision task's `payload.env` (`GECKO` of GECKO_HEAD_REPOSITORY),
 * when the caller gives none: the one `<PREFIX>_HEAD_REPOSITORY` key, or, when there are several (a taskgraph
 * checkout beside the product's: TASKGRAPH_HEAD_REPOSITORY), the one whose repository holds the decision task's
 * `metadata.source` (same host, its path a prefix on whole segments: get_source_url's rule). Throws
 * TREE_ENV_PREFIX_UNKNOWN naming the candidates when none or several remain.
 */
export function envPrefixOf(decisionTask: JsonObject, decisionTaskId: string): string {
  const env = at(decisionTask, 'payload.env');
  const candidates = isJsonObject(env)
    ? Object.keys(env)
        .map((k) => /^([A-Z][A-Z0-9_]*)_HEAD_REPOSITORY$/.exec(k)?.[1])
        .filter((p): p is string => p !== undefined && typeof env[`${p}_HEAD_REPOSITORY`] === 'string')
    : [];
  if (candidates.length === 1) return candidates[0]!;
  const source = at(decisionTask, 'metadata.source');
  const place = typeof source === 'string' ? repositoryPlace(source) : null;
  const holding = candidates.filter((p) => {
    const repo = repositoryPlace((env as JsonObject)[`${p}_HEAD_REPOSITORY`] as string);
    return (
      repo !== null &&
      place !== null &&
      repo.host === place.host &&
      repo.segments.every((s, i) => place.segments[i] === s)
    );
  });
  if (holding.length === 1) return holding[0]!;
  throw new CotError(
    'TREE_ENV_PREFIX_UNKNOWN',
    `decision task ${decisionTaskId}: ${candidates.length === 0 ? 'no <PREFIX>_HEAD_REPOSITORY in payload.env' : `the repository variables' prefix is ambiguous (${candidates.join(', ')}; ${holding.length === 0 ? 'none' : holding.join(', ')} holding metadata.source ${JSON.stringify(source ?? null)})`}: give the prefix`,
    { details: { candidates, source: source ?? null } },
  );
}

/**
 * The plan to rebuild `parent`: its `tasks_for` (one of `allowed`, default every key of CONTEXT_BUILDERS), the
 * repository, and the template and context of its builder. The base context (populate_jsone_context): `now` the
 * parent's `created`, `tasks_for`, `ownTaskId` the parent's id, `taskId` null; hg contexts add `repository`.
 * Throws TREE_TASKS_FOR_UNKNOWN, TREE_TASK_INVALID, TREE_FILE_MISSING, TREE_FILE_INVALID, TREE_PROJECT_UNKNOWN,
 * and what each builder throws (TREE_COMMIT_MESSAGE_INVALID, TREE_ACTION_UNKNOWN, TREE_ACTION_KIND_INVALID,
 * TREE_GITHUB_LOOKUP_FAILED, TREE_RENDER_FAILED, TREE_RENDER_LIMIT, and the tree's fetch errors online).
 */
export async function planRebuild(
  parent: ParentTasks,
  tree: TreeMaterial,
  render: Render,
  allowed: readonly string[] = Object.keys(CONTEXT_BUILDERS),
): Promise<RebuildPlan> {
  const tasksFor = tasksForOf(
    parent.task,
    parent.taskId,
    allowed.filter((t) => Object.hasOwn(CONTEXT_BUILDERS, t)),
  );
  const now = needString(parent.task, 'created', `task ${parent.taskId}`);
  const base: JsonObject = { now, tasks_for: tasksFor, ownTaskId: parent.taskId, taskId: null };
  const warnings = [...tree.warnings];
  const built = await CONTEXT_BUILDERS[tasksFor]!({ parent, tree, base, render, warnings });
  return {
    tasksFor,
    slugids: { default: parent.taskId, decision: parent.decisionTaskId },
    warnings,
    ...built,
  };
}
