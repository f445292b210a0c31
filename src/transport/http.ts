import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { CotError, type ErrorCode } from '../errors.js';

export interface HttpGetOptions {
  /** hosts (`host` or `host:port`) that redirects may lead to; the first URL's host is always allowed */
  allowedHosts?: readonly string[];
  /** inactivity timeout per request, ms (default 30 s): no byte at all for this long ends the request */
  timeoutMs?: number;
  /**
   * overall deadline of the whole GET, ms (default {@link DEFAULT_DEADLINE_MS}, 1 h): connection, redirects,
   * retries and the body together. Past it the request (or the body stream) fails with TRANSPORT_NETWORK.
   */
  deadlineMs?: number;
  /**
   * minimum rate of the body, bytes per second (default {@link DEFAULT_MIN_BYTES_PER_SECOND}, 1 KiB/s; 0: no
   * minimum), judged over each `rateWindowMs` of time the body was being read: the first window is the grace
   * period, and time the reader held the stream paused (backpressure) does not count. A slower body fails with
   * TRANSPORT_NETWORK, so a server sending one byte a second cannot keep a download alive.
   */
  minBytesPerSecond?: number;
  /** window over which `minBytesPerSecond` is judged, ms (default {@link DEFAULT_RATE_WINDOW_MS}, 30 s) */
  rateWindowMs?: number;
  /** maximum decoded body bytes (default 8 GiB) */
  maxBytes?: number;
  /** maximum redirects followed (default 5) */
  maxRedirects?: number;
  /** attempts for network errors, 408, 429 and 5xx before the body starts (default 5) */
  retries?: number;
  /** base delay of the exponential backoff, ms (default 100) */
  retryDelayMs?: number;
  headers?: Record<string, string>;
  /** refuse redirects that the queue marks (x-taskcluster-artifact-storage-type) with one of these storage types */
  refuseStorageTypes?: readonly string[];
}

export interface HttpBody {
  /** decoded body (content-encoding removed), bounded */
  stream: Readable;
  status: number;
  headers: http.IncomingHttpHeaders;
  url: string;
  /** declared decoded length, when the server sent one without content-encoding */
  length?: number;
}

const RETRYABLE_STATUS = (s: number) => s === 408 || s === 429 || s >= 500;

/** Default overall deadline of one GET (connection, redirects, retries, body), ms. */
export const DEFAULT_DEADLINE_MS = 60 * 60 * 1000;
/** Default minimum body rate, bytes per second. */
export const DEFAULT_MIN_BYTES_PER_SECOND = 1024;
/** Default window over which the body rate is judged, ms (the first window is the grace period). */
export const DEFAULT_RATE_WINDOW_MS = 30_000;

/** Query parameters that carry credentials or signatures: never shown in messages. */
const SECRET_PARAMS =
  /([?&](?:bewit|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)=)[^&#]*/gi;

/** A URL for messages: signed-URL parameters (Hawk bewit, storage signatures) replaced by "…". */
export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1…');
}

function hostOf(u: URL): string {
  return u.port ? `${u.hostname}:${u.port}` : u.hostname;
}

export function backoff(attempt: number, base: number): number {
  // full jitter, capped at 10 s
  return Math.random() * Math.min(10_000, base * 2 ** attempt);
}

function request(
  url: URL,
  method: string,
  headers: Record<string, string>,
  timeoutMs: number,
  body?: () => Readable,
  onRequest?: (req: http.ClientRequest) => void,
  responseTimeoutMs?: number,
) {
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
    if (!mod) {
      reject(new CotError('TRANSPORT_REDIRECT_REFUSED', `unsupported URL scheme in ${redactUrl(url.href)}`));
      return;
    }
    let answer: NodeJS.Timeout | undefined;
    const req = mod.request(url, { method, headers }, (res) => {
      clearTimeout(answer);
      resolve(res);
    });
    onRequest?.(req);
    req.setTimeout(timeoutMs, () =>
      req.destroy(
        new CotError('TRANSPORT_NETWORK', `${method} ${redactUrl(url.href)}: no data for ${timeoutMs} ms`),
      ),
    );
    // once the whole body is sent, the answer has its own deadline (a server that took the body and never answers
    // is not waited on for the inactivity timeout of the upload)
    if (responseTimeoutMs !== undefined)
      req.once('finish', () => {
        answer = setTimeout(
          () =>
            req.destroy(
              new CotError(
                'TRANSPORT_NETWORK',
                `${method} ${redactUrl(url.href)}: the body was sent but no answer came within ${responseTimeoutMs} ms`,
                { details: { responseTimeoutMs } },
              ),
            ),
          responseTimeoutMs,
        );
        answer.unref();
      });
    req.once('close', () => clearTimeout(answer));
    req.on('error', reject);
    if (body) {
      const b = body();
      b.on('error', (e) => req.destroy(e));
      b.pipe(req);
    } else req.end();
  });
}

