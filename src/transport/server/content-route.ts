import { close, createReadStream, fstat, open, read } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip, gzip, gzipSync } from 'node:zlib';
import { contentTypeFor, gzipAllowed } from '../content-type.js';
import type { Request, ServerContext } from './context.js';
import { HttpError, sameSecret } from './errors.js';
import type { Fault } from './faults.js';

// descriptor-level calls: several times cheaper per small file than FileHandle's (no handle object to track)
const openFd = promisify(open);
const fstatFd = promisify(fstat);
const readFd = promisify(read);
const closeFd = promisify(close);

/** Files up to this size are read whole in one read and answered in one write; larger ones are streamed. */
const WHOLE_FILE_BYTES = 1024 * 1024;
/**
 * Files up to this size are gzipped at once on the event loop (well under a millisecond: several times less work
 * than a gzip on the thread pool, whose set-up dominates for small files); larger ones on the thread pool.
 */
const GZIP_AT_ONCE_BYTES = 64 * 1024;
/** Read size of a streamed file. */
const STREAM_CHUNK = 1024 * 1024;

/** A private artifact's content URL must carry an unexpired signature of getArtifact, else 403 AccessDenied. */
function checkSignature(ctx: ServerContext, r: Request, taskId: string, run: number, name: string): void {
  const exp = Number(r.url.searchParams.get('exp'));
  const sig = r.url.searchParams.get('sig') ?? '';
  if (!(exp * 1000 > Date.now()) || !sameSecret(sig, ctx.contentSignature(taskId, run, name, exp)))
    throw new HttpError(403, 'AccessDenied', 'private content needs a valid signed URL from getArtifact');
}

/** Read size when sending a large file: two buffers of this size (at most the file's), reused for the whole answer. */
const SEND_CHUNK_BYTES = 4 * 1024 * 1024;

/** Write `chunk` to the answer; resolves once the socket took it (so its buffer may be reused). */
function writeChunk(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    res.write(chunk, (e) => (e ? reject(e) : resolve()));
  });
}

/**
 * Send `size` bytes of the open file `fd`, then end the answer: reads of SEND_CHUNK_BYTES into two buffers that are
 * reused (the next read overlaps the socket taking the previous chunk), never a new buffer per chunk. A file that
 * got shorter ends the answer early (the client sees a body shorter than its Content-Length); a closed connection
 * stops it (the write fails).
 */
async function sendOpenFile(res: ServerResponse, fd: number, size: number): Promise<void> {
  const bufs = [0, 1].map(() => Buffer.allocUnsafeSlow(Math.max(1, Math.min(size, SEND_CHUNK_BYTES))));
  let sent: Promise<void> = Promise.resolve();
  try {
    for (let pos = 0, i = 0; pos < size; i ^= 1) {
      const buf = bufs[i]!;
      // this buffer's previous chunk was sent: the write two chunks back was awaited before the last one started
      const { bytesRead } = await readFd(fd, buf, 0, Math.min(buf.length, size - pos), pos);
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

/** The first `size` bytes of the open file `fd` (a file that shrank meanwhile gives what is there). */
async function readWhole(fd: number, size: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(size);
  let n = 0;
  while (n < size) {
    const { bytesRead } = await readFd(fd, buf, n, size - n, n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return n === size ? buf : buf.subarray(0, n);
}

/**
 * Answer the open file `fd` of `size` bytes: gzipped when `gz`; else whole or, for the `truncate` / `wrong-length`
 * faults, with a wrong length or cut short. A small file is read whole and sent in one write; a larger one streamed
 * from the same descriptor (which the caller closes once this returns).
 */
async function serveFile(r: Request, fd: number, name: string, size: number, gz: boolean, fault?: Fault) {
  const type = contentTypeFor(name);
  if (fault?.kind === 'truncate') {
    r.res.writeHead(200, { 'content-type': type, 'content-length': String(size) });
    const cut = await readWhole(fd, Math.min(size, Math.max(0, fault.bytes)));
    r.res.write(cut, () => r.res.socket?.destroy());
    return;
  }
  const length = fault?.kind === 'wrong-length' ? size + fault.extra : size;
  if (size <= WHOLE_FILE_BYTES) {
    const bytes = await readWhole(fd, size);
    if (gz) {
      const zipped =
        size <= GZIP_AT_ONCE_BYTES
          ? gzipSync(bytes)
          : await new Promise<Buffer>((resolve, reject) =>
              gzip(bytes, (e, b) => (e ? reject(e) : resolve(b))),
            );
      r.res.writeHead(200, {
        'content-type': type,
        'content-encoding': 'gzip',
        'content-length': String(zipped.length),
      });
      r.res.end(zipped);
      return;
    }
    r.res.writeHead(200, { 'content-type': type, 'content-length': String(length) });
    r.res.end(bytes);
    return;
  }
  if (gz) {
    const stream = createReadStream('', {
      fd,
      start: 0,
      end: size - 1,
      highWaterMark: STREAM_CHUNK,
      autoClose: false,
    });
    r.res.writeHead(200, { 'content-type': type, 'content-encoding': 'gzip' });
    await pipeline(stream, createGzip(), r.res);
    return;
  }
  r.res.writeHead(200, { 'content-type': type, 'content-length': String(length) });
  await sendOpenFile(r.res, fd, size);
}

/**
 * GET /_content/<taskId>/<run>/<name> (what getArtifact's 303 points at): the artifact's bytes, gzipped when the
 * client accepts it and the artifact is text (see gzipAllowed); private artifacts need the signed URL; 404
 * ResourceNotFound when absent (or not a regular file). The file is opened once and read from that descriptor.
 * Fault target `content`.
 */
export async function content(ctx: ServerContext, r: Request): Promise<void> {
  const [, taskId, run, ...nameParts] = r.parts;
  const name = nameParts.join('/');
  if (!name.startsWith('public/')) checkSignature(ctx, r, taskId!, Number(run), name);
  const file = ctx.store.artifactPath(taskId!, Number(run), name);
  const fd = await openFd(file, 'r').catch(() => {
    throw new HttpError(404, 'ResourceNotFound', 'no such content');
  });
  try {
    const st = await fstatFd(fd);
    if (!st.isFile()) throw new HttpError(404, 'ResourceNotFound', 'no such content');
    const fault = await ctx.fault('content', r.res);
    if (fault && fault.kind !== 'truncate' && fault.kind !== 'wrong-length') return;
    const gz = !fault && gzipAllowed(String(r.req.headers['accept-encoding'] ?? ''), name);
    await serveFile(r, fd, name, st.size, gz, fault);
  } finally {
    await closeFd(fd);
  }
}
