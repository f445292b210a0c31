import { randomBytes } from 'node:crypto';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestFile } from '../../hashing/digest.js';
import type { ObjectUpload, Request, ServerContext } from './context.js';
import { HttpError, jsonBody, send, sendEmpty } from './errors.js';
import { commitArtifact, receiveBody } from './files.js';

/**
 * PUT /_upload/<token>, the s3-style upload target: only tokens createArtifact(s3) issued, one request each (403
 * AccessDenied otherwise), with the Content-Type of createArtifact (403 SignatureDoesNotMatch). A body that did not
 * arrive whole, or a server fault (5xx), gives the token back, so the client's retry works.
 */
export async function s3Upload(ctx: ServerContext, r: Request): Promise<void> {
  const token = r.parts.length === 2 ? (r.parts[1] ?? '') : '';
  const p = ctx.s3Uploads.get(token);
  if (!p) throw new HttpError(403, 'AccessDenied', 'unknown or used upload URL');
  if (await ctx.fault('upload', r.res)) return;
  if ((r.req.headers['content-type'] ?? '') !== p.contentType)
    throw new HttpError(
      403,
      'SignatureDoesNotMatch',
      `Content-Type must be ${p.contentType} as in createArtifact`,
    );
  // claim the token for this request (a concurrent or later use is refused) ...
  if (ctx.s3Uploads.get(token) !== p || !ctx.s3Uploads.delete(token))
    throw new HttpError(403, 'AccessDenied', 'unknown or used upload URL');
  // ... and give it back, before anything else, when the body did not arrive: the client retries
  const staged = await receiveBody(r.req, ctx.staging, ctx.maxUpload, () => ctx.s3Uploads.set(token, p));
  try {
    await commitArtifact(staged, ctx.store.artifactPath(p.taskId, p.runId, p.name));
  } catch (e) {
    if (!(e instanceof HttpError)) ctx.s3Uploads.set(token, p); // a server fault (5xx): the client's retry may use it
    throw e;
  }
  sendEmpty(r.res);
}

/**
 * The object upload a request of the object service is for: its temporary credentials must be for `objectName`
 * (the path after /api/object/v1/<route>/), else 403 InsufficientScopes. Returns the upload and the request body.
 */
async function objectRequest(
  ctx: ServerContext,
  r: Request,
  what: string,
  maxBody?: number,
): Promise<{ p: ObjectUpload; uploadId: string; objectName: string; body: Record<string, unknown> }> {
  const { id, body: raw } = await ctx.auth.authenticate(r.req, maxBody);
  const cred = ctx.tempCreds.get(id);
  const objectName = r.parts.slice(4).join('/');
  if (!cred || cred.objectName !== objectName)
    throw new HttpError(403, 'InsufficientScopes', `not allowed to ${what} ${objectName}`);
  const body = jsonBody(raw);
  return { p: ctx.objectUploads.get(cred.uploadId)!, uploadId: cred.uploadId, objectName, body };
}

/**
 * PUT /api/object/v1/upload/<name> (the object service's createUpload): data inline (stored at once) or a put URL
 * (`/_objput/<token>`). Once finishUpload locked the data, 409 RequestConflict.
 */
export async function createUpload(ctx: ServerContext, r: Request): Promise<void> {
  const { p, uploadId, objectName, body } = await objectRequest(ctx, r, 'upload', 16 * 1024 * 1024);
  if (body.uploadId !== uploadId) throw new HttpError(409, 'RequestConflict', 'uploadId mismatch');
  const finished = () =>
    new HttpError(409, 'RequestConflict', `object ${objectName} is finished: its data cannot change`);
  if (p.lock) throw finished();
  const methods = (body.proposedUploadMethods ?? {}) as Record<string, Record<string, unknown>>;
  const answer = (uploadMethod: unknown) =>
    send(r.res, 200, { expires: body.expires, projectId: 'cot', uploadId, uploadMethod });
  if (methods.dataInline && typeof methods.dataInline.objectData === 'string') {
    await mkdir(ctx.staging, { recursive: true });
    const staged = join(ctx.staging, randomBytes(8).toString('hex'));
    await writeFile(staged, Buffer.from(methods.dataInline.objectData, 'base64'), { flag: 'wx' });
    if (p.lock) {
      await unlink(staged).catch(() => undefined);
      throw finished();
    }
    ctx.replaceStaged(p, staged);
    return answer({ dataInline: true });
  }
  if (!methods.putUrl) return answer({});
  const token = randomBytes(18).toString('base64url');
  ctx.objectPutTokens.set(token, p.uploadId);
  answer({
    putUrl: {
      url: `${ctx.base}/_objput/${token}`,
      expires: new Date(Date.now() + 3600_000).toJSON(),
      headers: {
        'Content-Type': String(methods.putUrl.contentType ?? p.contentType),
        'Content-Length': String(methods.putUrl.contentLength ?? 0),
      },
    },
  });
}

/**
 * PUT /_objput/<token>: an object's data, to a put URL createUpload issued (403 AccessDenied otherwise, or once the
 * data are locked); a finishUpload that came while the body arrived wins (409 RequestConflict).
 */
export async function objectPut(ctx: ServerContext, r: Request): Promise<void> {
  const uploadId = r.parts.length === 2 ? ctx.objectPutTokens.get(r.parts[1] ?? '') : undefined;
  const p = uploadId !== undefined ? ctx.objectUploads.get(uploadId) : undefined;
  if (!p) throw new HttpError(403, 'AccessDenied', 'unknown upload URL');
  if (await ctx.fault('upload', r.res)) return;
  if (p.lock) throw new HttpError(403, 'AccessDenied', 'the object is finished: its data cannot change');
  const staged = await receiveBody(r.req, ctx.staging, ctx.maxUpload);
  if (p.lock) {
    // finishUpload came while this body was arriving: the locked bytes stay
    await unlink(staged).catch(() => undefined);
    throw new HttpError(409, 'RequestConflict', 'the object was finished during this upload');
  }
  ctx.replaceStaged(p, staged);
  sendEmpty(r.res);
}

/**
 * POST /api/object/v1/finish-upload/<name>: the first call locks the data (no later PUT or createUpload changes
 * them; 400 InputError when none were uploaded), and the sha256/sha512 given must be those of the locked bytes (409
 * RequestConflict).
 */
export async function finishUpload(ctx: ServerContext, r: Request): Promise<void> {
  const { p, uploadId, objectName, body } = await objectRequest(ctx, r, 'finish');
  if (body.uploadId !== undefined && body.uploadId !== uploadId)
    throw new HttpError(409, 'RequestConflict', `object ${objectName} does not have this uploadId`);
  if (!p.lock) {
    if (!p.staged) throw new HttpError(400, 'InputError', 'no data was uploaded');
    // lock now, before hashing: no later PUT or createUpload can change what gets committed
    const staged = p.staged;
    p.staged = undefined;
    p.lock = { staged, digests: digestFile(staged, ['sha256', 'sha512']).then((d) => d.digests) };
  }
  const have = await p.lock.digests;
  const hashes = (body.hashes ?? {}) as Record<string, unknown>;
  for (const [alg, want] of Object.entries(hashes)) {
    if ((alg === 'sha256' || alg === 'sha512') && have[alg] !== want)
      throw new HttpError(409, 'RequestConflict', `${alg} of the uploaded data does not match`);
  }
  p.finished = true;
  send(r.res, 200, {});
}