function networkError(e: unknown, what: string): CotError {
  if (e instanceof CotError) return e;
  return new CotError('TRANSPORT_NETWORK', `${what}: ${e instanceof Error ? e.message : String(e)}`, {
    cause: e,
  });
}

/** How long an error body may take to arrive: it only explains the status, which is the error. */
const ERROR_BODY_MS = 2000;

async function statusError(res: http.IncomingMessage, what: string): Promise<CotError> {
  // the first 2000 bytes of the error body at most, within ERROR_BODY_MS: a trickling body is cut, not waited on
  let text = '';
  const cut = setTimeout(() => res.destroy(), ERROR_BODY_MS);
  cut.unref();
  try {
    for await (const c of res) {
      text += c.toString();
      if (text.length >= 2000) break;
    }
  } catch {
    // a broken or cut error body: the status alone tells what happened
  } finally {
    clearTimeout(cut);
  }
  res.destroy();
  const s = res.statusCode ?? 0;
  const code = codeForStatus(s);
  return new CotError(code, `${what}: HTTP ${s}${text ? `: ${text.slice(0, 300)}` : ''}`, {
    details: { status: s },
  });
}

/**
 * The error code for an HTTP error status (shared by cot's own requests and the Taskcluster client's errors), so
 * that exit 3 means "a retry may fix it": 5xx, 408 and 429 (retried first) are TRANSPORT_HTTP; 404, 410 (the
 * queue's ResourceExpired for an expired artifact) and 424 (an error artifact: a declared output the worker never
 * produced) are QUEUE_NOT_FOUND; 401 and 403 TRANSPORT_AUTH; 409 TRANSPORT_CONFLICT; any other 4xx
 * QUEUE_REQUEST_REFUSED. Other statuses (1xx, an unfollowed 3xx) are TRANSPORT_HTTP.
 */
export function codeForStatus(status: number): ErrorCode {
  if (status === 404 || status === 410 || status === 424) return 'QUEUE_NOT_FOUND';
  if (status === 401 || status === 403) return 'TRANSPORT_AUTH';
  if (status === 409) return 'TRANSPORT_CONFLICT';
  if (status >= 400 && status < 500 && !RETRYABLE_STATUS(status)) return 'QUEUE_REQUEST_REFUSED';
  return 'TRANSPORT_HTTP';
}

/** A Transform that fails once more than `max` bytes pass, and (optionally) when fewer than `expected` arrived. */
function bounded(max: number, what: string, expected?: number): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      n += chunk.length;
      if (n > max)
        cb(
          new CotError('TRANSPORT_TOO_LARGE', `${what}: more than ${max} bytes`, {
            details: { maxBytes: max },
          }),
        );
      else if (expected !== undefined && n > expected)
        cb(
          new CotError('TRANSPORT_TOO_LARGE', `${what}: more bytes than the declared ${expected}`, {
            details: { declared: expected },
          }),
        );
      else cb(null, chunk);
    },
    flush(cb) {
      if (expected !== undefined && n !== expected) {
        cb(
          new CotError(
            'TRANSPORT_NETWORK',
            `${what}: body truncated at ${n} of the declared ${expected} bytes`,
          ),
        );
      } else cb();
    },
  });
}

/**
 * Watch a response body's rate: every `windowMs` of time it was being read (time the reader kept it paused, by
 * backpressure, does not count), at least `minRate` bytes per second must have arrived, else `onSlow`. Returns the
 * function that stops watching.
 */
