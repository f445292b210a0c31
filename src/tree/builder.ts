import { CotError } from '../errors.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../json/parse.js';
import type { TreeMaterial } from './files.js';
import type { RenderInput } from './render.js';

/**
 * What every context builder of tree/context.ts and tree/github.ts shares: the parent task, the plan it returns,
 * and the small readers of task fields. The rules each builder implements are the reference's (scriptworker
 * `cot/verify.py`, `task.py`: get_repo, get_revision, get_branch, get_push_date_time...).
 */

/** The parent task to rebuild and its decision task (the parent itself for a decision or cron task). */
export interface ParentTasks {
  task: JsonObject;
  taskId: string;
  decisionTask: JsonObject;
  decisionTaskId: string;
  /** the prefix of the repository variables in `payload.env` (`GECKO` for Firefox: GECKO_HEAD_REPOSITORY) */
  envPrefix: string;
}

/** The repository the decision task was made for. */
export interface TreeRepository {
  /** `<PREFIX>_HEAD_REPOSITORY` of the decision task, without a trailing `/` (GitHub: as the reference writes it) */
  url: string;
  /** hg: the last segment of its path (`/projects/maple` -> `maple`); GitHub: the repository's name */
  project: string;
  /**
   * the level `projects.yml` gives the project (`access: scm_level_3` -> `"3"`); null where the rebuild does not
   * read projects.yml (GitHub push, pull request, release and action contexts, as the reference)
   */
  level: string | null;
}

/** What to render and how the result is adjusted before the comparison. */
export interface RebuildPlan {
  tasksFor: string;
  /** the template to render: the in-tree `.taskcluster.yml`, wrapped in the hook's `$let` for an action */
  template: JsonValue;
  /** the JSON-e context, without `as_slugid` (given by `slugids`) */
  context: JsonObject;
  /** `as_slugid(name)`: `decision` is the decision task's id, any other name the parent's */
  slugids: { default: string; decision: string };
  repository: TreeRepository;
  /** for an action: the ids the rebuilt ACTION_TASK_GROUP_ID may be (the action's, its decision's) */
  actionTaskGroupIds?: string[];
  /** for an action: the runtime ACTION_TASK_GROUP_ID, which replaces the rebuilt one once that one is checked */
  runtimeActionTaskGroupId?: string;
  warnings: string[];
}

/** A render, as the rebuild does it (renderJsonE with the caller's limits). */
export type Render = (input: RenderInput) => Promise<JsonValue>;

interface BuilderInput {
  parent: ParentTasks;
  tree: TreeMaterial;
  /** `now`, `tasks_for`, `ownTaskId`, `taskId` (populate_jsone_context) */
  base: JsonObject;
  render: Render;
  warnings: string[];
}

export type BuilderOutput = Pick<RebuildPlan, 'template' | 'context' | 'repository'> &
  Partial<Pick<RebuildPlan, 'actionTaskGroupIds' | 'runtimeActionTaskGroupId'>>;

export type ContextBuilder = (input: BuilderInput) => Promise<BuilderOutput>;

export function taskInvalid(message: string, field: string): CotError {
  return new CotError('TREE_TASK_INVALID', message, { details: { field } });
}

/** A member of a JSON object by a dotted path, or undefined. */
export function at(v: JsonValue | undefined, path: string): JsonValue | undefined {
  let cur = v;
  for (const k of path.split('.')) {
    if (!isJsonObject(cur) || !Object.hasOwn(cur, k)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** A string field of a task the rebuild needs; TREE_TASK_INVALID when absent or not a string. */
export function needString(task: JsonObject, path: string, who: string): string {
  const v = at(task, path);
  if (typeof v !== 'string')
    throw taskInvalid(
      `${who} has no ${path}${v === undefined ? '' : ` string (it is ${JSON.stringify(v).slice(0, 80)})`}: the rebuild needs it`,
      path,
    );
  return v;
}

/**
 * `payload.env.<PREFIX>_<name>` of the decision task (task.py _extract_from_env_in_payload): its value, or null
 * when absent. With `fallback`, the value of `<PREFIX>_<fallback>` when `<name>` is absent (get_branch: HEAD_BRANCH,
 * else HEAD_REF).
 */
export function decisionEnv(parent: ParentTasks, name: string, fallback?: string): JsonValue {
  const env = at(parent.decisionTask, 'payload.env');
  const key = `${parent.envPrefix}_${name}`;
  if (isJsonObject(env) && Object.hasOwn(env, key)) return env[key]!;
  return fallback === undefined ? null : decisionEnv(parent, fallback);
}

/** `payload.env.<PREFIX>_<name>` of the decision task as a string the rebuild needs (TREE_TASK_INVALID). */
export function needDecisionEnv(parent: ParentTasks, name: string): string {
  return needString(
    parent.decisionTask,
    `payload.env.${parent.envPrefix}_${name}`,
    `decision task ${parent.decisionTaskId}`,
  );
}
