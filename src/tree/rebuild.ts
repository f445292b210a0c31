import { CotError } from '../errors.js';
import { canonicalize } from '../json/canonical.js';
import { describeDifferences, type JsonDifference } from '../json/differences.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../json/parse.js';
import { checkOption, checkOptions } from '../util/options.js';
import { assertTaskId } from '../util/task-id.js';
import { compareWithRendered } from './compare.js';
import {
  CONTEXT_BUILDERS,
  envPrefixOf,
  planRebuild,
  type RebuildPlan,
  type TreeRepository,
} from './context.js';
import { TREE_FILE_MAX_BYTES, type TreeMaterial } from './files.js';
import { type RenderLimits, renderJsonE } from './render.js';

/** What rebuildParentTask is given. */
export interface RebuildParentOptions {
  /** the parent task's definition as the queue has it (a decision, cron or action task) */
  task: JsonObject;
  taskId: string;
  /** its decision task (for an action: the decision task whose `actions.json` it came from); default: itself */
  decisionTask?: JsonObject;
  decisionTaskId?: string;
  /** the tree material (readTreeFolder) */
  tree: TreeMaterial;
  /** the `tasks_for` values accepted (default: every key of CONTEXT_BUILDERS) */
  tasksFor?: readonly string[];
  /**
   * prefix of the repository variables in `payload.env` (`GECKO`, `COMM`, `MOBILE`, `MOZILLAVPN`...); default:
   * told from the decision task's env (envPrefixOf: its one `<PREFIX>_HEAD_REPOSITORY`, or the one holding its
   * `metadata.source`)
   */
  envPrefix?: string;
  /** bounds of each JSON-e render (DEFAULT_RENDER_LIMITS) */
  limits?: RenderLimits;
}

/** The outcome of a rebuild. */
export interface RebuildResult {
  /** the runtime task equals one rendered task (after the comparison rules, tree/compare.ts) */
  matched: boolean;
  taskId: string;
  decisionTaskId: string;
  tasksFor: string;
  repository: TreeRepository;
  /** `repository@revision` of the template, as the decision task names them */
  revision: string | null;
  /** where the template came from (a path or URL) */
  templateSource: string | null;
  /** how many tasks the template rendered */
  renderedTasks: number;
  /** matched: the index of the rendered task that equals it; not matched: the closest one (-1: none rendered) */
  index: number;
  /** not matched: where the closest rendered task (`expected`) and the runtime task (`actual`) differ */
  differences: JsonDifference[];
  truncated: boolean;
  /** what the rebuild accepted but a person should know (a duplicated key in projects.yml, a pushlog of 2 pushes) */
  warnings: string[];
}

const FN = 'rebuildParentTask';

function checkRebuildOptions(o: RebuildParentOptions): void {
  checkOptions(FN, o, {
    task: { kind: 'object' },
    taskId: { kind: 'string' },
    decisionTask: { kind: 'object', optional: true },
    decisionTaskId: { kind: 'string', optional: true },
    tree: { kind: 'object', hint: 'readTreeFolder(dir)' },
    tasksFor: { kind: 'array', optional: true },
    envPrefix: { kind: 'string', optional: true },
    limits: { kind: 'object', optional: true },
  });
  checkOption(FN, 'options.tree.files', o.tree.files, { kind: 'object', hint: 'readTreeFolder(dir)' });
  if ((o.decisionTask === undefined) !== (o.decisionTaskId === undefined))
    throw new CotError(
      'OPTIONS_INVALID',
      `${FN}: options.decisionTask and options.decisionTaskId go together`,
      {
        details: { function: FN, option: 'options.decisionTaskId' },
      },
    );
  assertTaskId(o.taskId);
  if (o.decisionTaskId !== undefined) assertTaskId(o.decisionTaskId);
}

/**
 * After rendering an action (check_and_update_action_task_group_id): the first rendered task's
 * `payload.env.ACTION_TASK_GROUP_ID` must be the action's or its decision task's id (TREE_ACTION_TASK_GROUP_INVALID),
 * and is then set to the runtime value (release promotion uses the action's id, other actions the decision's).
 * Stricter than the reference, which replaces the rebuilt value with the runtime one unchecked (so an action could
 * send the tasks it creates to any task group): the runtime value, when the task has one, must be one of the two
 * as well (the reference's own docstring states this rule).
 */
function settleActionTaskGroupId(plan: RebuildPlan, tasks: JsonValue[], taskId: string): void {
  const first = tasks[0];
  const env = isJsonObject(first) && isJsonObject(first.payload) ? first.payload.env : undefined;
  const rebuilt = isJsonObject(env) ? env.ACTION_TASK_GROUP_ID : undefined;
  const allowed = plan.actionTaskGroupIds ?? [];
  const refuse = (which: string, value: JsonValue | undefined) =>
    new CotError(
      'TREE_ACTION_TASK_GROUP_INVALID',
      `action task ${taskId}: the ${which} ACTION_TASK_GROUP_ID ${JSON.stringify(value ?? null)} is neither the action's id nor its decision task's (${allowed.join(', ')})`,
      { details: { [which]: value ?? null, allowed } },
    );
  if (typeof rebuilt !== 'string' || !allowed.includes(rebuilt)) throw refuse('rebuilt', rebuilt);
  const runtime = plan.runtimeActionTaskGroupId;
  if (runtime !== undefined && !allowed.includes(runtime)) throw refuse('runtime', runtime);
  if (isJsonObject(env) && plan.runtimeActionTaskGroupId !== undefined)
    env.ACTION_TASK_GROUP_ID = plan.runtimeActionTaskGroupId;
}

