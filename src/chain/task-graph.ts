import { canonicalize } from '../json/canonical.js';
import {
  describeDifferences,
  type JsonDifference,
  jsonDifferences,
  MAX_DIFFERENCES,
} from '../json/differences.js';
import type { JsonObject, JsonValue } from '../json/parse.js';
import { obj } from './edges.js';

export {
  describeDifferences,
  diffPaths,
  jsonDifferences,
  MAX_DIFFERENCES,
  showDifference,
} from '../json/differences.js';

/**
 * How a runtime task definition (the queue's) is compared with its entry in the task-graph.json of the decision or
 * action task that created it, field by field. taskgraph writes task-graph.json before it creates the tasks
 * (taskgraph `decision.py` writes it, then `create.py` `create_tasks` adds `taskGroupId`, `schedulerId` and the
 * decision task to `dependencies`, and resolves `{"relative-datestamp": ...}` at creation); the queue then fills its
 * own defaults (`createTask`: `taskQueueId`, `projectId`, and the defaults of its create-task-request schema).
 */
export const TASK_GRAPH_FIELD_RULES: readonly { field: string; rule: string; source: string }[] = [
  {
    field: 'created, deadline, expires',
    rule: 'not compared',
    source: 'set at creation: taskgraph create.py resolves them against the creation time',
  },
  {
    field: 'priority',
    rule: 'not compared',
    source: 'queue changeTaskPriority may change it later; it carries no trust (scriptworker ignores it too)',
  },
  {
    field: 'projectId',
    rule: 'normalised on both sides: absent = "none"',
    source: 'queue createTask fills "none" when unset',
  },
  {
    field: 'taskQueueId, provisionerId + workerType',
    rule: 'normalised on both sides to taskQueueId = provisionerId/workerType; the split fields must agree with it',
    source: 'queue createTask derives one form from the other (joinTaskQueueId / addSplitFields)',
  },
  {
    field: 'taskGroupId',
    rule: "must equal the parent's task group: the decision task's taskId, or the action's ACTION_TASK_GROUP_ID",
    source: 'taskgraph create.py sets it to the group the decision or action creates tasks in',
  },
  {
    field: 'schedulerId',
    rule: 'must equal the schedulerId of the parent decision or action task',
    source: 'taskgraph create.py sets "<trust-domain>-level-<level>", the decision task\'s own',
  },
  {
    field: 'dependencies',
    rule: "runtime within the graph entry's plus the task group's decision task; every graph dependency present at runtime",
    source:
      'taskgraph create.py only appends the decision task; scriptworker verify_task_in_task_graph (first half)',
  },
  {
    field: '{"relative-datestamp": ...} anywhere',
    rule: "resolved against the runtime task's created with taskgraph's units (s, min, h, d, mo = 30 d, y = 365 d) and format, then compared",
    source: 'taskgraph util/parameterization.py resolve_timestamps, util/time.py json_time_from_now',
  },
  {
    field: 'requires, retries, routes, tags, extra, scopes',
    rule: 'compared after filling the queue default where one side omits it: all-completed, 5, [], {}, {}, []',
    source: 'queue schemas/v1/create-task-request.yml defaults',
  },
  {
    field: 'every other field',
    rule: 'equal, in both directions (a field on one side only is a difference)',
    source: 'stricter than scriptworker, which compares only the keys the graph entry has',
  },
];

const NOT_COMPARED = new Set(['created', 'deadline', 'expires', 'priority']);
const QUEUE_DEFAULTS: Record<string, JsonValue> = {
  requires: 'all-completed',
  retries: 5,
  routes: [],
  tags: {},
  extra: {},
  scopes: [],
};

// taskgraph util/time.py: PATTERN and ALIASES (months are 30 days, years 365)
const DATESTAMP = /((?:\d+)?\.?\d+) *([a-z]+)/;
const MAX_DATESTAMP_CHARS = 100;
const UNIT_SECONDS: Record<string, number> = {};
for (const [names, s] of [
  [['seconds', 'second', 's'], 1],
  [['minutes', 'minute', 'min'], 60],
  [['hours', 'hour', 'h'], 3600],
  [['days', 'day', 'd'], 86400],
  [['months', 'month', 'mo'], 30 * 86400],
  [['years', 'year', 'y'], 365 * 86400],
] as const)
  for (const n of names) UNIT_SECONDS[n] = s;

/**
 * taskgraph `json_time_from_now(input, now)`: the first `<number> <unit>` in the string (Python `re.search`, so any
 * text around it, a sign included, is ignored), the number read as an integer (`int()`: "1.5" is an error), added
 * to `now`, written as `YYYY-MM-DDTHH:MM:SS.mmmZ`. Throws an Error with the reason when taskgraph would fail, and
 * for inputs over 100 characters (bounded work; taskgraph never writes such offsets).
 */
