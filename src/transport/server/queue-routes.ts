import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { assertArtifactName } from '../../hashing/artifacts.js';
import type { Request, ServerContext } from './context.js';
import { HttpError, jsonBody, send } from './errors.js';
import { commitArtifact } from './files.js';

/** GET task/<taskId>: the task definition (fault target `task`). */
async function getTask(ctx: ServerContext, r: Request, taskId: string): Promise<void> {
  if (await ctx.fault('task', r.res)) return;
  send(r.res, 200, await ctx.store.task(taskId));
}

/**
 * The queue's status response of a task (state `completed` or `unscheduled` when not stored): what `status` answers
 * and `statuses` lists. QUEUE_NOT_FOUND for a task the store does not have.
 */
export async function statusResponse(ctx: ServerContext, taskId: string): Promise<{ status: unknown }> {
  // both read at once; the definition's error, if any, is the answer (as when read one after the other)
  const [t, s] = await Promise.allSettled([ctx.store.task(taskId), ctx.store.status(taskId)]);
  if (t.status === 'rejected') throw t.reason;
  if (s.status === 'rejected') throw s.reason;
  const task = t.value;
  const status = s.value;
  return {
    status: {
      taskGroupId: task.taskGroupId,
      ...status,
      taskId,
      state: status.state ?? (status.runs.length ? 'completed' : 'unscheduled'),
    },
  };
}

/** GET task/<taskId>/status: the queue's status response (statusResponse). */
async function getStatus(ctx: ServerContext, r: Request, taskId: string): Promise<void> {
  send(r.res, 200, await statusResponse(ctx, taskId));
}