/**
 * Rebuild a decision, cron or action task from its tree and compare it with its runtime definition: the
 * reference's cotv2+ check (scriptworker `cot/verify.py` verify_parent_task_definition). The context comes from
 * tree/context.ts, the render from tree/render.ts (bounded, in a separate process), the comparison from
 * tree/compare.ts. Pure apart from the render process. Resolves to a RebuildResult (`matched`, else the closest
 * rendered task's differences). Throws OPTIONS_INVALID (bad options, a malformed task id), TREE_TEMPLATE_INVALID
 * (a template over its bound, or one that renders no `tasks` list), TREE_ACTION_TASK_GROUP_INVALID, and what
 * envPrefixOf, planRebuild and renderJsonE throw (TREE_ENV_PREFIX_UNKNOWN, TREE_TASKS_FOR_UNKNOWN, TREE_TASK_INVALID, TREE_FILE_MISSING,
 * TREE_FILE_INVALID, TREE_PROJECT_UNKNOWN, TREE_COMMIT_MESSAGE_INVALID, TREE_ACTION_UNKNOWN,
 * TREE_ACTION_KIND_INVALID, TREE_GITHUB_LOOKUP_FAILED, TREE_RENDER_FAILED, TREE_RENDER_LIMIT).
 */
export async function rebuildParentTask(options: RebuildParentOptions): Promise<RebuildResult> {
  checkRebuildOptions(options);
  const { task, taskId, tree } = options;
  const decisionTask = options.decisionTask ?? task;
  const decisionTaskId = options.decisionTaskId ?? taskId;
  const render = (input: Parameters<typeof renderJsonE>[0]) => renderJsonE(input, options.limits);
  const envPrefix = options.envPrefix ?? envPrefixOf(decisionTask, decisionTaskId);
  const plan = await planRebuild(
    { task, taskId, decisionTask, decisionTaskId, envPrefix },
    tree,
    render,
    options.tasksFor ?? Object.keys(CONTEXT_BUILDERS),
  );
  const templateSource = tree.files.template?.source ?? null;
  const size = canonicalize(plan.template).length;
  if (size > TREE_FILE_MAX_BYTES.template)
    throw new CotError(
      'TREE_TEMPLATE_INVALID',
      `the template${templateSource ? ` ${templateSource}` : ''} is ${size} characters of JSON, over the bound of ${TREE_FILE_MAX_BYTES.template}`,
      { details: { path: templateSource } },
    );
  const rendered = await render({
    template: plan.template,
    context: plan.context,
    slugids: plan.slugids,
    what: templateSource ?? '.taskcluster.yml',
  });
  const tasks = isJsonObject(rendered) ? rendered.tasks : undefined;
  if (!Array.isArray(tasks))
    throw new CotError(
      'TREE_TEMPLATE_INVALID',
      `${templateSource ?? '.taskcluster.yml'} rendered no tasks list for tasks_for ${plan.tasksFor}`,
      { details: { path: templateSource } },
    );
  if (plan.actionTaskGroupIds !== undefined) settleActionTaskGroupId(plan, tasks, taskId);
  const comparison = compareWithRendered(task, taskId, tasks);
  const revision = decisionTask.payload;
  const rev =
    isJsonObject(revision) && isJsonObject(revision.env) ? revision.env[`${envPrefix}_HEAD_REV`] : undefined;
  return {
    matched: comparison.matched,
    taskId,
    decisionTaskId,
    tasksFor: plan.tasksFor,
    repository: plan.repository,
    revision: typeof rev === 'string' ? rev : null,
    templateSource,
    renderedTasks: tasks.length,
    index: comparison.matched ? comparison.index : comparison.closest,
    differences: comparison.matched ? [] : comparison.differences,
    truncated: comparison.matched ? false : comparison.truncated,
    warnings: plan.warnings,
  };
}

/**
 * The refusal of a rebuild that did not match: TREE_TASK_MISMATCH, its message naming the template, the closest
 * rendered task and each differing path with both values (rendered vs runtime), `details` holding the differences.
 */
export function mismatchError(r: RebuildResult): CotError {
  const closest =
    r.index < 0
      ? 'the template rendered no task'
      : `closest rendered task: tasks[${r.index}] of ${r.renderedTasks}; rendered vs runtime: ${describeDifferences(r.differences, r.truncated).join('; ')}`;
  return new CotError(
    'TREE_TASK_MISMATCH',
    `task ${r.taskId} (tasks_for ${r.tasksFor}) matches no task ${r.templateSource ?? '.taskcluster.yml'} renders (${r.repository.url}${r.revision ? `@${r.revision}` : ''}): ${closest}`,
    { details: { taskId: r.taskId, index: r.index, differences: r.differences, truncated: r.truncated } },
  );
}
