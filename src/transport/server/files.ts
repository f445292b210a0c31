import { randomBytes } from 'node:crypto';
import { createWriteStream, constants as fsConstants } from 'node:fs';
import { copyFile, link, mkdir, open, stat, unlink } from 'node:fs/promises';
import type * as http from 'node:http';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { CotError } from '../../errors.js';
import { digestFile } from '../../hashing/digest.js';
import { fsyncDir, tempNameFor } from '../../util/atomic.js';
import { fsReason } from '../../util/fs-paths.js';
import { errno, HttpError } from './errors.js';

/** Same bytes? Sizes first (no reading when they differ), then sha256 of both, streamed in bounded memory. */
async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  if (!sb.isFile() || sa.size !== sb.size) return false;
  try {
    const da = await digestFile(a, ['sha256']);
    const db = await digestFile(b, ['sha256']);
    return da.size === db.size && da.digests.sha256 === db.digests.sha256;
  } catch (e) {
    if (e instanceof CotError && e.code === 'ARTIFACT_UNSAFE_FILE') return false;
    throw e;
  }
}

/** fsync a file's data. */
async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  await fh.sync();
  await fh.close();
}

/**
 * Give the complete file `src` the name `dest` unless `dest` exists: link(2) never replaces, so of racing writers
 * exactly one creates the name (the others get EEXIST) and a reader never sees a partial file. When `src` is on
 * another filesystem (EXDEV), it is first copied beside `dest` (a hidden `.tmp` the listing skips).
 */
async function linkNoReplace(src: string, dest: string): Promise<void> {
  try {
    await link(src, dest);
  } catch (e) {
    if (errno(e) !== 'EXDEV') throw e;
    const local = join(dirname(dest), tempNameFor(basename(dest)));
    try {
      await copyFile(src, local, fsConstants.COPYFILE_EXCL);
      await syncFile(local);
      await link(local, dest);
    } finally {
      await unlink(local).catch(() => undefined);
    }
  }
  await fsyncDir(dirname(dest));
}

/**
 * Create the artifact `dest` from a complete staging file, atomically and never replacing (linkNoReplace): when
 * `dest` exists already, the same bytes are success (an idempotent retry, like the queue's createArtifact) and
 * other bytes are 409 RequestConflict. Comparing streams both files (sizes first); the staging file is removed.
 */
export async function commitArtifact(staged: string, dest: string): Promise<void> {
  const conflict = (why: string) => new HttpError(409, 'RequestConflict', `artifact ${why}`);
  try {
    try {
      await mkdir(dirname(dest), { recursive: true });
    } catch (e) {
      if (errno(e) === 'EEXIST' || errno(e) === 'ENOTDIR') throw conflict('name is taken by a file');
      throw e;
    }
    try {
      await linkNoReplace(staged, dest);
      return;
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
    }
    if (!(await sameContent(staged, dest))) throw conflict('already exists with different content');
  } finally {
    await unlink(staged).catch(() => undefined);
  }
}

/** A Transform counting bytes into `count`, failing with `tooMany()` once they pass `max`. */
function counter(max: number, count: { n: number }, tooMany: () => Error): Transform {
  return new Transform({
    transform(c: Buffer, _e, cb) {
      count.n += c.length;
      if (count.n > max) cb(tooMany());
      else cb(null, c);
    },
  });
}

/**
 * The request's declared length and encoding, checked: Content-Length is required (411) and at most `max` (413);
 * the encoding is gzip or identity (415).
 */
function bodyHead(req: http.IncomingMessage, max: number): { declared: number; gzip: boolean } {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (!Number.isSafeInteger(declared) || declared < 0)
    throw new HttpError(411, 'MissingContentLength', 'Content-Length is required');
  if (declared > max) throw new HttpError(413, 'EntityTooLarge', `over ${max} bytes`);
  if (encoding !== 'gzip' && encoding !== 'identity')
    throw new HttpError(415, 'UnsupportedContentEncoding', `content-encoding ${encoding}`);
  return { declared, gzip: encoding === 'gzip' };
}

/**
 * Write the request body to a new file in `staging` (fsynced) and return its path. Content-Length is required (411)
 * and must be the exact wire length (400); gzip content-encoding is decoded and the DECODED bytes are bounded by
 * `max` (413, with at most `max` bytes written). On any failure `onFail` runs at once, then the staging file is
 * removed.
 */
export async function receiveBody(
  req: http.IncomingMessage,
  staging: string,
  max: number,
  onFail: () => void = () => undefined,
): Promise<string> {
  let head: { declared: number; gzip: boolean };
  try {
    head = bodyHead(req, max);
    await mkdir(staging, { recursive: true });
  } catch (e) {
    onFail();
    throw e;
  }
  const { declared, gzip } = head;
  const staged = join(staging, randomBytes(8).toString('hex'));
  const received = { n: 0 };
  const wire = counter(declared, received, () => new Error(`more than the declared ${declared} bytes`));
  const bound = counter(
    max,
    { n: 0 },
    () => new HttpError(413, 'EntityTooLarge', `the decoded body is over ${max} bytes`),
  );
  const out = createWriteStream(staged, { flags: 'wx', mode: 0o644 });
  try {
    if (gzip) await pipeline(req, wire, createGunzip(), bound, out);
    else await pipeline(req, wire, bound, out);
    if (received.n !== declared)
      throw new HttpError(400, 'IncompleteBody', `received ${received.n} of ${declared} bytes`);
    await syncFile(staged);
    return staged;
  } catch (e) {
    onFail();
    await unlink(staged).catch(() => undefined);
    if (e instanceof HttpError) throw e;
    throw new HttpError(400, 'IncompleteBody', `upload failed: ${fsReason(e)}`);
  }
}
