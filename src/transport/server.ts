import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { CotError } from '../errors.js';
import { assertArtifactName } from '../hashing/artifacts.js';
import { digestFile } from '../hashing/digest.js';
import { parseJson } from '../json/parse.js';
import { atomicWriteStream, contentTypeFor, DirectoryQueue } from './dir-store.js';

interface HawkServer {
  authenticate(
    req: http.IncomingMessage,
    credentialsFunc: (id: string) => Promise<{ id: string; key: string; algorithm: string } | undefined>,
    options?: Record<string, unknown>,
  ): Promise<{ credentials: { id: string } }>;
  authenticateBewit(
    req: http.IncomingMessage,
    credentialsFunc: (id: string) => Promise<{ id: string; key: string; algorithm: string } | undefined>,
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
  /** the directory store to serve */
  dir: string;
  /** 0 = any free port (default) */
  port?: number;
  /** default 127.0.0.1 (loopback only) */
  host?: string;
  /** credentials allowed to write (createArtifact, uploads, finishArtifact); without them, writes are refused */
  credentials?: { clientId: string; accessToken: string };
  faults?: FaultPlan;
  /** largest accepted upload body, bytes (default 8 GiB) */
  maxUploadBytes?: number;
}

export interface QueueServer {
  /** the rootUrl to give taskcluster-client */
  rootUrl: string;
  port: number;
  faults: FaultPlan;
  close(): Promise<void>;
}

interface PendingUpload {
  taskId: string;
  runId: number;
  name: string;
  contentType: string;
  storageType: 's3' | 'object';
  uploadId?: string;
  objectName?: string;
  /** object uploads: where the finished object waits for finishArtifact */
  staged?: string;
  finished?: boolean;
}

const API = '/api/queue/v1';
const OBJECT_API = '/api/object/v1';

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

/**
 * `cot queue serve`: a directory store served over the queue's own REST routes, so the real taskcluster-client works
 * against it unchanged (rootUrl http://127.0.0.1:PORT). Reads of `public/` artifacts are open and answer 303 to a
 * content URL, as the queue does; writes (createArtifact with storage types s3 and object, the upload PUT, the
 * object service's upload calls, finishArtifact) need Hawk-signed requests by the configured credentials. Uploads
 * land atomically: a temp file renamed into place, never a partial file.
 */
export async function startQueueServer(o: QueueServerOptions): Promise<QueueServer> {
  const store = new DirectoryQueue(o.dir);
  const faults = o.faults ?? new FaultPlan();
  const maxUpload = o.maxUploadBytes ?? 8 * 1024 ** 3;
  const hawk = (createRequire(import.meta.url)('hawk') as { server: HawkServer }).server;
  const pending = new Map<string, PendingUpload>(); // token or uploadId -> upload
  const tempCreds = new Map<string, { accessToken: string; uploadId: string; objectName: string }>();
  let base = '';
  const urlKey = randomBytes(32);
  const contentSignature = (taskId: string, run: number, name: string, exp: number) =>
    createHmac('sha256', urlKey).update(`${taskId}\n${run}\n${name}\n${exp}`).digest('base64url');
  const staging = join(store.root, '.cot-staging');

  const authenticate = async (req: http.IncomingMessage): Promise<string> => {
    const lookup = async (id: string) => {
      if (o.credentials && id === o.credentials.clientId)
        return { id, key: o.credentials.accessToken, algorithm: 'sha256' };
      const t = tempCreds.get(id);
      return t ? { id, key: t.accessToken, algorithm: 'sha256' } : undefined;
    };
    const bewit = req.method === 'GET' && /[?&]bewit=/.test(req.url ?? '');
    if (!req.headers.authorization && !bewit)
      throw new HttpError(401, 'AuthenticationFailed', 'this route needs Hawk authentication');
    try {
      const { credentials } = req.headers.authorization
        ? await hawk.authenticate(req, lookup)
        : await hawk.authenticateBewit(req, lookup);
      return credentials.id;
    } catch (e) {
      throw new HttpError(401, 'AuthenticationFailed', `Hawk authentication failed: ${(e as Error).message}`);
    }
  };
  const requireWriter = async (req: http.IncomingMessage): Promise<void> => {
    const id = await authenticate(req);
    if (!o.credentials || !sameSecret(id, o.credentials.clientId)) {
      throw new HttpError(403, 'InsufficientScopes', `client ${id} may not create artifacts`);
    }
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
        if (info && info.storageType !== 's3' && info.storageType !== 'object') {
          throw new HttpError(
            404,
            'ResourceNotFound',
            `artifact ${name} is a ${info.storageType} artifact, which this server does not serve`,
          );
        }
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
          { storageType: 's3', url: location },
          { location, 'x-taskcluster-artifact-storage-type': 's3' },
        );
      }
      if (runId === undefined) throw new HttpError(404, 'ResourceNotFound', `no route ${method} ${path}`);
      if (method === 'POST') {
        await requireWriter(req);
        if (await applyFault('create-artifact', res)) return;
        const body = jsonBody(await readBody(req));
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
          pending.set(token, { taskId, runId, name, contentType, storageType });
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
        pending.set(uploadId, { taskId, runId, name, contentType, storageType, uploadId, objectName });
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
        // finishArtifact
        await requireWriter(req);
        if (await applyFault('finish-artifact', res)) return;
        const body = jsonBody(await readBody(req));
        const p = typeof body.uploadId === 'string' ? pending.get(body.uploadId) : undefined;
        if (p?.storageType !== 'object' || p.taskId !== taskId || p.runId !== runId || p.name !== name) {
          throw new HttpError(400, 'InputError', 'unknown uploadId for this artifact');
        }
        if (!p.finished || !p.staged)
          throw new HttpError(400, 'InputError', 'Object storing artifact data does not exist');
        await mkdir(dirname(store.artifactPath(taskId, runId, name)), { recursive: true });
        await commitArtifact(p.staged, store.artifactPath(taskId, runId, name));
        pending.delete(p.uploadId!);
        return send(res, 200, {});
      }
      throw new HttpError(405, 'MethodNotAllowed', method);
    }

    // ---- the s3-style upload target
    if (path.startsWith('/_upload/') && method === 'PUT') {
      const token = parts[1] ?? '';
      const p = pending.get(token);
      if (!p) throw new HttpError(403, 'AccessDenied', 'unknown or used upload URL');
      if (await applyFault('upload', res)) return;
      if ((req.headers['content-type'] ?? '') !== p.contentType) {
        throw new HttpError(
          403,
          'SignatureDoesNotMatch',
          `Content-Type must be ${p.contentType} as in createArtifact`,
        );
      }
      const staged = await receiveBody(req, staging, maxUpload);
      try {
        await commitArtifact(staged, store.artifactPath(p.taskId, p.runId, p.name));
      } catch (e) {
        await unlink(staged).catch(() => undefined);
        throw e;
      }
      pending.delete(token);
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }

    // ---- the object service (just what the client's upload() uses)
    if (path.startsWith(`${OBJECT_API}/upload/`) && method === 'PUT') {
      const id = await authenticate(req);
      const cred = tempCreds.get(id);
      const objectName = parts.slice(4).join('/');
      if (!cred || cred.objectName !== objectName)
        throw new HttpError(403, 'InsufficientScopes', `not allowed to upload ${objectName}`);
      const body = jsonBody(await readBody(req, 16 * 1024 * 1024));
      const p = pending.get(cred.uploadId)!;
      if (body.uploadId !== cred.uploadId) throw new HttpError(409, 'RequestConflict', 'uploadId mismatch');
      const methods = (body.proposedUploadMethods ?? {}) as Record<string, Record<string, unknown>>;
      if (methods.dataInline && typeof methods.dataInline.objectData === 'string') {
        await mkdir(staging, { recursive: true });
        const staged = join(staging, randomBytes(8).toString('hex'));
        const { writeFile } = await import('node:fs/promises');
        await writeFile(staged, Buffer.from(methods.dataInline.objectData, 'base64'));
        p.staged = staged;
        return send(res, 200, {
          expires: body.expires,
          projectId: 'cot',
          uploadId: cred.uploadId,
          uploadMethod: { dataInline: true },
        });
      }
      if (methods.putUrl) {
        const token = randomBytes(18).toString('base64url');
        pending.set(`obj:${token}`, p);
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
      const p = pending.get(`obj:${parts[1] ?? ''}`);
      if (!p) throw new HttpError(403, 'AccessDenied', 'unknown upload URL');
      if (await applyFault('upload', res)) return;
      p.staged = await receiveBody(req, staging, maxUpload);
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }
    if (path.startsWith(`${OBJECT_API}/finish-upload/`) && method === 'POST') {
      const id = await authenticate(req);
      const cred = tempCreds.get(id);
      const objectName = parts.slice(4).join('/');
      if (!cred || cred.objectName !== objectName)
        throw new HttpError(403, 'InsufficientScopes', `not allowed to finish ${objectName}`);
      const body = jsonBody(await readBody(req));
      const p = pending.get(cred.uploadId)!;
      if (!p.staged) throw new HttpError(400, 'InputError', 'no data was uploaded');
      const hashes = (body.hashes ?? {}) as Record<string, string>;
      const d = await digestFile(p.staged, ['sha256', 'sha512']);
      for (const [alg, want] of Object.entries(hashes)) {
        if ((alg === 'sha256' || alg === 'sha512') && d.digests[alg] !== want) {
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

  /** Write the request body (gzip content-encoding removed) to a staging file; check the declared length. */
  async function receiveBody(req: http.IncomingMessage, dir: string, max: number): Promise<string> {
    await mkdir(dir, { recursive: true });
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (!Number.isSafeInteger(declared))
      throw new HttpError(411, 'MissingContentLength', 'Content-Length is required');
    if (declared > max) throw new HttpError(413, 'EntityTooLarge', `over ${max} bytes`);
    const staged = join(dir, randomBytes(8).toString('hex'));
    let received = 0;
    const counter = new Transform({
      transform(c: Buffer, _e, cb) {
        received += c.length;
        if (received > declared) cb(new Error(`more than the declared ${declared} bytes`));
        else cb(null, c);
      },
    });
    const abort = () => counter.destroy(new Error('the client closed the connection mid-body'));
    req.on('aborted', abort);
    req.on('error', abort);
    const gz = (req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip';
    const wire = req.pipe(counter);
    const body = gz ? wire.pipe(createGunzip()) : wire;
    if (gz) wire.on('error', (e) => body.destroy(e));
    try {
      await atomicWriteStream(staged, body);
    } catch (e) {
      await unlink(staged).catch(() => undefined);
      throw new HttpError(400, 'IncompleteBody', `upload failed: ${(e as Error).message}`);
    }
    if (received !== declared) {
      await unlink(staged).catch(() => undefined);
      throw new HttpError(400, 'IncompleteBody', `received ${received} of ${declared} bytes`);
    }
    return staged;
  }

  /** Move a staged file into place; an existing artifact with other bytes is a conflict (409). */
  async function commitArtifact(staged: string, dest: string): Promise<void> {
    await mkdir(dirname(dest), { recursive: true });
    const existing = await readFile(dest).then(
      (b) => createHash('sha256').update(b).digest('hex'),
      () => undefined,
    );
    if (existing !== undefined) {
      const incoming = (await digestFile(staged, ['sha256'])).digests.sha256;
      await unlink(staged).catch(() => undefined);
      if (incoming !== existing)
        throw new HttpError(409, 'RequestConflict', 'artifact already exists with different content');
      return;
    }
    await rename(staged, dest);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof HttpError) return send(res, e.status, { code: e.code, message: e.message });
      if (e instanceof CotError) {
        const status =
          e.code === 'TRANSPORT_NOT_FOUND'
            ? 404
            : e.code === 'USAGE' || e.code === 'ARTIFACT_NAME_INVALID'
              ? 400
              : 500;
        return send(res, status, { code: e.code, message: e.message });
      }
      return send(res, 500, { code: 'InternalServerError', message: String(e) });
    });
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
