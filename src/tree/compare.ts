import { canonicalize } from '../json/canonical.js';
import { type JsonDifference, jsonDifferences, MAX_DIFFERENCES } from '../json/differences.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../json/parse.js';

/**
 * How a runtime parent task is compared with the tasks its template renders: the reference's rules
 * (scriptworker `cot/verify.py` compare_jsone_task_definition, with `utils.py` remove_empty_keys, add_projectid,
 * add_taskqueueid):
 * 1. drop `taskId` from each rendered task (a decision task's template names its own id);
 * 2. on both sides remove every value that is `{}`, `[]`, `null` or the string `"null"` from its object or array,
 *    recursively (json-e drops empty values the queue keeps). As the reference does, a value is judged before its
 *    own members are cleaned, so `{"a": null}` becomes `{}` and stays;
 * 3. where a side has no `projectId`, it is `"none"` (the queue's default);
 * 4. `provisionerId` + `workerType` are expressed as `taskQueueId` (`provisionerId/workerType`) on both sides;
 * 5. the runtime task must deep-equal one rendered task (JSON equality: canonical forms).
 *
 * Plus the queue-field normalisation cot applies to task-graph entries (chain/task-graph.ts), so a runtime task
 * the queue completed from an honest template still matches, and a forged one still differs:
 * - where a side omits them, the queue's `createTask` defaults are filled on both sides (taskcluster
 *   `services/queue/schemas/v1/create-task-request.yml` and `api.js` patchAndValidateTaskDef): `schedulerId` "-",
 *   `priority` "lowest", `requires` "all-completed", `retries` 5, `taskGroupId` the task's own id, `expires` the
 *   `deadline` plus one year (the empty defaults, `[]` and `{}`, are removed by rule 2 anyway). The reference fills
 *   none of these, so it refuses an honest task whose template leaves one to the queue;
 * - a side whose `taskQueueId` disagrees with its own `provisionerId` or `workerType` (both, or the one it has) keeps
 *   the split fields, so the disagreement is a difference (the queue refuses such a task; the reference drops the
 *   split fields unseen).
 */

/** The queue's createTask defaults filled where a side omits the field (not `[]`/`{}`: rule 2 removes those). */
const QUEUE_DEFAULTS: Readonly<Record<string, JsonValue>> = {
  schedulerId: '-',
  priority: 'lowest',
  requires: 'all-completed',
  retries: 5,
};

/** The queue's default `expires`: `deadline` plus one calendar year (UTC), or undefined when deadline is no date. */
function defaultExpires(deadline: JsonValue | undefined): string | undefined {
  if (typeof deadline !== 'string') return undefined;
  const d = new Date(deadline);
  if (Number.isNaN(d.getTime())) return undefined;
  d.setUTCFullYear(d.getUTCFullYear() + 1);
  return d.toJSON();
}

function isEmpty(v: JsonValue): boolean {
  return (
    v === null ||
    v === 'null' ||
    (Array.isArray(v) && v.length === 0) ||
    (isJsonObject(v) && Object.keys(v).length === 0)
  );
}

/** Rule 2: remove the empty values of `v`, recursively (a new value; `v` is not changed). */
function removeEmpty(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.filter((x) => !isEmpty(x)).map(removeEmpty);
  if (isJsonObject(v)) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) if (!isEmpty(x)) out[k] = removeEmpty(x);
    return out;
  }
  return v;
}

/**
 * A task definition as compared (rules 2 to 4 and the queue defaults; rule 1 with `dropTaskId`); `taskId` is the
 * runtime task's id (the queue's default taskGroupId). A taskQueueId already present is kept and split fields that
 * agree with it are dropped.
 */
function normalizeForComparison(task: JsonObject, dropTaskId: boolean, taskId: string): JsonObject {
  const t = { ...task };
  if (dropTaskId) delete t.taskId;
  const out = removeEmpty(t) as JsonObject;
  const expires = defaultExpires(out.deadline);
  const n: JsonObject = {
    projectId: 'none',
    ...QUEUE_DEFAULTS,
    taskGroupId: taskId,
    ...(expires === undefined ? {} : { expires }),
    ...out,
  };
  const split =
    typeof n.provisionerId === 'string' && typeof n.workerType === 'string'
      ? `${n.provisionerId}/${n.workerType}`
      : undefined;
  if (n.taskQueueId === undefined && split !== undefined) n.taskQueueId = split;
  if (splitFieldsAgree(n)) {
    delete n.provisionerId;
    delete n.workerType;
  }
  return n;
}

/**
 * Whether the split fields a definition has (both, one or none) are the halves of its `taskQueueId`
 * (`provisionerId/workerType`, split at its first `/`). A definition without a taskQueueId keeps its split fields.
 */
function splitFieldsAgree(n: JsonObject): boolean {
  const queue = n.taskQueueId;
  if (typeof queue !== 'string') return false;
  const i = queue.indexOf('/');
  const halves = { provisionerId: queue.slice(0, i), workerType: queue.slice(i + 1) };
  return (
    i > 0 &&
    (n.provisionerId === undefined || n.provisionerId === halves.provisionerId) &&
    (n.workerType === undefined || n.workerType === halves.workerType)
  );
}

/** The comparison's outcome: the rendered task matched (its index), or the closest one and where it differs. */
type TaskComparison =
  | { matched: true; index: number }
  | {
      matched: false;
      /** index of the rendered task with the fewest differences (-1 when the template rendered no task) */
      closest: number;
      /** the differing leaves: `expected` from the rendered task, `actual` from the runtime one */
      differences: JsonDifference[];
      /** more differences than MAX_DIFFERENCES were found (the list is cut) */
      truncated: boolean;
    };

/**
 * Compare the runtime task (whose id is `runtimeTaskId`) with each rendered task (the rules above), first exact
 * match wins. Rendered entries that
 * are not objects count as non-matching with one difference at their root. Pure.
 */
export function compareWithRendered(
  runtime: JsonObject,
  runtimeTaskId: string,
  rendered: readonly JsonValue[],
): TaskComparison {
  const actual = normalizeForComparison(runtime, false, runtimeTaskId);
  const actualText = canonicalize(actual);
  let best: { index: number; differences: JsonDifference[] } | undefined;
  for (const [index, candidate] of rendered.entries()) {
    const expected = isJsonObject(candidate)
      ? normalizeForComparison(candidate, true, runtimeTaskId)
      : candidate;
    if (canonicalize(expected) === actualText) return { matched: true, index };
    const differences = jsonDifferences(expected, actual, MAX_DIFFERENCES + 1);
    if (best === undefined || differences.length < best.differences.length) best = { index, differences };
  }
  if (best === undefined) return { matched: false, closest: -1, differences: [], truncated: false };
  return {
    matched: false,
    closest: best.index,
    differences: best.differences.slice(0, MAX_DIFFERENCES),
    truncated: best.differences.length > MAX_DIFFERENCES,
  };
}
