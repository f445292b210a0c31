import { SLUGID_PATTERN } from '../document/schema.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../json/parse.js';
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

/** `v` when it is a JSON object (isJsonObject), else undefined: for reading optional nested fields of a task. */
export function obj(v: JsonValue | undefined): JsonObject | undefined {
  return isJsonObject(v) ? v : undefined;
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
interface ParentRef {
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
 * Linear in the size of the definition. What cannot be followed (an entry naming no valid task id, a path that is
 * not a relative artifact name) is never silently dropped: `edgeProblems` lists it.
 */
export function chainEdges(taskId: string, task: JsonObject, o: { followDependencies: boolean }): Edge[] {
  const edges = new Map<string, { e: Edge; paths: Map<string, ConsumedPath> }>();
  const add = (to: unknown, role: string, kind: string, path?: ConsumedPath) => {
    if (typeof to !== 'string' || to === taskId || !SLUG.test(to)) return;
    const key = `${role}\n${to}`;
    let x = edges.get(key);
    if (!x) {
      x = { e: { from: taskId, to, role, kind, paths: [] }, paths: new Map() };
      edges.set(key, x);
    }
    if (path) {
      const same = x.paths.get(path.path);
      // the same path named twice: optional only if every mention says so
      if (same) same.optional &&= path.optional;
      else {
        x.paths.set(path.path, path);
        x.e.paths.push(path);
      }
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
        if (typeof p === 'string' && pathProblem(p) === undefined)
          add(uo.taskId, role, taskType, { path: p, optional: uo.optional === true, glob: isGlob(p) });
      }
    }
  }
  if (o.followDependencies && Array.isArray(task.dependencies))
    for (const d of task.dependencies) add(d, 'dependency', 'dependency');
  return [...edges.values()].map((x) => x.e);
}

/** Why a consumed path is not an artifact name a consumer could download (absolute, `..`, empty...). */
function pathProblem(p: string): string | undefined {
  if (p === '' || p.startsWith('/') || /^[A-Za-z]:/.test(p)) return 'is empty or absolute';
  if (p.includes('\\') || p.includes('\u0000')) return 'contains a backslash or NUL';
  if (p.split('/').some((seg) => seg === '..' || seg === '.' || seg === ''))
    return 'has a "..", "." or empty segment';
  return undefined;
}

/**
 * What a task asks the chain to follow but names in a way that cannot be followed: an `upstreamArtifacts` entry
 * that is not an object, names no valid task id (an unresolved `{"task-reference": ...}` included) or holds paths
 * that are not relative artifact names (scriptworker `verify_task` refuses absolute and `..` paths), or an
 * `extra.chainOfTrust.inputs` value that is not a task id. The reference fails on these (`queue.task` of a bad id
 * raises); cot reports each (CHAIN_UPSTREAM_INVALID) instead of dropping it.
 */
export function edgeProblems(task: JsonObject): string[] {
  const out: string[] = [];
  const show = (v: unknown) => JSON.stringify(v ?? null).slice(0, 80);
  for (const [name, id] of Object.entries(obj(obj(obj(task.extra)?.chainOfTrust)?.inputs) ?? {}))
    if (typeof id !== 'string' || !SLUG.test(id))
      out.push(`extra.chainOfTrust.inputs.${name} is ${show(id)}, not a task id`);
  const ups = obj(task.payload)?.upstreamArtifacts;
  if (ups !== undefined && !Array.isArray(ups)) out.push('payload.upstreamArtifacts is not a list');
  if (Array.isArray(ups)) {
    ups.forEach((u, i) => {
      const at = `payload.upstreamArtifacts[${i}]`;
      const uo = obj(u);
      if (!uo) {
        out.push(`${at} is not an object`);
        return;
      }
      if (typeof uo.taskId !== 'string' || !SLUG.test(uo.taskId))
        out.push(`${at}.taskId is ${show(uo.taskId)}, not a task id`);
      if (uo.paths !== undefined && !Array.isArray(uo.paths)) out.push(`${at}.paths is not a list`);
      for (const [j, p] of (Array.isArray(uo.paths) ? uo.paths : []).entries()) {
        if (typeof p !== 'string') out.push(`${at}.paths[${j}] is ${show(p)}, not a string`);
        else {
          const why = pathProblem(p);
          if (why) out.push(`${at}.paths[${j}] ${JSON.stringify(p)} ${why}`);
        }
      }
    });
  }
  return out;
}