export function resolveRelativeDatestamp(input: JsonValue, now: Date): string {
  if (typeof input !== 'string')
    throw new Error(`relative-datestamp ${JSON.stringify(input)} is not a string`);
  // the pattern backtracks polynomially on long digit runs; a real offset is a few characters ("28 days"), and any
  // number over 15 digits overflows taskgraph's timedelta anyway
  if (input.length > MAX_DATESTAMP_CHARS)
    throw new Error(
      `relative-datestamp of ${input.length} characters (over ${MAX_DATESTAMP_CHARS}) is refused`,
    );
  const m = DATESTAMP.exec(input);
  if (!m) throw new Error(`relative-datestamp "${input}" is not "<number> <unit>"`);
  const [, value, unit] = m as unknown as [string, string, string];
  if (!/^\d+$/.test(value)) throw new Error(`relative-datestamp "${input}": ${value} is not an integer`);
  const seconds = UNIT_SECONDS[unit];
  if (seconds === undefined) throw new Error(`relative-datestamp "${input}": unknown unit ${unit}`);
  const t = now.getTime() + Number(value) * seconds * 1000;
  const d = new Date(t);
  if (!Number.isSafeInteger(t) || Number.isNaN(d.getTime()) || d.getUTCFullYear() > 9999)
    throw new Error(`relative-datestamp "${input}" is out of range`);
  return d.toISOString();
}

/**
 * taskgraph `resolve_timestamps`: every object whose only key is `relative-datestamp` is replaced by the resolved
 * time (an object value: its keys are resolved, as taskgraph's `_recurse` does). `resolved`, when given, receives
 * the path of every value so resolved.
 */
function resolveTimestamps(
  v: JsonValue,
  now: Date,
  resolved?: (string | number)[][],
  at: (string | number)[] = [],
): JsonValue {
  if (Array.isArray(v)) return v.map((x, i) => resolveTimestamps(x, now, resolved, [...at, i]));
  const o = obj(v);
  if (!o) return v;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0] === 'relative-datestamp') {
    const inner = obj(o['relative-datestamp']);
    if (inner) {
      const out: JsonObject = {};
      for (const [k, x] of Object.entries(inner)) {
        const key = resolveRelativeDatestamp(k, now);
        out[key] = resolveTimestamps(x, now, resolved, [...at, key]);
      }
      return out;
    }
    resolved?.push(at);
    return resolveRelativeDatestamp(o['relative-datestamp']!, now);
  }
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(o)) out[k] = resolveTimestamps(x, now, resolved, [...at, k]);
  return out;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/**
 * Where the graph held a relative datestamp, a runtime value naming the same instant in another ISO form (taskgraph
 * versions wrote `isoformat()[:23] + "Z"`, which has no fraction on a whole second) counts as equal: the resolved
 * graph value takes the runtime's spelling. Only those paths, and only the same instant.
 */
function alignInstants(graph: JsonObject, runtime: JsonObject, paths: readonly (string | number)[][]): void {
  for (const path of paths) {
    let g: JsonValue | undefined = graph;
    let r: JsonValue | undefined = runtime;
    for (const k of path.slice(0, -1)) {
      g = (g as Record<string | number, JsonValue> | undefined)?.[k];
      r = (r as Record<string | number, JsonValue> | undefined)?.[k];
    }
    const last = path.at(-1);
    if (last === undefined || !g || !r || typeof g !== 'object' || typeof r !== 'object') continue;
    const gv = (g as Record<string | number, JsonValue>)[last];
    const rv = (r as Record<string | number, JsonValue>)[last];
    if (
      typeof gv === 'string' &&
      typeof rv === 'string' &&
      ISO_INSTANT.test(rv) &&
      Date.parse(rv) === Date.parse(gv)
    )
      (g as Record<string | number, JsonValue>)[last] = rv;
  }
}

/**
 * One differing leaf of two JSON values: its path (`payload.command[0]`, `scopes[2]`) and both full values, the
 * trusted side (`expected`: the signed task, the task-graph.json entry) and the side that runs (`actual`: the queue's
 * definition). A side absent from its object (or an element only one array has) is omitted.
 */
/** The queue's identity of a task, whichever form a definition uses; a disagreement is reported. */
function taskQueueIdOf(t: JsonObject, side: string, problems: string[]): string | undefined {
  const split =
    typeof t.provisionerId === 'string' && typeof t.workerType === 'string'
      ? `${t.provisionerId}/${t.workerType}`
      : undefined;
  const joined = typeof t.taskQueueId === 'string' ? t.taskQueueId : undefined;
  if (split !== undefined && joined !== undefined && split !== joined)
    problems.push(`${side}: taskQueueId ${joined} disagrees with provisionerId/workerType ${split}`);
  return joined ?? split;
}

/** Facts about the parent that the comparison needs. */
export interface GraphParent {
  taskId: string;
  /** task group ids a child of this parent may be in */
  taskGroupIds: readonly string[];
  schedulerId?: string;
}

