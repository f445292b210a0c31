import { CotError } from '../errors.js';
import { isJsonObject, type JsonObject } from '../json/parse.js';

/**
 * What a task's additional data may never set: the artifact list (it would put digests the worker never computed
 * under the worker's signature, for bytes the task could upload itself) and the document's identity fields. A task
 * may add anything else (generic-worker's merge, which allows these too, is stricter here: chain-of-trust facts
 * come from the worker alone).
 */
const WORKER_ONLY_FIELDS: readonly string[] = [
  'artifacts',
  'chainOfTrustVersion',
  'runId',
  'task',
  'taskId',
  'workerGroup',
  'workerId',
  'workerType',
  // the image the task ran: what `cot verify` compares with the docker-image task's signed digest
  'environment.imageArtifactHash',
  'environment.imageHash',
];

function hasPath(o: JsonObject, path: string): boolean {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (!isJsonObject(cur) || !Object.hasOwn(cur, k)) return false;
    cur = cur[k];
  }
  return true;
}

/**
 * Deep-merge `additional` (from the task's chain-of-trust-additional-data.json) under `generated`: the worker's own
 * values win on every conflict, nested objects are merged key by key (so nested keys of both survive), anything
 * else from `generated` replaces what `additional` had. Additional data naming a WORKER_ONLY_FIELDS key is refused
 * (DOCUMENT_INVALID), whether or not the worker's document has it.
 */
export function mergeAdditionalData(additional: JsonObject, generated: JsonObject): JsonObject {
  const forbidden = WORKER_ONLY_FIELDS.filter((path) => hasPath(additional, path));
  if (forbidden.length > 0)
    throw new CotError(
      'DOCUMENT_INVALID',
      `the task's additional data sets ${forbidden.join(', ')}, which only the worker may write into its document`,
      { details: { fields: forbidden } },
    );
  return deepMerge(additional, generated);
}

function deepMerge(additional: JsonObject, generated: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(additional))
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [k, v] of Object.entries(generated)) {
    const merged = isJsonObject(v) && isJsonObject(out[k]) ? deepMerge(out[k] as JsonObject, v) : v;
    Object.defineProperty(out, k, { value: merged, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
