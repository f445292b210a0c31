import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream, constants as fsConstants } from 'node:fs';
import { copyFile, link, mkdir, open, rm, stat, unlink, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { CotError, fsError } from '../errors.js';
import { assertArtifactName } from '../hashing/artifacts.js';
import { digestFile, type FileDigest } from '../hashing/digest.js';
import { parseJson } from '../json/parse.js';
import { fsyncDir } from '../util/atomic.js';
import { fsReason } from '../util/fs-paths.js';
import { checkOptions } from '../util/options.js';
import { contentTypeFor, DirectoryQueue } from './dir-store.js';

interface HawkCredentials {
  id: string;
  key: string;
  algorithm: string;
}

interface HawkArtifacts {
  ts: string;
  nonce: string;
  hash?: string;
}

interface HawkServer {
  authenticate(
    req: http.IncomingMessage,
    credentialsFunc: (id: string) => Promise<HawkCredentials | undefined>,
    options?: Record<string, unknown>,
  ): Promise<{ credentials: HawkCredentials; artifacts: HawkArtifacts }>;
  authenticatePayload(
    payload: Buffer,
    credentials: HawkCredentials,
    artifacts: HawkArtifacts,
    contentType: string | undefined,
  ): void;
  authenticateBewit(
    req: http.IncomingMessage,
    credentialsFunc: (id: string) => Promise<HawkCredentials | undefined>,
    options?: Record<string, unknown>,
  ): Promise<{ credentials: { id: string } }>;
}

/** A fault to inject into the next matching request (tests of retries and robustness). */
export type Fault =
  | { kind: 'status'; status: number }
  | { kind: 'reset' }
  | { kind: 'stall'; ms: number }
  | { kind: 'truncate'; bytes: number }
  /** uploads: read this many bytes of the body, then drop the connection */
  | { kind: 'reset-mid-body'; bytes: number }
  | { kind: 'wrong-length'; extra: number }
  | { kind: 'redirect'; location: string; storageType?: string };

/** Which requests a fault applies to. */
export type FaultTarget =
  | 'task'
  | 'get-artifact'
  | 'content'
  | 'create-artifact'
  | 'upload'
  | 'finish-artifact';

export class FaultPlan {
  private readonly queue = new Map<FaultTarget, Fault[]>();
  /** Inject `fault` into the next `times` requests of `target`. */
  add(target: FaultTarget, fault: Fault, times = 1): this {
    const list = this.queue.get(target) ?? [];
    for (let i = 0; i < times; i++) list.push(fault);
    this.queue.set(target, list);
    return this;
  }
  take(target: FaultTarget): Fault | undefined {
    return this.queue.get(target)?.shift();
  }
  clear(): void {
    this.queue.clear();
  }
}

export interface QueueServerOptions {
  /** the directory store to serve (its filesystem must support hard links: artifacts are created with link(2)) */
  dir: string;
  /** 0 = any free port (default) */
  port?: number;
  /** default 127.0.0.1 (loopback only) */
  host?: string;
  /** credentials allowed to write (createArtifact, uploads, finishArtifact); without them, writes are refused */
  credentials?: { clientId: string; accessToken: string };
  faults?: FaultPlan;
  /** largest accepted upload, bytes, counted after gzip content-encoding is decoded (default 8 GiB); over it: 413 */
  maxUploadBytes?: number;
  /**
   * ms a connection has to send its request line and headers (Node's `server.headersTimeout`; also how long a new
   * connection may stay silent). Default 30 000; then 408 or the connection is closed.
   */
  headersTimeoutMs?: number;
  /**
   * Request bodies must keep arriving: in every window of `bodyWindowMs` at least `minBodyBytesPerSecond` ×
   * window bytes (or the rest of the body) must come, else the connection is closed. Default 16 384 bytes/s.
   * Node's whole-request `requestTimeout` is off, so a large upload at a steady rate is never cut.
   */
  minBodyBytesPerSecond?: number;
  /** ms, the window of `minBodyBytesPerSecond` (default 30 000) */
  bodyWindowMs?: number;
}

export interface QueueServer {
  /** the rootUrl to give taskcluster-client */
  rootUrl: string;
  port: number;
  faults: FaultPlan;
  close(): Promise<void>;
}

/** What createArtifact(s3) issued a `/_upload/<token>` URL for. */
interface S3Upload {
  taskId: string;
  runId: number;
  name: string;
  contentType: string;
}

/** An object artifact between createArtifact(object) and finishArtifact. */
interface ObjectUpload {
  taskId: string;
  runId: number;
  name: string;
  contentType: string;
  uploadId: string;
  objectName: string;
  /** the latest complete upload of the object's data (a staging file), while the upload is open */
  staged?: string;
  /** set by the first finishUpload: from then on the data are these bytes and cannot change */
  lock?: { staged: string; digests: Promise<FileDigest['digests']> };
  /** a finishUpload's hashes matched the locked bytes */
  finished?: boolean;
  /** finishArtifact's commit (shared by concurrent or repeated calls) */
  commit?: Promise<void>;
}

const API = '/api/queue/v1';
const OBJECT_API = '/api/object/v1';
/** Hawk's default allowed clock skew (either way); a nonce is remembered as long as its timestamp is acceptable */
const HAWK_SKEW_SEC = 60;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

async function readBody(req: http.IncomingMessage, max = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > max) throw new HttpError(413, 'InputTooLarge', 'request body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function jsonBody(buf: Buffer): Record<string, unknown> {
  try {
    const v = parseJson(buf.toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'InputError', 'the request body must be a JSON object');
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;

/**
 * Hawk nonces seen, per client id, kept while their timestamp is still acceptable (ts + skew): a request signed
 * once is accepted once (the Hawk spec's replay protection). Memory is bounded by the requests of one window.
 */
class NonceCache {
  private readonly seen = new Map<string, number>(); // `${id}\0${nonce}` -> forget after (ms)
  private nextSweep = 0;

  constructor(private readonly skewMs: number) {}

  /** Record (id, nonce); false when it was already seen within the window (a replay). */
  claim(id: string, nonce: string, tsSec: number, now = Date.now()): boolean {
    if (now >= this.nextSweep) {
      for (const [k, until] of this.seen) if (until <= now) this.seen.delete(k);
      this.nextSweep = now + 1000;
    }
    const key = `${id}\0${nonce}`;
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return false;
    this.seen.set(key, Math.max(now, tsSec * 1000) + this.skewMs + 1000);
    return true;
  }
}

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
    const local = join(dirname(dest), `.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await copyFile(src, local, fsConstants.COPYFILE_EXCL);
      const fh = await open(local, 'r+');
      await fh.sync();
      await fh.close();
      await link(local, dest);
    } finally {
      await unlink(local).catch(() => undefined);
    }
  }
  await fsyncDir(dirname(dest));
}

/**
 * `cot queue serve`: a directory store served over the queue's own REST routes, so the real taskcluster-client works
 * against it unchanged (rootUrl http://127.0.0.1:PORT). Reads of `public/` artifacts are open and answer 303 to a
 * content URL, as the queue does; writes (createArtifact with storage types s3 and object, the upload PUT, the
 * object service's upload calls, finishArtifact) need Hawk-signed requests by the configured credentials.
 *
 * Rules (HTTP status, and where each comes from):
 * - Hawk (the Hawk spec; the queue's auth): a bad MAC, unknown client or stale timestamp (±60 s) is 401; a nonce
 *   seen before from the same client within the window is a replay, 401; a `hash` in the header must be the hash of
 *   the body, else 401 before anything happens.
 * - `/_upload/<token>` (the s3 putUrl of createArtifact) accepts only tokens createArtifact(s3) issued, each for one
 *   request: an uploadId, an object put token or a used token is 403 AccessDenied. A body that did not arrive whole,
 *   or a server fault (5xx), gives the token back, so the client's retry works.
 * - Object uploads (the object service's createUpload/finishUpload): the first finishUpload locks the data; a later
 *   PUT to its put URL is 403 and a later createUpload is 409, so finishArtifact commits exactly the bytes
 *   finishUpload hashed.
 * - Artifacts are created with link(2), never replacing (the queue's createArtifact: same content is idempotent,
 *   other content is RequestConflict): of racing uploads one wins; identical bytes later or at once are 200,
 *   different bytes 409. Stored bytes are always one complete upload.
 * - Bodies: at most `maxUploadBytes` after gzip decoding (413), at least `minBodyBytesPerSecond`; headers within
 *   `headersTimeoutMs`.
 */
export async function startQueueServer(o: QueueServerOptions): Promise<QueueServer> {
  checkOptions('startQueueServer', o, {
    dir: { kind: 'string', hint: 'the directory store to serve' },
    port: { kind: 'nonNegativeInteger', optional: true },
    host: { kind: 'string', optional: true },
    credentials: { kind: 'object', optional: true },
  });
  if (o.credentials !== undefined)
    checkOptions(
      'startQueueServer',
      o.credentials,
      { clientId: { kind: 'string' }, accessToken: { kind: 'string' } },
      'options.credentials',
    );
  // a store that does not exist is refused at start, not answered 404 for every task
  const st = await stat(o.dir).catch((e: unknown) => {
    const err = fsError(e, o.dir, 'directory store');
    throw err.code === 'FILE_NOT_FOUND'
      ? new CotError('FILE_NOT_FOUND', `directory store ${o.dir} does not exist: nothing to serve`, {
          cause: e,
        })
      : err;
  });
  if (!st.isDirectory()) throw new CotError('FILE_UNREADABLE', `directory store ${o.dir} is not a directory`);
  const store = new DirectoryQueue(o.dir);
  const faults = o.faults ?? new FaultPlan();
  const maxUpload = o.maxUploadBytes ?? 8 * 1024 ** 3;
  const headersTimeoutMs = o.headersTimeoutMs ?? 30_000;
  const minBodyRate = o.minBodyBytesPerSecond ?? 16 * 1024;
  const bodyWindowMs = o.bodyWindowMs ?? 30_000;
  for (const [k, v] of Object.entries({ headersTimeoutMs, minBodyRate, bodyWindowMs, maxUpload })) {
    if (!(Number.isFinite(v) && v > 0))
      throw new CotError('OPTIONS_INVALID', `startQueueServer: ${k} must be positive`, {
        details: { function: 'startQueueServer', option: k },
      });
  }
  const hawk = (createRequire(import.meta.url)('hawk') as { server: HawkServer }).server;
  const nonces = new NonceCache(HAWK_SKEW_SEC * 1000);
  const s3Uploads = new Map<string, S3Upload>(); // /_upload/<token> -> what it may write
  const objectUploads = new Map<string, ObjectUpload>(); // uploadId -> object upload
  const objectPutTokens = new Map<string, string>(); // /_objput/<token> -> uploadId
  const tempCreds = new Map<string, { accessToken: string; uploadId: string; objectName: string }>();
  let base = '';
  const urlKey = randomBytes(32);
  const contentSignature = (taskId: string, run: number, name: string, exp: number) =>
    createHmac('sha256', urlKey).update(`${taskId}\n${run}\n${name}\n${exp}`).digest('base64url');
  const staging = join(store.root, '.cot-staging');
  /** A message for a response body: the store's description and any path inside it are this machine's. */
  const publicMessage = (m: string) =>
    m.split(store.description).join('this queue').split(store.root).join('<store>');

  /**
   * Authenticate a request (Hawk header or, for GET, a bewit) and read its body (at most `maxBody` bytes). With a
   * header: MAC and timestamp (hawk), then the payload hash when the header has one, then the nonce: only a request
   * that passes all three is recorded, and nothing has happened before it does.
   */
  const authenticate = async (
    req: http.IncomingMessage,
    maxBody = 1024 * 1024,
  ): Promise<{ id: string; body: Buffer }> => {
    const lookup = async (id: string): Promise<HawkCredentials | undefined> => {
      if (o.credentials && id === o.credentials.clientId)
        return { id, key: o.credentials.accessToken, algorithm: 'sha256' };
      const t = tempCreds.get(id);
      return t ? { id, key: t.accessToken, algorithm: 'sha256' } : undefined;
    };
    const bewit = req.method === 'GET' && /[?&]bewit=/.test(req.url ?? '');
    if (!req.headers.authorization && !bewit)
      throw new HttpError(401, 'AuthenticationFailed', 'this route needs Hawk authentication');
    const failed = (e: unknown) =>
      new HttpError(401, 'AuthenticationFailed', `Hawk authentication failed: ${(e as Error).message}`);
    if (!req.headers.authorization) {
      try {
        const { credentials } = await hawk.authenticateBewit(req, lookup);
        return { id: credentials.id, body: await readBody(req, maxBody) };
      } catch (e) {
        if (e instanceof HttpError) throw e;
        throw failed(e);
      }
    }
    let auth: Awaited<ReturnType<HawkServer['authenticate']>>;
    try {
      auth = await hawk.authenticate(req, lookup, { timestampSkewSec: HAWK_SKEW_SEC });
    } catch (e) {
      throw failed(e);
    }
    const body = await readBody(req, maxBody);
    if (auth.artifacts.hash !== undefined) {
      try {
        hawk.authenticatePayload(body, auth.credentials, auth.artifacts, req.headers['content-type']);
      } catch (e) {
        throw failed(e);
      }
    }
    if (!nonces.claim(auth.credentials.id, auth.artifacts.nonce, Number(auth.artifacts.ts))) {
      throw new HttpError(
        401,
        'AuthenticationFailed',
        'Hawk authentication failed: replayed request (nonce)',
      );
    }
    return { id: auth.credentials.id, body };
  };
  const requireWriter = async (req: http.IncomingMessage, maxBody?: number): Promise<Buffer> => {
    const { id, body } = await authenticate(req, maxBody);
    if (!o.credentials || !sameSecret(id, o.credentials.clientId)) {
      throw new HttpError(403, 'InsufficientScopes', `client ${id} may not create artifacts`);
    }
    return body;
  };

  const applyFault = async (target: FaultTarget, res: http.ServerResponse): Promise<Fault | undefined> => {
    const f = faults.take(target);
    if (!f) return undefined;
    if (f.kind === 'status') {
      send(res, f.status, { code: 'InjectedFault', message: `injected ${f.status}` });
      return f;
    }
    if (f.kind === 'reset') {
      res.socket?.destroy();
      return f;
    }
    if (f.kind === 'reset-mid-body') {
      const req = res.req;
      let n = 0;
      await new Promise<void>((resolve) => {
        req.on('data', (c: Buffer) => {
          n += c.length;
          if (n >= f.bytes) {
            req.socket.destroy();
            resolve();
          }
        });
        req.on('end', () => resolve());
        req.on('close', () => resolve());
      });
      return f;
    }
    if (f.kind === 'stall') {
      await new Promise((r) => setTimeout(r, f.ms));
      return undefined; // then carry on normally (a slow server)
    }
    if (f.kind === 'redirect') {
      res.writeHead(303, {
        location: f.location,
        ...(f.storageType ? { 'x-taskcluster-artifact-storage-type': f.storageType } : {}),
      });
      res.end();
      return f;
    }
    return f; // truncate / wrong-length: handled by the content route
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', base);
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const path = url.pathname;

    if (path === `${API}/ping`) return send(res, 200, { alive: true, uptime: process.uptime() });

    // ---- queue routes: /api/queue/v1/task/<taskId>[/runs/<runId>]/artifacts[/<name>]
    if (path.startsWith(`${API}/task/`)) {
      const rest = parts.slice(4); // after api, queue, v1, task
      const taskId = rest[0]!;
      if (rest.length === 1 && method === 'GET') {
        if (await applyFault('task', res)) return;
        return send(res, 200, await store.task(taskId));
      }
      if (rest.length === 2 && rest[1] === 'status' && method === 'GET') {
        const task = await store.task(taskId);
        const status = await store.status(taskId);
        return send(res, 200, {
          status: {
            taskGroupId: task.taskGroupId,
            ...status,
            taskId,
            state: status.state ?? (status.runs.length ? 'completed' : 'unscheduled'),
          },
        });
      }
      let runId: number | undefined;
      let i = 1;
      if (rest[1] === 'runs') {
        if (!/^(0|[1-9][0-9]*)$/.test(rest[2] ?? '')) throw new HttpError(400, 'InputError', 'bad runId');
        runId = Number(rest[2]);
        i = 3;
      }
      if (rest[i] !== 'artifacts') throw new HttpError(404, 'ResourceNotFound', `no route ${path}`);
      const name = rest.slice(i + 1).join('/');
      if (name === '') {
        if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', method);
        const run = runId ?? (await store.latestRunId(taskId));
        return send(res, 200, { artifacts: await store.listArtifacts(taskId, run) });
      }
      try {
        assertArtifactName(name);
      } catch (e) {
        throw new HttpError(400, 'InputError', (e as Error).message);
      }
      if (method === 'GET') {
        if (!name.startsWith('public/')) await requireWriter(req);
        if (await applyFault('get-artifact', res)) return;
        const run = runId ?? (await store.latestRunId(taskId));
        const info = await store.artifactInfo(taskId, run, name);
        if (info?.storageType === 'error') {
          // what the queue answers for an error artifact: 424 with the worker's reason
          return send(res, 424, {
            reason: 'file-missing-on-worker',
            message: `artifact ${name} of ${taskId} run ${run} is an error artifact`,
          });
        }
        // a link serves the bytes stored under its name (a mirror keeps the followed bytes); a reference is marked as
        // one on its redirect, as the queue does, so that clients can refuse a URL the task chose
        const served = info?.storageType === 'reference' ? 'reference' : 's3';
        await stat(store.artifactPath(taskId, run, name)).catch(() => {
          throw new HttpError(404, 'ResourceNotFound', `artifact ${name} of ${taskId} run ${run} not found`);
        });
        let location = `${base}/_content/${taskId}/${run}/${name.split('/').map(encodeURIComponent).join('/')}`;
        if (!name.startsWith('public/')) {
          // like a presigned storage URL: valid for 15 minutes, for this artifact only
          const exp = Math.floor(Date.now() / 1000) + 900;
          location += `?exp=${exp}&sig=${contentSignature(taskId, run, name, exp)}`;
        }
        return send(
          res,
          303,
          { storageType: served, url: location },
          { location, 'x-taskcluster-artifact-storage-type': served },
        );
      }
      if (runId === undefined) throw new HttpError(404, 'ResourceNotFound', `no route ${method} ${path}`);
      if (method === 'POST') {
        const body = jsonBody(await requireWriter(req));
        if (await applyFault('create-artifact', res)) return;
        const storageType = body.storageType;
        if (storageType !== 's3' && storageType !== 'object')
          throw new HttpError(400, 'InputError', `storageType ${String(storageType)} is not supported here`);
        if (typeof body.expires !== 'string' || Number.isNaN(Date.parse(body.expires)))
          throw new HttpError(400, 'InputError', 'expires is required');
        const contentType = typeof body.contentType === 'string' ? body.contentType : 'application/binary';
        const task = await store.task(taskId);
        if (typeof task.expires === 'string' && Date.parse(body.expires) > Date.parse(task.expires)) {
          throw new HttpError(
            400,
            'InputError',
            `expires ${body.expires} is after the task's expires ${task.expires}`,
          );
        }
        await stat(store.runDir(taskId, runId)).catch(() => {
          throw new HttpError(409, 'RequestConflict', `task ${taskId} run ${runId} does not exist`);
        });
        if (storageType === 's3') {
          const token = randomBytes(18).toString('base64url');
          s3Uploads.set(token, { taskId, runId, name, contentType });
          return send(res, 200, {
            storageType: 's3',
            putUrl: `${base}/_upload/${token}`,
            expires: body.expires,
            contentType,
          });
        }
        const uploadId = randomBytes(16).toString('base64url');
        const objectName = `t/${taskId}/${runId}/${name}`;
        const clientId = `cot-object-upload/${uploadId}`;
        const accessToken = randomBytes(32).toString('base64url');
        tempCreds.set(clientId, { accessToken, uploadId, objectName });
        objectUploads.set(uploadId, { taskId, runId, name, contentType, uploadId, objectName });
        return send(res, 200, {
          storageType: 'object',
          name: objectName,
          projectId: 'cot',
          uploadId,
          expires: body.expires,
          credentials: { clientId, accessToken },
        });
      }
      if (method === 'PUT') {
        // finishArtifact: commit exactly the bytes finishUpload locked and checked
        const body = jsonBody(await requireWriter(req));
        if (await applyFault('finish-artifact', res)) return;
        const p = typeof body.uploadId === 'string' ? objectUploads.get(body.uploadId) : undefined;
        if (!p || p.taskId !== taskId || p.runId !== runId || p.name !== name) {
          throw new HttpError(400, 'InputError', 'unknown uploadId for this artifact');
        }
        if (!p.finished || !p.lock)
          throw new HttpError(400, 'InputError', 'Object storing artifact data does not exist');
        p.commit ??= commitArtifact(p.lock.staged, store.artifactPath(taskId, runId, name)).then(() => {
          // done: the upload's credentials and put URLs are dead
          for (const [k, v] of tempCreds) if (v.uploadId === p.uploadId) tempCreds.delete(k);
          for (const [k, v] of objectPutTokens) if (v === p.uploadId) objectPutTokens.delete(k);
        });
        await p.commit;
        return send(res, 200, {});
      }
      throw new HttpError(405, 'MethodNotAllowed', method);
    }

    // ---- the s3-style upload target: only tokens of createArtifact(s3), one request each
    if (path.startsWith('/_upload/') && method === 'PUT') {
      const token = parts.length === 2 ? (parts[1] ?? '') : '';
      const p = s3Uploads.get(token);
      if (!p) throw new HttpError(403, 'AccessDenied', 'unknown or used upload URL');
      if (await applyFault('upload', res)) return;
      if ((req.headers['content-type'] ?? '') !== p.contentType) {
        throw new HttpError(
          403,
          'SignatureDoesNotMatch',
          `Content-Type must be ${p.contentType} as in createArtifact`,
        );
      }
      // claim the token for this request (a concurrent or later use is refused) ...
      if (s3Uploads.get(token) !== p || !s3Uploads.delete(token))
        throw new HttpError(403, 'AccessDenied', 'unknown or used upload URL');
      // ... and give it back, before anything else, when the body did not arrive: the client retries
      const staged = await receiveBody(req, maxUpload, () => s3Uploads.set(token, p));
      try {
        await commitArtifact(staged, store.artifactPath(p.taskId, p.runId, p.name));
      } catch (e) {
        if (!(e instanceof HttpError)) s3Uploads.set(token, p); // a server fault (5xx): the client's retry may use it
        throw e;
      }
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }

    // ---- the object service (just what the client's upload() uses)
    if (path.startsWith(`${OBJECT_API}/upload/`) && method === 'PUT') {
      const { id, body: raw } = await authenticate(req, 16 * 1024 * 1024);
      const cred = tempCreds.get(id);
      const objectName = parts.slice(4).join('/');
      if (!cred || cred.objectName !== objectName)
        throw new HttpError(403, 'InsufficientScopes', `not allowed to upload ${objectName}`);
      const body = jsonBody(raw);
      const p = objectUploads.get(cred.uploadId)!;
      if (body.uploadId !== cred.uploadId) throw new HttpError(409, 'RequestConflict', 'uploadId mismatch');
      const finished = () =>
        new HttpError(409, 'RequestConflict', `object ${objectName} is finished: its data cannot change`);
      if (p.lock) throw finished();
      const methods = (body.proposedUploadMethods ?? {}) as Record<string, Record<string, unknown>>;
      if (methods.dataInline && typeof methods.dataInline.objectData === 'string') {
        await mkdir(staging, { recursive: true });
        const staged = join(staging, randomBytes(8).toString('hex'));
        await writeFile(staged, Buffer.from(methods.dataInline.objectData, 'base64'), { flag: 'wx' });
        if (p.lock) {
          await unlink(staged).catch(() => undefined);
          throw finished();
        }
        replaceStaged(p, staged);
        return send(res, 200, {
          expires: body.expires,
          projectId: 'cot',
          uploadId: cred.uploadId,
          uploadMethod: { dataInline: true },
        });
      }
      if (methods.putUrl) {
        const token = randomBytes(18).toString('base64url');
        objectPutTokens.set(token, p.uploadId);
        return send(res, 200, {
          expires: body.expires,
          projectId: 'cot',
          uploadId: cred.uploadId,
          uploadMethod: {
            putUrl: {
              url: `${base}/_objput/${token}`,
              expires: new Date(Date.now() + 3600_000).toJSON(),
              headers: {
                'Content-Type': String(methods.putUrl.contentType ?? p.contentType),
                'Content-Length': String(methods.putUrl.contentLength ?? 0),
              },
            },
          },
        });
      }
      return send(res, 200, {
        expires: body.expires,
        projectId: 'cot',
        uploadId: cred.uploadId,
        uploadMethod: {},
      });
    }
    if (path.startsWith('/_objput/') && method === 'PUT') {
      const uploadId = parts.length === 2 ? objectPutTokens.get(parts[1] ?? '') : undefined;
      const p = uploadId !== undefined ? objectUploads.get(uploadId) : undefined;
      if (!p) throw new HttpError(403, 'AccessDenied', 'unknown upload URL');
      if (await applyFault('upload', res)) return;
      if (p.lock) throw new HttpError(403, 'AccessDenied', 'the object is finished: its data cannot change');
      const staged = await receiveBody(req, maxUpload);
      if (p.lock) {
        // finishUpload came while this body was arriving: the locked bytes stay
        await unlink(staged).catch(() => undefined);
        throw new HttpError(409, 'RequestConflict', 'the object was finished during this upload');
      }
      replaceStaged(p, staged);
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }
    if (path.startsWith(`${OBJECT_API}/finish-upload/`) && method === 'POST') {
      const { id, body: raw } = await authenticate(req);
      const cred = tempCreds.get(id);
      const objectName = parts.slice(4).join('/');
      if (!cred || cred.objectName !== objectName)
        throw new HttpError(403, 'InsufficientScopes', `not allowed to finish ${objectName}`);
      const body = jsonBody(raw);
      const p = objectUploads.get(cred.uploadId)!;
      if (body.uploadId !== undefined && body.uploadId !== cred.uploadId)
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
        if ((alg === 'sha256' || alg === 'sha512') && have[alg] !== want) {
          throw new HttpError(409, 'RequestConflict', `${alg} of the uploaded data does not match`);
        }
      }
      p.finished = true;
      return send(res, 200, {});
    }

    // ---- content (what a 303 points at)
    if (path.startsWith('/_content/') && method === 'GET') {
      const [, taskId, run, ...nameParts] = parts;
      const name = nameParts.join('/');
      if (!name.startsWith('public/')) {
        const exp = Number(url.searchParams.get('exp'));
        const sig = url.searchParams.get('sig') ?? '';
        if (
          !(exp * 1000 > Date.now()) ||
          !sameSecret(sig, contentSignature(taskId!, Number(run), name, exp))
        ) {
          throw new HttpError(
            403,
            'AccessDenied',
            'private content needs a valid signed URL from getArtifact',
          );
        }
      }
      const file = store.artifactPath(taskId!, Number(run), name);
      const st = await stat(file).catch(() => {
        throw new HttpError(404, 'ResourceNotFound', 'no such content');
      });
      const fault = await applyFault('content', res);
      if (fault && fault.kind !== 'truncate' && fault.kind !== 'wrong-length') return;
      const gzip =
        /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) &&
        contentTypeFor(name) === 'text/plain' &&
        !fault;
      if (gzip) {
        res.writeHead(200, { 'content-type': contentTypeFor(name), 'content-encoding': 'gzip' });
        await pipeline(createReadStream(file), createGzip(), res);
        return;
      }
      const length = fault?.kind === 'wrong-length' ? st.size + fault.extra : st.size;
      res.writeHead(200, { 'content-type': contentTypeFor(name), 'content-length': String(length) });
      if (fault?.kind === 'truncate') {
        const stream = createReadStream(file, { start: 0, end: Math.max(0, fault.bytes - 1) });
        stream.on('end', () => res.socket?.destroy());
        stream.pipe(res, { end: false });
        return;
      }
      await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), res);
      return;
    }
    throw new HttpError(404, 'ResourceNotFound', `no route ${method} ${path}`);
  };

  /** An open object upload's data are now `staged`; the previous staging file goes. */
  function replaceStaged(p: ObjectUpload, staged: string): void {
    const old = p.staged;
    p.staged = staged;
    if (old) unlink(old).catch(() => undefined);
  }

  /**
   * Write the request body to a new staging file (fsynced) and return its path. Content-Length is required (411)
   * and must be the exact wire length (400); gzip content-encoding is decoded and the DECODED bytes are bounded by
   * `max` (413, with at most `max` bytes written). On any failure `onFail` runs at once, then the staging file is
   * removed.
   */
  async function receiveBody(
    req: http.IncomingMessage,
    max: number,
    onFail: () => void = () => undefined,
  ): Promise<string> {
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
    try {
      if (!Number.isSafeInteger(declared) || declared < 0)
        throw new HttpError(411, 'MissingContentLength', 'Content-Length is required');
      if (declared > max) throw new HttpError(413, 'EntityTooLarge', `over ${max} bytes`);
      if (encoding !== 'gzip' && encoding !== 'identity')
        throw new HttpError(415, 'UnsupportedContentEncoding', `content-encoding ${encoding}`);
      await mkdir(staging, { recursive: true });
    } catch (e) {
      onFail();
      throw e;
    }
    const staged = join(staging, randomBytes(8).toString('hex'));
    let received = 0;
    let decoded = 0;
    const wire = new Transform({
      transform(c: Buffer, _e, cb) {
        received += c.length;
        if (received > declared) cb(new Error(`more than the declared ${declared} bytes`));
        else cb(null, c);
      },
    });
    const bound = new Transform({
      transform(c: Buffer, _e, cb) {
        decoded += c.length;
        if (decoded > max) cb(new HttpError(413, 'EntityTooLarge', `the decoded body is over ${max} bytes`));
        else cb(null, c);
      },
    });
    const out = createWriteStream(staged, { flags: 'wx', mode: 0o644 });
    try {
      if (encoding === 'gzip') await pipeline(req, wire, createGunzip(), bound, out);
      else await pipeline(req, wire, bound, out);
      if (received !== declared)
        throw new HttpError(400, 'IncompleteBody', `received ${received} of ${declared} bytes`);
      const fh = await open(staged, 'r+');
      await fh.sync();
      await fh.close();
      return staged;
    } catch (e) {
      onFail();
      await unlink(staged).catch(() => undefined);
      if (e instanceof HttpError) throw e;
      throw new HttpError(400, 'IncompleteBody', `upload failed: ${fsReason(e)}`);
    }
  }

  /**
   * Create the artifact `dest` from a complete staging file, atomically and never replacing (linkNoReplace): when
   * `dest` exists already, the same bytes are success (an idempotent retry, like the queue's createArtifact) and
   * other bytes are 409 RequestConflict. Comparing streams both files (sizes first); the staging file is removed.
   */
  async function commitArtifact(staged: string, dest: string): Promise<void> {
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

  /**
   * A request body must keep arriving (see `minBodyBytesPerSecond`): checked once per window on the socket's byte
   * count. Bytes waiting for the server to read them mean the server is the slow one, so no cut then.
   */
  function guardBody(req: http.IncomingMessage): void {
    const length = req.headers['content-length'];
    const hasBody =
      (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody || req.complete) return;
    const sock = req.socket;
    const need = (minBodyRate * bodyWindowMs) / 1000;
    let mark = sock.bytesRead;
    const timer = setInterval(() => {
      if (req.complete || sock.destroyed) {
        clearInterval(timer);
        return;
      }
      const got = sock.bytesRead - mark;
      mark = sock.bytesRead;
      if (got >= need || req.readableLength > 0) return;
      clearInterval(timer);
      sock.destroy();
    }, bodyWindowMs);
    timer.unref();
    const stop = () => clearInterval(timer);
    req.once('end', stop);
    req.once('close', stop);
  }

  const server = http.createServer(
    { connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4))) },
    (req, res) => {
      guardBody(req);
      handle(req, res).catch((e: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (e instanceof HttpError) return send(res, e.status, { code: e.code, message: e.message });
        // the queue's own error names, and never a path of this machine in the body
        if (e instanceof CotError) {
          const [status, code] =
            e.code === 'QUEUE_NOT_FOUND'
              ? [404, 'ResourceNotFound']
              : e.code === 'OPTIONS_INVALID' || e.code === 'USAGE' || e.code === 'ARTIFACT_NAME_INVALID'
                ? [400, 'InputError']
                : [500, 'InternalServerError'];
          return send(res, status, { code, message: publicMessage(e.message) });
        }
        return send(res, 500, { code: 'InternalServerError', message: publicMessage(fsReason(e)) });
      });
    },
  );
  // headers: Node's own deadline (answers 408); the whole-request timeout is off (a long upload at a steady rate
  // is fine), bodies are held to a minimum rate by guardBody instead
  server.headersTimeout = headersTimeoutMs;
  server.requestTimeout = 0;
  // Node's header deadline starts with the first byte: a connection that stays silent is closed here
  server.on('connection', (sock: Socket) => {
    const timer = setTimeout(() => {
      if (sock.bytesRead === 0) sock.destroy();
    }, headersTimeoutMs);
    timer.unref();
    sock.once('close', () => clearTimeout(timer));
  });
  await rm(staging, { recursive: true, force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  base = `http://${host}:${addr.port}`;
  return {
    rootUrl: base,
    port: addr.port,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