/** What compareTaskWithGraphEntry found: rule violations as sentences, and differing values by path. */
interface GraphComparison {
  /** rules the runtime task breaks (its task group is not its parent's, dependencies lost or added...) */
  problems: string[];
  /** fields whose values differ (`expected`: the graph entry, `actual`: the runtime task), at most MAX_DIFFERENCES */
  differences: JsonDifference[];
  /** more differences exist than were collected */
  truncated: boolean;
}

/**
 * Compare a runtime task with its task-graph.json entry (the entry's `task`), by TASK_GRAPH_FIELD_RULES. Returns
 * the differences, as readable lines (the problems, then each differing value as `path: graph vs runtime`); empty
 * when they match. Pure.
 */
export function compareWithGraphEntry(runtime: JsonObject, entry: JsonObject, parent: GraphParent): string[] {
  const c = compareTaskWithGraphEntry(runtime, entry, parent);
  return [...c.problems, ...describeDifferences(c.differences, c.truncated)];
}

/**
 * Compare a runtime task with its task-graph.json entry (the entry's `task`), by TASK_GRAPH_FIELD_RULES: the rule
 * violations, and every differing value by its path with both full values (graph entry as `expected`, runtime task
 * as `actual`). Pure.
 */
export function compareTaskWithGraphEntry(
  runtime: JsonObject,
  entry: JsonObject,
  parent: GraphParent,
): GraphComparison {
  const problems: string[] = [];
  const differences: JsonDifference[] = [];
  const differ = (path: string, expected: JsonValue | undefined, actual: JsonValue | undefined) =>
    differences.push({
      path,
      ...(expected === undefined ? {} : { expected }),
      ...(actual === undefined ? {} : { actual }),
    });
  // relative datestamps, resolved as taskgraph did when it created the task
  let graph: JsonObject = entry;
  const created = typeof runtime.created === 'string' ? new Date(runtime.created) : undefined;
  if (!created || Number.isNaN(created.getTime())) {
    problems.push(`created: the runtime task has no valid created time (${JSON.stringify(runtime.created)})`);
  } else {
    try {
      const resolved: (string | number)[][] = [];
      graph = resolveTimestamps(entry, created, resolved) as JsonObject;
      alignInstants(graph, runtime, resolved);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  // taskGroupId and schedulerId: set at creation from the parent
  const group = runtime.taskGroupId;
  if (typeof group !== 'string' || !parent.taskGroupIds.includes(group))
    problems.push(
      `taskGroupId: ${JSON.stringify(group ?? null)} is not the task group of its parent ${parent.taskId} (${parent.taskGroupIds.join(' or ')})`,
    );
  if (graph.taskGroupId !== undefined && graph.taskGroupId !== group)
    differ('taskGroupId', graph.taskGroupId, group);
  if (runtime.schedulerId !== parent.schedulerId)
    problems.push(
      `schedulerId: ${JSON.stringify(runtime.schedulerId ?? null)} is not its parent's (${JSON.stringify(parent.schedulerId ?? null)})`,
    );
  if (graph.schedulerId !== undefined && graph.schedulerId !== runtime.schedulerId)
    differ('schedulerId', graph.schedulerId, runtime.schedulerId);
  // dependencies
  const list = (v: JsonValue | undefined) =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  const runDeps = new Set(list(runtime.dependencies));
  const graphDeps = new Set(list(graph.dependencies));
  const extraDeps = [...runDeps].filter((d) => !graphDeps.has(d) && d !== group);
  if (extraDeps.length)
    problems.push(
      `dependencies: the runtime task also depends on ${extraDeps.join(', ')}, which its graph entry does not list`,
    );
  const lost = [...graphDeps].filter((d) => !runDeps.has(d));
  if (lost.length)
    problems.push(`dependencies: the runtime task lacks ${lost.join(', ')} from its graph entry`);
  // queue identity and project
  const ids = [taskQueueIdOf(graph, 'graph', problems), taskQueueIdOf(runtime, 'runtime', problems)];
  if (ids[0] !== ids[1]) differ('taskQueueId', ids[0], ids[1]);
  const project = (t: JsonObject) => (t.projectId === undefined ? 'none' : t.projectId);
  if (canonicalize(project(graph)) !== canonicalize(project(runtime)))
    differ('projectId', project(graph), project(runtime));
  // every other field, with the queue's defaults
  const handled = new Set([
    ...NOT_COMPARED,
    'taskGroupId',
    'schedulerId',
    'dependencies',
    'taskQueueId',
    'provisionerId',
    'workerType',
    'projectId',
  ]);
  const rest = (t: JsonObject): JsonObject => {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(QUEUE_DEFAULTS)) out[k] = v;
    for (const [k, v] of Object.entries(t)) if (!handled.has(k)) out[k] = v;
    return out;
  };
  jsonDifferences(rest(graph), rest(runtime), MAX_DIFFERENCES + 1, '', differences);
  const truncated = differences.length > MAX_DIFFERENCES;
  return { problems, differences: differences.slice(0, MAX_DIFFERENCES), truncated };
}
