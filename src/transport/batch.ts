import { CotError } from '../errors.js';
import type { JsonObject } from '../json/parse.js';
import { mapBounded } from '../util/concurrency.js';
import type { TaskQueue, TaskStatus } from './queue.js';

/**
 * Task ids per batch call: one page of the queue's answer (at most 1000), small enough that a page of large task
 * definitions stays well within the API response bound (TaskclusterQueue maxJsonBytes).
 */
const BATCH_SIZE = 200;

/** Batch calls in flight at once (each answers up to BATCH_SIZE tasks). */
const BATCHES_AT_ONCE = 4;

/**
 * Read one thing per task id, with the queue's batch call when it has one: BATCH_SIZE ids per call, a few calls at
 * once; a task a batch answer leaves out is then read alone (`one`), so that a task the queue does not have gets the
 * queue's own error for it, exactly as without batches; a batch the queue cannot answer (undefined) is read task by
 * task; a batch call that fails gives its error to each of its tasks. Without a batch call, task by task. At most
 * `concurrency` single reads at once. The answer or the CotError per task id, in the order of `taskIds`; anything
 * thrown that is not a CotError is thrown.
 */
async function readEach<T>(
  taskIds: readonly string[],
  concurrency: number,
  batch: ((ids: readonly string[]) => Promise<Map<string, T> | undefined>) | undefined,
  one: (taskId: string) => Promise<T>,
): Promise<Map<string, T | CotError>> {
  const ids = [...new Set(taskIds)];
  const got = new Map<string, T | CotError>();
  if (batch) {
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += BATCH_SIZE) chunks.push(ids.slice(i, i + BATCH_SIZE));
    await mapBounded(chunks, BATCHES_AT_ONCE, async (chunk) => {
      let answer: Map<string, T> | undefined;
      try {
        answer = await batch(chunk);
      } catch (e) {
        if (!(e instanceof CotError)) throw e;
        for (const id of chunk) got.set(id, e);
        return;
      }
      for (const id of chunk) {
        const v = answer?.get(id);
        if (v !== undefined) got.set(id, v);
      }
    });
  }
  const alone = ids.filter((id) => !got.has(id));
  await mapBounded(alone, concurrency, async (id) => {
    try {
      got.set(id, await one(id));
    } catch (e) {
      if (!(e instanceof CotError)) throw e;
      got.set(id, e);
    }
  });
  return new Map(ids.map((id) => [id, got.get(id)!]));
}

/**
 * The definition of each task, or the CotError reading it gave (see readEach): by the queue's batch `tasks` when it
 * has one, else task by task (`task`), at most `concurrency` single reads at once. Each definition is exactly what
 * `task` would give (the queue's bytes, strictly parsed).
 */
export function readTasks(
  queue: TaskQueue,
  taskIds: readonly string[],
  concurrency: number,
): Promise<Map<string, JsonObject | CotError>> {
  return readEach(taskIds, concurrency, queue.tasks?.bind(queue), (id) => queue.task(id));
}

/** The status of each task, or the CotError reading it gave: as readTasks, by the queue's batch `statuses`. */
export function readStatuses(
  queue: TaskQueue,
  taskIds: readonly string[],
  concurrency: number,
): Promise<Map<string, TaskStatus | CotError>> {
  return readEach(taskIds, concurrency, queue.statuses?.bind(queue), (id) => queue.status(id));
}