function watchRate(
  res: http.IncomingMessage,
  minRate: number,
  windowMs: number,
  what: string,
  onSlow: (e: CotError) => void,
): () => void {
  if (!(minRate > 0) || !(windowMs > 0)) return () => undefined;
  let bytes = 0;
  let reading = 0;
  let last = Date.now();
  let pausedSince: number | undefined;
  let pausedMs = 0;
  const onData = (c: Buffer) => {
    bytes += c.length;
  };
  const onPause = () => {
    pausedSince ??= Date.now();
  };
  const onResume = () => {
    if (pausedSince !== undefined) pausedMs += Date.now() - pausedSince;
    pausedSince = undefined;
  };
  res.on('data', onData);
  res.on('pause', onPause);
  res.on('resume', onResume);
  const tick = setInterval(
    () => {
      const now = Date.now();
      if (pausedSince !== undefined) {
        pausedMs += now - pausedSince;
        pausedSince = now;
      }
      reading += Math.max(0, now - last - pausedMs);
      last = now;
      pausedMs = 0;
      if (reading < windowMs) return;
      if (bytes * 1000 < minRate * reading) {
        onSlow(
          new CotError(
            'TRANSPORT_NETWORK',
            `${what}: ${bytes} bytes in ${(reading / 1000).toFixed(1)} s, under the minimum rate of ${minRate} bytes/s`,
            { details: { minBytesPerSecond: minRate, bytes, ms: reading } },
          ),
        );
      }
      bytes = 0;
      reading = 0;
    },
    Math.max(10, Math.min(1000, Math.floor(windowMs / 4))),
  );
  tick.unref();
  return () => {
    clearInterval(tick);
    res.off('data', onData);
    res.off('pause', onPause);
    res.off('resume', onResume);
  };
}

/**
 * GET with the rules a verifier needs: redirects followed only to allowed hosts (never to another scheme than
 * http/https, never in a loop, at most maxRedirects), retries with exponential backoff and jitter for network
 * errors, 408, 429 and 5xx (never other 4xx), gzip content-encoding decoded, every body bounded in bytes, in
 * inactivity time (`timeoutMs`), in rate (`minBytesPerSecond`) and in total time (`deadlineMs`, which also covers
 * connecting, redirects and retries), and a declared length enforced.
 *
 * Throws (before the body): TRANSPORT_NETWORK (connection failed or reset, inactivity, deadline),
 * QUEUE_NOT_FOUND / QUEUE_REQUEST_REFUSED / TRANSPORT_AUTH / TRANSPORT_CONFLICT / TRANSPORT_HTTP (error
 * status, see codeForStatus),
 * TRANSPORT_REDIRECT_REFUSED. The body stream fails with TRANSPORT_NETWORK (truncated, reset, inactivity, rate,
 * deadline) or TRANSPORT_TOO_LARGE (over maxBytes or the declared length). Signed-URL parameters are redacted
 * from messages.
 */
