import { createReadStream } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
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

/** Read size when serving a file: two buffers of this size (at most the file's), reused for the whole answer. */
const SEND_CHUNK_BYTES = 4 * 1024 * 1024;

/** Write `chunk` to the answer; resolves once the socket took it (so its buffer may be reused). */
function writeChunk(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    res.write(chunk, (e) => (e ? reject(e) : resolve()));
  });
}

/**
 * Send `size` bytes of the open file `fh`, then end the answer: reads of SEND_CHUNK_BYTES into two buffers that are
 * reused (the next read overlaps the socket taking the previous chunk), never a new buffer per chunk. A file that
 * got shorter ends the answer early (the client sees a body shorter than its Content-Length); a closed connection
 * stops it (the write fails).
 */
async function sendOpenFile(res: ServerResponse, fh: FileHandle, size: number): Promise<void> {
  const bufs = [0, 1].map(() => Buffer.allocUnsafeSlow(Math.max(1, Math.min(size, SEND_CHUNK_BYTES))));
  let sent: Promise<void> = Promise.resolve();
  try {
    for (let pos = 0, i = 0; pos < size; i ^= 1) {
      const buf = bufs[i]!;
      // this buffer's previous chunk was sent: the write two chunks back was awaited before the last one started
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      await sent;
      sent = writeChunk(res, buf.subarray(0, bytesRead));
    }
    await sent;
  } finally {
    // a write still pending holds its buffer: it completes or fails with the connection
    await sent.catch(() => undefined);
  }
  res.end();
}

/** Serve `file` whole or, for the `truncate` / `wrong-length` faults, with a wrong length or cut short. */
async function serveFile(r: Request, file: string, name: string, fault: Fault | undefined) {
  const fh = await open(file, 'r').catch(() => {
    throw new HttpError(404, 'ResourceNotFound', 'no such content');
  });
  try {
    const size = (await fh.stat()).size;
    const length = fault?.kind === 'wrong-length' ? size + fault.extra : size;
    r.res.writeHead(200, { 'content-type': contentTypeFor(name), 'content-length': String(length) });
    if (fault?.kind === 'truncate') {
      const stream = createReadStream(file, { start: 0, end: Math.max(0, fault.bytes - 1) });
      stream.on('end', () => r.res.socket?.destroy());
      stream.pipe(r.res, { end: false });
      return;
    }
    await sendOpenFile(r.res, fh, size);
  } finally {
    await fh.close();
  }
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
  await stat(file).catch(() => {
    throw new HttpError(404, 'ResourceNotFound', 'no such content');
  });
  const fault = await ctx.fault('content', r.res);
  if (fault && fault.kind !== 'truncate' && fault.kind !== 'wrong-length') return;
  if (!fault && gzipAllowed(String(r.req.headers['accept-encoding'] ?? ''), name)) {
    r.res.writeHead(200, { 'content-type': contentTypeFor(name), 'content-encoding': 'gzip' });
    await pipeline(createReadStream(file), createGzip(), r.res);
    return;
  }
  await serveFile(r, file, name, fault);
}
