import { rm, stat } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CotError, fsError } from '../errors.js';
import { checkOptions } from '../util/options.js';
import { DirectoryQueue } from './dir-store.js';
import { closeSilentConnections, guardBody } from './server/connection.js';
import { ServerContext } from './server/context.js';
import { FaultPlan } from './server/faults.js';
import { handle } from './server/router.js';

export { type Fault, FaultPlan, type FaultTarget } from './server/faults.js';

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

/** Check startQueueServer's options: OPTIONS_INVALID for a missing or mistyped one (see checkOptions). */
function checkServerOptions(o: QueueServerOptions): void {
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
}

/** The bounds of a server with their defaults; each must be a positive number (OPTIONS_INVALID). */
function serverBounds(o: QueueServerOptions) {
  const bounds = {
    headersTimeoutMs: o.headersTimeoutMs ?? 30_000,
    minBodyRate: o.minBodyBytesPerSecond ?? 16 * 1024,
    bodyWindowMs: o.bodyWindowMs ?? 30_000,
    maxUpload: o.maxUploadBytes ?? 8 * 1024 ** 3,
  };
  for (const [k, v] of Object.entries(bounds)) {
    if (!(Number.isFinite(v) && v > 0))
      throw new CotError('OPTIONS_INVALID', `startQueueServer: ${k} must be positive`, {
        details: { function: 'startQueueServer', option: k },
      });
  }
  return bounds;
}

/** The directory store to serve: one that does not exist is refused at start (FILE_NOT_FOUND), not answered 404. */
async function openStore(dir: string): Promise<DirectoryQueue> {
  const st = await stat(dir).catch((e: unknown) => {
    const err = fsError(e, dir, 'directory store');
    throw err.code === 'FILE_NOT_FOUND'
      ? new CotError('FILE_NOT_FOUND', `directory store ${dir} does not exist: nothing to serve`, {
          cause: e,
        })
      : err;
  });
  if (!st.isDirectory()) throw new CotError('FILE_UNREADABLE', `directory store ${dir} is not a directory`);
  return new DirectoryQueue(dir);
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
  checkServerOptions(o);
  const store = await openStore(o.dir);
  const { headersTimeoutMs, minBodyRate, bodyWindowMs, maxUpload } = serverBounds(o);
  const ctx = new ServerContext(store, o.faults ?? new FaultPlan(), maxUpload, o.credentials);
  const server = http.createServer(
    { connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4))) },
    (req, res) => {
      guardBody(req, minBodyRate, bodyWindowMs);
      handle(ctx, req, res);
    },
  );
  // headers: Node's own deadline (answers 408); the whole-request timeout is off (a long upload at a steady rate
  // is fine), bodies are held to a minimum rate by guardBody instead
  server.headersTimeout = headersTimeoutMs;
  server.requestTimeout = 0;
  closeSilentConnections(server, headersTimeoutMs);
  await rm(ctx.staging, { recursive: true, force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  ctx.base = `http://${host}:${addr.port}`;
  return {
    rootUrl: ctx.base,
    port: addr.port,
    faults: ctx.faults,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