export async function httpGet(url: string, o: HttpGetOptions = {}): Promise<HttpBody> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const deadlineMs = o.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const minRate = o.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND;
  const rateWindowMs = o.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS;
  const maxBytes = o.maxBytes ?? 8 * 1024 ** 3;
  const maxRedirects = o.maxRedirects ?? 5;
  const retries = o.retries ?? 5;
  const first = new URL(url);
  const allowed = new Set([hostOf(first), ...(o.allowedHosts ?? [])]);
  const deadlineAt = Date.now() + deadlineMs;
  const pastDeadline = () =>
    new CotError(
      'TRANSPORT_NETWORK',
      `GET ${redactUrl(first.href)}: not complete within the deadline of ${deadlineMs} ms`,
      { details: { deadlineMs } },
    );
  // whatever is in flight (a request, then a response body) is destroyed when the deadline passes
  let live: { destroy(e: Error): unknown } | undefined;
  let expired = false;
  const deadline = setTimeout(() => {
    expired = true;
    live?.destroy(pastDeadline());
  }, deadlineMs);
  deadline.unref();
  const pause = (attempt: number) =>
    sleep(Math.min(backoff(attempt, o.retryDelayMs ?? 100), Math.max(0, deadlineAt - Date.now())));
  let handedOver = false;
  try {
    let current = first;
    const seen = new Set<string>();
    for (let redirects = 0; ; redirects++) {
      if (seen.has(current.href))
        throw new CotError('TRANSPORT_REDIRECT_REFUSED', `redirect loop at ${redactUrl(current.href)}`);
      seen.add(current.href);
      let res: http.IncomingMessage | undefined;
      for (let attempt = 0; ; attempt++) {
        if (expired) throw pastDeadline();
        try {
          res = await request(
            current,
            'GET',
            { 'accept-encoding': 'gzip', ...(o.headers ?? {}) },
            timeoutMs,
            undefined,
            (req) => {
              live = req;
            },
          );
          live = res;
        } catch (e) {
          if (expired) throw pastDeadline();
          if (attempt >= retries) throw networkError(e, `GET ${redactUrl(current.href)}`);
          await pause(attempt);
          continue;
        }
        if (RETRYABLE_STATUS(res.statusCode ?? 0) && attempt < retries) {
          // a body we do not read is destroyed, never drained: a server trickling it would hold the socket
          res.destroy();
          await pause(attempt);
          continue;
        }
        break;
      }
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status)) {
        res.destroy();
        const loc = res.headers.location;
        if (!loc)
          throw new CotError('TRANSPORT_HTTP', `GET ${redactUrl(current.href)}: redirect without a Location`);
        const storageType = String(res.headers['x-taskcluster-artifact-storage-type'] ?? '');
        if (storageType && o.refuseStorageTypes?.includes(storageType)) {
          throw new CotError(
            'TRANSPORT_REDIRECT_REFUSED',
            `GET ${redactUrl(current.href)}: a ${storageType} artifact points at a URL the task chose (${redactUrl(loc)}); refused unless reference artifacts are allowed`,
          );
        }
        const next = new URL(loc, current);
        if (redirects >= maxRedirects)
          throw new CotError(
            'TRANSPORT_REDIRECT_REFUSED',
            `GET ${redactUrl(first.href)}: more than ${maxRedirects} redirects`,
          );
        if (!allowed.has(hostOf(next)) || (next.protocol !== 'https:' && next.protocol !== 'http:')) {
          throw new CotError(
            'TRANSPORT_REDIRECT_REFUSED',
            `GET ${redactUrl(current.href)}: redirect to ${next.protocol}//${hostOf(next)} is not allowed (allowed: ${[...allowed].join(', ')})`,
          );
        }
        current = next;
        continue;
      }
      const what = `GET ${redactUrl(current.href)}`;
      if (status < 200 || status >= 300) {
        const err = await statusError(res, what);
        throw expired ? pastDeadline() : err;
      }
      const encoding = (res.headers['content-encoding'] ?? 'identity').toLowerCase();
      const declared =
        res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;
      const gzip = encoding === 'gzip' || encoding === 'x-gzip';
      if (!gzip && encoding !== 'identity') {
        res.destroy();
        throw new CotError('TRANSPORT_HTTP', `${what}: unsupported content-encoding ${encoding}`);
      }
      // identity: one Transform enforces both the declared length and the byte limit; gzip: the wire length
      // first, then the decoded limit
      const out = bounded(maxBytes, what, gzip ? undefined : declared);
      const body = res;
      const fail = (e: unknown) => out.destroy(networkError(e, what));
      // the coded reason first, then the connection (whose own 'aborted' would otherwise speak first)
      const abort = (e: CotError) => {
        fail(e);
        body.destroy();
      };
      body.on('aborted', () => fail(new Error('connection closed before the body ended')));
      body.on('error', fail);
      body.setTimeout?.(timeoutMs, () =>
        abort(new CotError('TRANSPORT_NETWORK', `${what}: no data for ${timeoutMs} ms`)),
      );
      live = { destroy: (e: Error) => abort(e as CotError) };
      if (gzip) {
        const wire: Readable =
          declared !== undefined
            ? body.pipe(bounded(Number.MAX_SAFE_INTEGER, what, declared)).on('error', fail)
            : body;
        wire.pipe(createGunzip()).on('error', fail).pipe(out);
      } else body.pipe(out);
      const stopRate = watchRate(body, minRate, rateWindowMs, what, abort);
      out.once('close', () => {
        clearTimeout(deadline);
        stopRate();
      });
      handedOver = true;
      return {
        stream: out,
        status,
        headers: res.headers,
        url: current.href,
        ...(encoding === 'identity' && declared !== undefined ? { length: declared } : {}),
      };
    }
  } finally {
    if (!handedOver) clearTimeout(deadline);
  }
}

