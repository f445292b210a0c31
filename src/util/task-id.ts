import { CotError } from '../errors.js';

/**
 * A Taskcluster task id: a slugid, 22 characters of URL-safe base64 encoding a version-4 UUID (taskcluster's slugid
 * package, `slugid.nice()`/`slugid.v4()`). The pattern is the document schema's (src/document/schema.ts) and the
 * task-id checks of every layer.
 */
export const SLUGID_PATTERN = '^[A-Za-z0-9_-]{8}[Q-T][A-Za-z0-9_-][CGKOSWaeimquy26-][A-Za-z0-9_-]{10}[AQgw]$';

const SLUG = new RegExp(SLUGID_PATTERN);

/** True when `v` is a string of Taskcluster task id shape (SLUGID_PATTERN). */
export function isTaskId(v: unknown): v is string {
  return typeof v === 'string' && SLUG.test(v);
}

/** Throws OPTIONS_INVALID unless `taskId` is a Taskcluster task id (a 22-character slugid). */
export function assertTaskId(taskId: unknown): asserts taskId is string {
  if (!isTaskId(taskId))
    throw new CotError(
      'OPTIONS_INVALID',
      `${JSON.stringify(taskId) ?? String(taskId)} is not a Taskcluster task id (a 22-character slugid)`,
      { details: { option: 'taskId' } },
    );
}

/** Throws OPTIONS_INVALID unless `runId` is a non-negative safe integer (the queue numbers runs 0, 1, ...). */
export function assertRunId(runId: number): void {
  if (!Number.isSafeInteger(runId) || runId < 0)
    throw new CotError('OPTIONS_INVALID', `run id ${runId} is not a non-negative integer`, {
      details: { option: 'runId' },
    });
}
