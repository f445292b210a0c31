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
 */

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
 * A task definition as compared (rules 2 to 4; rule 1 with `dropTaskId`). A taskQueueId already present is kept
 * and the split fields are dropped, as the reference does.
 */
function normalizeForComparison(task: JsonObject, dropTaskId: boolean): JsonObject {
  const t = { ...task };
  if (dropTaskId) delete t.taskId;
  const out = removeEmpty(t) as JsonObject;
  const withProject: JsonObject = { projectId: 'none', ...out };
  if (
    withProject.taskQueueId === undefined &&
    typeof withProject.provisionerId === 'string' &&
    typeof withProject.workerType === 'string'
  )
    withProject.taskQueueId = `${withProject.provisionerId}/${withProject.workerType}`;
  delete withProject.provisionerId;
  delete withProject.workerType;
  return withProject;
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
 * Compare the runtime task with each rendered task (the rules above), first exact match wins. Rendered entries that
 * are not objects count as non-matching with one difference at their root. Pure.
 */
export function compareWithRendered(runtime: JsonObject, rendered: readonly JsonValue[]): TaskComparison {
  const actual = normalizeForComparison(runtime, false);
  const actualText = canonicalize(actual);
  let best: { index: number; differences: JsonDifference[] } | undefined;
  for (const [index, candidate] of rendered.entries()) {
    const expected = isJsonObject(candidate) ? normalizeForComparison(candidate, true) : candidate;
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