/** GET task/<taskId>[/runs/<runId>]/artifacts: the run's listing (the latest run without a runId); 405 otherwise. */
async function listArtifacts(ctx: ServerContext, r: Request, taskId: string, runId?: number): Promise<void> {
  if (r.method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', r.method);
  const run = runId ?? (await ctx.store.latestRunId(taskId));
  send(r.res, 200, { artifacts: await ctx.store.listArtifacts(taskId, run) });
}

/**
 * GET an artifact, as the queue answers it: a private (non-`public/`) artifact needs the writer's Hawk credentials
 * (header or bewit); an error artifact is 424 with the worker's reason; an absent one 404; else 303 to a content
 * URL (signed for 15 minutes when private), marked `reference` for a reference artifact, as the queue does, so that
 * clients can refuse a URL the task chose. A link serves the bytes stored under its name.
 */
async function getArtifact(
  ctx: ServerContext,
  r: Request,
  taskId: string,
  runId: number | undefined,
  name: string,
) {
  if (!name.startsWith('public/')) await ctx.auth.requireWriter(r.req);
  if (await ctx.fault('get-artifact', r.res)) return;
  const run = runId ?? (await ctx.store.latestRunId(taskId));
  const info = await ctx.store.artifactInfo(taskId, run, name);
  if (info?.storageType === 'error') {
    return send(r.res, 424, {
      reason: 'file-missing-on-worker',
      message: `artifact ${name} of ${taskId} run ${run} is an error artifact`,
    });
  }
  const served = info?.storageType === 'reference' ? 'reference' : 's3';
  await stat(ctx.store.artifactPath(taskId, run, name)).catch(() => {
    throw new HttpError(404, 'ResourceNotFound', `artifact ${name} of ${taskId} run ${run} not found`);
  });
  let location = `${ctx.base}/_content/${taskId}/${run}/${name.split('/').map(encodeURIComponent).join('/')}`;
  if (!name.startsWith('public/')) {
    // like a presigned storage URL: valid for 15 minutes, for this artifact only
    const exp = Math.floor(Date.now() / 1000) + 900;
    location += `?exp=${exp}&sig=${ctx.contentSignature(taskId, run, name, exp)}`;
  }
  send(
    r.res,
    303,
    { storageType: served, url: location },
    { location, 'x-taskcluster-artifact-storage-type': served },
  );
}

/**
 * The checked body of createArtifact: storageType s3 or object, an `expires` no later than the task's (400
 * InputError), and an existing run (409 RequestConflict). Returns the storage type, expires and content type.
 */
async function createArtifactInput(
  ctx: ServerContext,
  body: Record<string, unknown>,
  taskId: string,
  runId: number,
): Promise<{ storageType: 's3' | 'object'; expires: string; contentType: string }> {
  const storageType = body.storageType;
  if (storageType !== 's3' && storageType !== 'object')
    throw new HttpError(400, 'InputError', `storageType ${String(storageType)} is not supported here`);
  if (typeof body.expires !== 'string' || Number.isNaN(Date.parse(body.expires)))
    throw new HttpError(400, 'InputError', 'expires is required');
  const contentType = typeof body.contentType === 'string' ? body.contentType : 'application/binary';
  const task = await ctx.store.task(taskId);
  if (typeof task.expires === 'string' && Date.parse(body.expires) > Date.parse(task.expires))
    throw new HttpError(
      400,
      'InputError',
      `expires ${body.expires} is after the task's expires ${task.expires}`,
    );
  await stat(ctx.store.runDir(taskId, runId)).catch(() => {
    throw new HttpError(409, 'RequestConflict', `task ${taskId} run ${runId} does not exist`);
  });
  return { storageType, expires: body.expires, contentType };
}

/**
 * POST task/<taskId>/runs/<runId>/artifacts/<name> (createArtifact, by the writer): s3 hands out a one-request
 * upload URL (`/_upload/<token>`); object opens an object upload with its own temporary credentials.
 */
async function createArtifact(ctx: ServerContext, r: Request, taskId: string, runId: number, name: string) {
  const body = jsonBody(await ctx.auth.requireWriter(r.req));
  if (await ctx.fault('create-artifact', r.res)) return;
  const { storageType, expires, contentType } = await createArtifactInput(ctx, body, taskId, runId);
  if (storageType === 's3') {
    const token = randomBytes(18).toString('base64url');
    ctx.s3Uploads.set(token, { taskId, runId, name, contentType });
    return send(r.res, 200, {
      storageType: 's3',
      putUrl: `${ctx.base}/_upload/${token}`,
      expires,
      contentType,
    });
  }
  const uploadId = randomBytes(16).toString('base64url');
  const objectName = `t/${taskId}/${runId}/${name}`;
  const clientId = `cot-object-upload/${uploadId}`;
  const accessToken = randomBytes(32).toString('base64url');
  ctx.tempCreds.set(clientId, { accessToken, uploadId, objectName });
  ctx.objectUploads.set(uploadId, { taskId, runId, name, contentType, uploadId, objectName });
  send(r.res, 200, {
    storageType: 'object',
    name: objectName,
    projectId: 'cot',
    uploadId,
    expires,
    credentials: { clientId, accessToken },
  });
}

/**
 * PUT task/<taskId>/runs/<runId>/artifacts/<name> (finishArtifact, by the writer): commit exactly the bytes
 * finishUpload locked and checked (400 InputError for an unknown or unfinished upload); then the upload's
 * credentials and put URLs are dead.
 */
async function finishArtifact(ctx: ServerContext, r: Request, taskId: string, runId: number, name: string) {
  const body = jsonBody(await ctx.auth.requireWriter(r.req));
  if (await ctx.fault('finish-artifact', r.res)) return;
  const p = typeof body.uploadId === 'string' ? ctx.objectUploads.get(body.uploadId) : undefined;
  if (!p || p.taskId !== taskId || p.runId !== runId || p.name !== name)
    throw new HttpError(400, 'InputError', 'unknown uploadId for this artifact');
  if (!p.finished || !p.lock)
    throw new HttpError(400, 'InputError', 'Object storing artifact data does not exist');
  p.commit ??= commitArtifact(p.lock.staged, ctx.store.artifactPath(taskId, runId, name)).then(() =>
    ctx.forgetUpload(p.uploadId),
  );
  await p.commit;
  send(r.res, 200, {});
}

/** The run id in `rest` (after the task id), if the path names one: `runs/<runId>` (400 InputError if malformed). */
function runIdOf(rest: readonly string[]): { runId?: number; next: number } {
  if (rest[1] !== 'runs') return { next: 1 };
  if (!/^(0|[1-9][0-9]*)$/.test(rest[2] ?? '')) throw new HttpError(400, 'InputError', 'bad runId');
  return { runId: Number(rest[2]), next: 3 };
}

/**
 * The queue's task routes, /api/queue/v1/task/<taskId>[/status | [/runs/<runId>]/artifacts[/<name>]]: 404
 * ResourceNotFound for any other path, 400 InputError for a bad run id or artifact name, 405 for another method.
 */
export async function taskRoutes(ctx: ServerContext, r: Request): Promise<void> {
  const rest = r.parts.slice(4); // after api, queue, v1, task
  const taskId = rest[0]!;
  if (rest.length === 1 && r.method === 'GET') return getTask(ctx, r, taskId);
  if (rest.length === 2 && rest[1] === 'status' && r.method === 'GET') return getStatus(ctx, r, taskId);
  const { runId, next } = runIdOf(rest);
  if (rest[next] !== 'artifacts') throw new HttpError(404, 'ResourceNotFound', `no route ${r.path}`);
  const name = rest.slice(next + 1).join('/');
  if (name === '') return listArtifacts(ctx, r, taskId, runId);
  try {
    assertArtifactName(name);
  } catch (e) {
    throw new HttpError(400, 'InputError', (e as Error).message);
  }
  if (r.method === 'GET') return getArtifact(ctx, r, taskId, runId, name);
  if (runId === undefined) throw new HttpError(404, 'ResourceNotFound', `no route ${r.method} ${r.path}`);
  if (r.method === 'POST') return createArtifact(ctx, r, taskId, runId, name);
  if (r.method === 'PUT') return finishArtifact(ctx, r, taskId, runId, name);
  throw new HttpError(405, 'MethodNotAllowed', r.method);
}