export interface HttpPutFileOptions {
  contentType: string;
  gzip?: boolean;
  headers?: Record<string, string>;
  /** inactivity timeout of one attempt, ms (default 300 000): no byte sent or received for this long */
  timeoutMs?: number;
  /**
   * how long the answer may take once the whole body is sent, ms (default {@link putResponseTimeoutMs} of the body's
   * length: 10 s plus 1 s per 10 MiB, at most `timeoutMs`); past it the attempt fails and is retried
   */
  responseTimeoutMs?: number;
  retries?: number;
  retryDelayMs?: number;
}

/** Time a server is given to answer a PUT whose body it received, ms: 10 s, plus 1 s per 10 MiB of body. */
export function putResponseTimeoutMs(length: number): number {
  return 10_000 + Math.ceil(length / (10 * 1024 * 1024)) * 1000;
}

/**
 * PUT a file, re-reading it on every attempt; retries network errors, 408, 429 and 5xx with backoff and jitter,
 * never other 4xx (409 is a conflict). Returns the final status.
 */
export interface PutResult {
  status: number;
  /** sha256 of the bytes that were uploaded (before gzip): what the receiver stores */
  sha256: string;
}

export async function httpPutFile(url: string, path: string, o: HttpPutFileOptions): Promise<PutResult> {
  // gzip once into a temp file (bounded memory, a known Content-Length, the same bytes on every attempt), hashing
  // exactly the bytes that go into it
  let source = path;
  let cleanup: (() => Promise<void>) | undefined;
  let gzSha256: string | undefined;
  if (o.gzip) {
    const dir = await mkdtemp(join(tmpdir(), 'cot-gz-'));
    source = join(dir, 'body.gz');
    cleanup = () => rm(dir, { recursive: true, force: true });
    const h = createHash('sha256');
    const tee = new Transform({
      transform(c: Buffer, _e, cb) {
        h.update(c);
        cb(null, c);
      },
    });
    await pipeline(createReadStream(path), tee, createGzip(), createWriteStream(source));
    gzSha256 = h.digest('hex');
  }
  try {
    const r = await putLoop(url, source, (await stat(source)).size, o, !o.gzip);
    return { status: r.status, sha256: gzSha256 ?? r.sha256! };
  } finally {
    await cleanup?.();
  }
}

async function putLoop(
  url: string,
  source: string,
  length: number,
  o: HttpPutFileOptions,
  hashBody: boolean,
): Promise<{ status: number; sha256?: string }> {
  let attemptHash: Hash | undefined;
  const target = new URL(url);
  const retries = o.retries ?? 5;
  const headers: Record<string, string> = {
    'content-type': o.contentType,
    'content-length': String(length),
    ...(o.gzip ? { 'content-encoding': 'gzip' } : {}),
    ...(o.headers ?? {}),
  };
  const timeoutMs = o.timeoutMs ?? 300_000;
  const responseTimeoutMs = Math.min(o.responseTimeoutMs ?? putResponseTimeoutMs(length), timeoutMs);
  for (let attempt = 0; ; attempt++) {
    let res: http.IncomingMessage;
    try {
      res = await request(
        target,
        'PUT',
        headers,
        timeoutMs,
        () => {
          const h = createHash('sha256');
          attemptHash = h;
          const s = createReadStream(source);
          if (!hashBody) return s;
          const t = new Transform({
            transform(c: Buffer, _e, cb) {
              h.update(c);
              cb(null, c);
            },
          });
          s.on('error', (e) => t.destroy(e)); // pipe() does not forward a read error
          return s.pipe(t);
        },
        undefined,
        responseTimeoutMs,
      );
    } catch (e) {
      if (attempt >= retries) throw networkError(e, `PUT ${target.href}`);
      await sleep(backoff(attempt, o.retryDelayMs ?? 100));
      continue;
    }
    const s = res.statusCode ?? 0;
    if (s >= 200 && s < 300) {
      res.destroy();
      return { status: s, ...(hashBody ? { sha256: attemptHash!.digest('hex') } : {}) };
    }
    if (RETRYABLE_STATUS(s) && attempt < retries) {
      res.destroy();
      await sleep(backoff(attempt, o.retryDelayMs ?? 100));
      continue;
    }
    throw await statusError(res, `PUT ${target.href}`);
  }
}
