import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { contentTypeFor, gzipAllowed } from '../content-type.js';
import type { Request, ServerContext } from './context.js';
import { HttpError, sameSecret } from './errors.js';
import type { Fault } from './faults.js';

/** A private artifact's content URL must carry an unexpired signature of getArtifact, else 403 AccessDenied. */
function checkSignature(ctx: ServerContext, r: Request, taskId: string, run: number, name: string): void {
  const exp = Number(r.url.searchParams.get('exp'));
  const sig = r.url.searchParams.get('sig') ?? '';
  if (!(exp * 1000 > Date.now()) || !sameSecret(sig, ctx.contentSignature(taskId, run, name, exp)))
    throw new HttpError(403, 'AccessDenied', 'private content needs a valid signed URL from getArtifact');
}

/** Serve `file` whole or, for the `truncate` / `wrong-length` faults, with a wrong length or cut short. */
async function serveFile(r: Request, file: string, name: string, size: number, fault: Fault | undefined) {
  const length = fault?.kind === 'wrong-length' ? size + fault.extra : size;
  r.res.writeHead(200, { 'content-type': contentTypeFor(name), 'content-length': String(length) });
  if (fault?.kind === 'truncate') {
    const stream = createReadStream(file, { start: 0, end: Math.max(0, fault.bytes - 1) });
    stream.on('end', () => r.res.socket?.destroy());
    stream.pipe(r.res, { end: false });
    return;
  }
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), r.res);
}

/**
 * GET /_content/<taskId>/<run>/<name> (what getArtifact's 303 points at): the artifact's bytes, gzipped when the
 * client accepts it and the artifact is text (see gzipAllowed); private artifacts need the signed URL; 404
 * ResourceNotFound when absent. Fault target `content`.
 */
export async function content(ctx: ServerContext, r: Request): Promise<void> {
  const [, taskId, run, ...nameParts] = r.parts;
  const name = nameParts.join('/');
  if (!name.startsWith('public/')) checkSignature(ctx, r, taskId!, Number(run), name);
  const file = ctx.store.artifactPath(taskId!, Number(run), name);
  const st = await stat(file).catch(() => {
    throw new HttpError(404, 'ResourceNotFound', 'no such content');
  });
  const fault = await ctx.fault('content', r.res);
  if (fault && fault.kind !== 'truncate' && fault.kind !== 'wrong-length') return;
  if (!fault && gzipAllowed(String(r.req.headers['accept-encoding'] ?? ''), name)) {
    r.res.writeHead(200, { 'content-type': contentTypeFor(name), 'content-encoding': 'gzip' });
    await pipeline(createReadStream(file), createGzip(), r.res);
    return;
  }
  await serveFile(r, file, name, st.size, fault);
}
