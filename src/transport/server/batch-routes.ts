import { CotError } from '../../errors.js';
import { isJsonObject, parseJsonBytes } from '../../json/parse.js';
import { mapBounded } from '../../util/concurrency.js';
import { isTaskId } from '../../util/task-id.js';
import type { Request, ServerContext } from './context.js';
import { HttpError, readBody, send } from './errors.js';
import { statusResponse } from './queue-routes.js';

/** The queue's page size bound of `tasks` and `statuses` (paginateResults' maxLimit): at most 1000 per answer. */
const MAX_LIMIT = 1000;
/** The queue's request body limit (lib-api inputLimit, 10 MB): over it, 413 InputTooLarge. */
const MAX_BODY = 10 * 1024 * 1024;
/** Task files read at once for one batch request. */
const READS_AT_ONCE = 16;

/**
 * The query of a batch call (the queue's paginateResults.query): only `continuationToken` (non-empty) and `limit`
 * (digits) are allowed, besides a bewit; anything else is 400 InvalidRequestArguments, as lib-api answers.
 * Returns the page: its offset (from the token, 400 InputError when the token is not one this server gave) and size
 * (min(limit or 1000, 1000), as paginateResults computes it).
 */
function page(r: Request): { offset: number; size: number } {
  const errors: string[] = [];
  for (const [key, value] of r.url.searchParams) {
    if (key === 'continuationToken') {
      if (value === '') errors.push(`Query-string parameter: ${key}="" does not match expression: /./`);
    } else if (key === 'limit') {
      if (!/^[0-9]+$/.test(value))
        errors.push(`Query-string parameter: ${key}="${value}" does not match expression: /^[0-9]+$/`);
    } else if (key !== 'bewit') errors.push(`Query-string parameter: ${key} is not supported!`);
  }
  if (errors.length > 0) throw new HttpError(400, 'InvalidRequestArguments', errors.join('\n'));
  const limit = r.url.searchParams.get('limit');
  const size = Math.min(Number.parseInt(limit || String(MAX_LIMIT), 10), MAX_LIMIT);
  const token = r.url.searchParams.get('continuationToken');
  if (!token) return { offset: 0, size };
  const decoded = Buffer.from(token, 'base64url').toString('latin1');
  if (!/^[1-9][0-9]{0,8}$/.test(decoded) || Buffer.from(decoded).toString('base64url') !== token)
    throw new HttpError(400, 'InputError', 'Invalid continuation token');
  return { offset: Number(decoded), size };
}

/** The continuation token of the page starting at `offset` (opaque to clients, as the queue's). */
const tokenFor = (offset: number) => Buffer.from(String(offset)).toString('base64url');

/**
 * The task ids of a batch request body (schema tasks-request.yml: an object whose only member is `taskIds`, a list
 * of strings, default empty). A body that is not JSON, or not sent as application/json, is 400 MalformedPayload; one
 * that breaks the schema 400 InputValidationError; over 10 MB 413 InputTooLarge. Repeated ids count once.
 */
async function taskIdsOf(r: Request): Promise<string[]> {
  const body = await readBody(r.req, MAX_BODY);
  if (!/^application\/json\b/i.test(String(r.req.headers['content-type'] ?? '')))
    throw new HttpError(400, 'MalformedPayload', 'Payload must be JSON with content-type: application/json');
  let v: unknown = {};
  if (body.length > 0) {
    try {
      v = parseJsonBytes(body, { source: 'the request body' });
    } catch (e) {
      throw new HttpError(400, 'MalformedPayload', `Failed to parse JSON: ${(e as Error).message}`);
    }
  }
  if (!isJsonObject(v)) throw new HttpError(400, 'InputValidationError', 'the payload must be an object');
  const extra = Object.keys(v).filter((k) => k !== 'taskIds');
  if (extra.length > 0)
    throw new HttpError(
      400,
      'InputValidationError',
      `the payload must not have additional properties: ${extra}`,
    );
  const ids = v.taskIds ?? [];
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string'))
    throw new HttpError(400, 'InputValidationError', 'taskIds must be a list of strings');
  return [...new Set(ids as string[])];
}

/**
 * One page of a batch answer: `read` each requested task (in request order, repeated ids once) and keep those the
 * store has — an id that is no task id, or a task the store does not have, is left out, as the queue's SQL `IN`
 * leaves it out. A task the store cannot read (a malformed task.json: any CotError) is left out too, rather than
 * failing the whole batch: its own `task` or `status` call then answers its error, as without batches. The page is
 * the `size` found tasks after `offset`, with a continuation token when more were found (paginateResults: one more
 * row than the page is looked for).
 */
async function batchPage<T>(
  ids: readonly string[],
  at: { offset: number; size: number },
  read: (taskId: string) => Promise<T>,
): Promise<{ rows: T[]; continuationToken?: string }> {
  const want = at.offset + at.size + 1;
  // reads in request order, READS_AT_ONCE at a time; once `want` tasks are found, later ids are not read (every id
  // read so far comes before them, so the first `want` found in order are among those read)
  let count = 0;
  const got = await mapBounded(ids.filter(isTaskId), READS_AT_ONCE, async (id) => {
    if (count >= want) return undefined;
    try {
      const value = await read(id);
      count++;
      return { value };
    } catch (e) {
      if (e instanceof CotError) return undefined;
      throw e;
    }
  });
  const found = got.flatMap((g) => (g ? [g.value] : []));
  const rows = found.slice(at.offset, at.offset + at.size);
  const more = found.length > at.offset + at.size;
  // paginateResults: no token for a page that starts at 0 and is empty (encodeOffset(0) is null)
  const next = at.offset + at.size;
  return { rows, ...(more && next > 0 ? { continuationToken: tokenFor(next) } : {}) };
}

/**
 * POST /api/queue/v1/tasks (the queue's `tasks`) and POST /api/queue/v1/tasks/status (`statuses`): the definitions,
 * or the status structures, of many tasks at once, as `{tasks: [{taskId, task}]}` / `{statuses: [{taskId,
 * status}]}` with a `continuationToken` when there are more (query `limit`, at most 1000 per page, and
 * `continuationToken`). Tasks the store does not have are left out: the caller compares. Reads are open, as
 * `task` and `status` are here. Fault targets `tasks` and `statuses`.
 */
export async function batchRoute(ctx: ServerContext, r: Request, what: 'tasks' | 'statuses'): Promise<void> {
  const at = page(r);
  const ids = await taskIdsOf(r);
  if (await ctx.fault(what, r.res)) return;
  if (what === 'tasks') {
    const { rows, continuationToken } = await batchPage(ids, at, async (taskId) => ({
      taskId,
      task: await ctx.store.task(taskId),
    }));
    return send(r.res, 200, { tasks: rows, ...(continuationToken ? { continuationToken } : {}) });
  }
  const { rows, continuationToken } = await batchPage(ids, at, async (taskId) => ({
    taskId,
    status: (await statusResponse(ctx, taskId)).status,
  }));
  send(r.res, 200, { statuses: rows, ...(continuationToken ? { continuationToken } : {}) });
}
