import { SLUGID_PATTERN } from '../document/schema.js';
import type { JsonObject, JsonValue } from '../json/parse.js';
import { isGlob } from './glob.js';

/** One artifact a task consumes over an edge: a name, or a glob pattern matched against the producer's listing. */
export interface ConsumedPath {
  path: string;
  optional: boolean;
  /** the path holds `*` (the reference's test): it is an fnmatch pattern, not a name */
  glob: boolean;
}

/** One dependency of a task for its chain of trust, with the artifacts it consumes over it. */
export interface Edge {
  from: string;
  to: string;
  /** parent, input:<name>, upstream:<taskType>, dependency */
  role: string;
  /**
   * The kind of task the edge makes of its target, as the reference verifier names task types
   * (scriptworker `guess_task_type`): `parent` (decision or action, decided by the target's definition), the
   * input's name (`docker-image`), the consumer's `upstreamArtifacts[].taskType`, or `dependency`.
   */
  kind: string;
  paths: ConsumedPath[];
}

export function obj(v: JsonValue | undefined): JsonObject | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

const SLUG = new RegExp(SLUGID_PATTERN);

/**
 * An action task (scriptworker `is_action`): `payload.env.ACTION_CALLBACK` is set, or `extra.action` is present.
 * Decision and action tasks are both "parent" tasks; only their definitions tell them apart.
 */
export function isAction(task: JsonObject): boolean {
  const env = obj(obj(task.payload)?.env);
  const cb = env?.ACTION_CALLBACK;
  return (cb !== undefined && cb !== null && cb !== '' && cb !== false) || obj(task.extra)?.action != null;
}

/** The task that created a task: `extra.parent`, else its `taskGroupId` (scriptworker `get_parent_task_id`). */
export interface ParentRef {
  /** the parent's task id, when the definition names a valid one */
  id?: string;
  /** the task names itself as its parent (a decision task is its own task group) */
  self: boolean;
  /** why the definition names no usable parent */
  problem?: string;
}

export function parentOf(taskId: string, task: JsonObject): ParentRef {
  const extra = obj(task.extra);
  const declared = extra && Object.hasOwn(extra, 'parent') ? extra.parent : undefined;
  const source = declared !== undefined ? 'extra.parent' : 'taskGroupId';
  const id = declared !== undefined ? declared : task.taskGroupId;
  if (typeof id !== 'string' || !SLUG.test(id))
    return { self: false, problem: `${source} is ${JSON.stringify(id ?? null)}, not a task id` };
  return { id, self: id === taskId };
}

/**
 * Edges from a task to what it relies on: its parent (unless it is its own parent), `extra.chainOfTrust.inputs`, a
 * `task-image` docker image, `payload.upstreamArtifacts` (with the paths consumed, which may be glob patterns), and
 * `dependencies` when asked. The one definition of what a chain follows, for `cot verify` and `cot fetch` alike.
 */
export function chainEdges(taskId: string, task: JsonObject, o: { followDependencies: boolean }): Edge[] {
  const edges: Edge[] = [];
  const add = (to: unknown, role: string, kind: string, path?: ConsumedPath) => {
    if (typeof to !== 'string' || to === taskId || !SLUG.test(to)) return;
    let e = edges.find((x) => x.to === to && x.role === role);
    if (!e) {
      e = { from: taskId, to, role, kind, paths: [] };
      edges.push(e);
    }
    if (path) {
      const same = e.paths.find((p) => p.path === path.path);
      // the same path named twice: optional only if every mention says so
      if (same) same.optional &&= path.optional;
      else e.paths.push(path);
    }
  };
  const parent = parentOf(taskId, task);
  if (parent.id && !parent.self) add(parent.id, 'parent', 'parent');
  const extra = obj(task.extra);
  for (const [name, id] of Object.entries(obj(obj(extra?.chainOfTrust)?.inputs) ?? {}))
    add(id, `input:${name}`, name);
  const image = obj(obj(task.payload)?.image);
  if (image?.type === 'task-image') add(image.taskId, 'input:docker-image', 'docker-image');
  const ups = obj(task.payload)?.upstreamArtifacts;
  if (Array.isArray(ups)) {
    for (const u of ups) {
      const uo = obj(u);
      if (!uo) continue;
      const taskType = typeof uo.taskType === 'string' ? uo.taskType : 'artifacts';
      const role = `upstream:${taskType}`;
      const paths = Array.isArray(uo.paths) ? uo.paths : [];
      if (paths.length === 0) add(uo.taskId, role, taskType); // a declared upstream task is a link even with no paths
      for (const p of paths) {
        if (typeof p === 'string')
          add(uo.taskId, role, taskType, { path: p, optional: uo.optional === true, glob: isGlob(p) });
      }
    }
  }
  if (o.followDependencies && Array.isArray(task.dependencies))
    for (const d of task.dependencies) add(d, 'dependency', 'dependency');
  return edges;
}
