import type { JsonObject, JsonValue } from '../json/parse.js';

/**
 * Task graphs shaped exactly as taskgraph writes them and tasks shaped exactly as the queue then serves them, for
 * the demo and for tests of real-world shapes. Sources: taskgraph `transforms/task.py` (what a graph entry's task
 * holds: relative datestamps, `extra.parent`, tags, priority; no taskGroupId, schedulerId or projectId),
 * `taskgraph.py`/`task.py` `to_json` (the entry around it), `decision.py` (task-graph.json is written before the
 * tasks are created), `create.py` `create_tasks`/`create_task` (adds taskGroupId, schedulerId, the decision task to
 * `dependencies` when no in-graph dependency, resolves relative datestamps at creation), and the queue's `createTask`
 * (taskQueueId, projectId "none", the create-task-request defaults, dates normalised with `toJSON`).
 */

export interface GraphTaskInput {
  label: string;
  kind: string;
  provisionerId: string;
  workerType: string;
  payload: JsonObject;
  /** in-graph dependencies: label -> taskId */
  dependencies?: Record<string, string>;
  scopes?: string[];
  routes?: string[];
  extra?: JsonObject;
  priority?: string;
  /** taskgraph's expires-after / deadline-after */
  expiresAfter?: string;
  deadlineAfter?: string;
  source?: string;
}

/** One task-graph.json entry (taskgraph `Task.to_json`), keyed by its taskId in the file. */
export function graphEntry(taskId: string, decisionTaskId: string, t: GraphTaskInput): JsonObject {
  const deps = t.dependencies ?? {};
  return {
    kind: t.kind,
    label: t.label,
    description: `${t.label} (cot demo)`,
    attributes: { kind: t.kind },
    dependencies: deps,
    soft_dependencies: [],
    if_dependencies: [],
    optimization: null,
    task: {
      provisionerId: t.provisionerId,
      workerType: t.workerType,
      routes: t.routes ?? [],
      created: { 'relative-datestamp': '0 seconds' },
      deadline: { 'relative-datestamp': t.deadlineAfter ?? '1 day' },
      expires: { 'relative-datestamp': t.expiresAfter ?? '1 year' },
      scopes: t.scopes ?? [],
      metadata: {
        description: `${t.label} (cot demo)`,
        name: t.label,
        owner: 'release@example.com',
        source: t.source ?? 'https://hg.example.com/releases/file/tip/taskcluster/kinds',
      },
      extra: { ...(t.extra ?? {}), parent: decisionTaskId },
      tags: { createdForUser: 'release@example.com', kind: t.kind, label: t.label, 'trust-domain': 'demo' },
      priority: t.priority ?? 'very-low',
      payload: t.payload,
      ...(Object.keys(deps).length ? { dependencies: Object.values(deps).sort() } : {}),
    },
    task_id: taskId,
  };
}

/** taskgraph `json_time_from_now`: `now` plus a "<n> <unit>" offset, in the queue's JSON time format. */
function after(now: Date, offset: string): string {
  const m = /^(\d+) (seconds|day|days|year|years)$/.exec(offset);
  if (!m) throw new Error(`demo offsets are "<n> seconds|days|years", not ${offset}`);
  const n = Number(m[1]);
  const unit = m[2]!.startsWith('second') ? 1 : m[2]!.startsWith('day') ? 86400 : 365 * 86400;
  return new Date(now.getTime() + n * unit * 1000).toISOString();
}

/** Every `{"relative-datestamp": ...}` replaced, at any depth (taskgraph `resolve_timestamps`, the demo's forms). */
function stamps(v: JsonValue, now: Date): JsonValue {
  if (Array.isArray(v)) return v.map((x) => stamps(x, now));
  if (v === null || typeof v !== 'object') return v;
  const keys = Object.keys(v);
  if (keys.length === 1 && keys[0] === 'relative-datestamp')
    return after(now, String(v['relative-datestamp']));
  return Object.fromEntries(keys.map((k) => [k, stamps(v[k]!, now)]));
}

/**
 * The definition the queue serves for a task created from a graph entry by taskgraph's `create_tasks`, at `created`.
 * Only the demo's datestamp forms are resolved here; the verifier has its own, complete resolution.
 */
export function createdTask(
  entry: JsonObject,
  o: { decisionTaskId: string; schedulerId: string; created: Date; inGraph: ReadonlySet<string> },
): JsonObject {
  const t = stamps(entry.task!, o.created) as JsonObject;
  const deps = Array.isArray(t.dependencies) ? [...(t.dependencies as string[])] : [];
  if (!deps.some((d) => o.inGraph.has(d))) deps.push(o.decisionTaskId);
  return queueDefaults({
    ...t,
    dependencies: deps,
    taskGroupId: o.decisionTaskId,
    schedulerId: o.schedulerId,
  });
}

/** What the queue's createTask adds to every definition it stores (and `task()` then returns). */
export function queueDefaults(t: JsonObject): JsonObject {
  return {
    projectId: 'none',
    requires: 'all-completed',
    retries: 5,
    routes: [],
    priority: 'lowest',
    scopes: [],
    tags: {},
    extra: {},
    dependencies: [],
    ...t,
    taskQueueId: `${String(t.provisionerId)}/${String(t.workerType)}`,
  };
}
