import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { CotError, type ErrorCode } from '../errors.js';
import { Digester } from '../hashing/digest.js';
import { bounded, hashedReadStream, watchRate } from './http-body.js';
import { parseRetryAfter, RetryLater, withRetry } from './retry.js';

interface HttpGetOptions {
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
  /**
   * attempts after the first for network errors, 408, 429 and 5xx before the body starts (default 5; see
   * withRetry: the server's Retry-After is honoured, at most 10 s per wait and never past the deadline)
   */
  retries?: number;
  /** base delay of the exponential backoff, ms (default 100) */
  retryDelayMs?: number;
  headers?: Record<string, string>;
  /** refuse redirects that the queue marks (x-taskcluster-artifact-storage-type) with one of these storage types */
  refuseStorageTypes?: readonly string[];
  /**
   * a further condition on each redirect target, after `allowedHosts` (TRANSPORT_REDIRECT_REFUSED when false): a
   * caller that must stay on https, say
   */
  redirectAllowed?: (next: URL) => boolean;
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
const DEFAULT_RATE_WINDOW_MS = 30_000;

/** Query parameters that carry credentials or signatures: never shown in messages. */
const SECRET_PARAMS =
  /([?&](?:bewit|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)=)[^&#]*/gi;

/** A URL for messages: signed-URL parameters (Hawk bewit, storage signatures) replaced by "…". */
function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1…');
}

function hostOf(u: URL): string {
  return u.port ? `${u.hostname}:${u.port}` : u.hostname;
}

/** Most connections open at once to one host (more requests wait for a free one): the policy's highest concurrency. */
const MAX_SOCKETS_PER_HOST = 256;
/**
 * How long an idle connection is kept for reuse, ms: below the usual server keep-alive timeout (Node's 5 s), so a
 * reused connection is rarely one the server is closing (a request that meets one fails as a network error, retried).
 */
const IDLE_SOCKET_MS = 4000;
const AGENT_OPTIONS = {
  keepAlive: true,
  maxSockets: MAX_SOCKETS_PER_HOST,
  maxFreeSockets: 64,
  timeout: IDLE_SOCKET_MS,
  scheduling: 'lifo',
} as const;

/**
 * The connection pools of every request cot makes, one per scheme: a connection whose answer was read whole is kept
 * and reused for the next request to the same host, so API calls and downloads do not pay a TCP connection, a DNS
 * lookup or a TLS handshake each (the https agent also resumes TLS sessions). Bounded per host
 * (MAX_SOCKETS_PER_HOST); idle connections do not keep the process alive and close after IDLE_SOCKET_MS.
 */
const AGENTS: Readonly<Record<string, http.Agent>> = {
  'http:': new http.Agent(AGENT_OPTIONS),
  'https:': new https.Agent(AGENT_OPTIONS),
};

/** The largest answer body read only to be dropped (a redirect's), so that its connection can be reused. */
const DISCARD_MAX_BYTES = 64 * 1024;
/** How long that body may take, ms. */
const DISCARD_MS = 2000;

/**
 * Drop an answer whose body is not needed (a redirect's, an upload's answer). A body already received, or a small
 * one of declared length, is read and dropped, within DISCARD_MS, so that the connection goes back to the pool; any
 * other body (no declared length, larger, or slower than that) is cut at once or at DISCARD_MS, with its connection:
 * a server trickling it never holds the client. Resolves once the body is done either way (awaiting it lets the
 * next request reuse the connection).
 */
function discard(res: http.IncomingMessage): Promise<void> {
  const declared = Number(res.headers['content-length']);
  // a body already received whole (complete) must still be read for its connection to be freed
  const small = Number.isSafeInteger(declared) && declared >= 0 && declared <= DISCARD_MAX_BYTES;
  if (!res.complete && !small) {
    res.destroy();
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const cut = setTimeout(() => res.destroy(), DISCARD_MS);
    cut.unref();
    const done = () => {
      clearTimeout(cut);
      resolve();
    };
    res.once('end', done);
    res.once('close', done);
    res.on('error', () => undefined); // a cut or broken body matters to nobody
    res.resume();
  });
}

/**
 * The one HTTP request primitive of cot: a request to an http or https URL (TRANSPORT_REDIRECT_REFUSED for another
 * scheme), resolved with the response's head. `timeoutMs` bounds inactivity (no byte either way); once the whole
 * body is sent, `responseTimeoutMs` (when given) bounds the wait for the answer. Rejects with TRANSPORT_NETWORK for
 * those, or with the socket's own error.
 */
function request(
  url: URL,
  method: string,
  headers: Record<string, string>,
  timeoutMs: number,
  body?: Buffer | (() => Readable),
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
    const req = mod.request(url, { method, headers, agent: AGENTS[url.protocol] }, (res) => {
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
    if (Buffer.isBuffer(body)) req.end(body);
    else if (body) {
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

/**
 * The overall deadline of one httpGet (or httpPostJson): whatever is in flight when it passes (a request, then the
 * response body) is destroyed with TRANSPORT_NETWORK. Cleared when the request fails, or when the body handed over
 * closes.
 */
class GetDeadline {
  expired = false;
  /** what the deadline destroys: the request in flight, then the body */
  live: { destroy(e: Error): unknown } | undefined;
  readonly at: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly first: URL,
    readonly ms: number,
    private readonly method = 'GET',
  ) {
    this.at = Date.now() + ms;
    this.timer = setTimeout(() => {
      this.expired = true;
      this.live?.destroy(this.error());
    }, ms);
    this.timer.unref();
  }

  error(): CotError {
    return new CotError(
      'TRANSPORT_NETWORK',
      `${this.method} ${redactUrl(this.first.href)}: not complete within the deadline of ${this.ms} ms`,
      { details: { deadlineMs: this.ms } },
    );
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

/** A request other than a plain GET: its method, body, and headers made for each attempt (a Hawk header signs one). */
interface Outgoing {
  method: string;
  body: Buffer;
  headers: () => Record<string, string>;
}

/**
 * One GET of `url` (or the `send` request) with retries (withRetry): network errors, 408, 429 and 5xx are retried
 * up to `retries` times after a backoff or the server's Retry-After, never past the deadline; the last attempt's
 * answer is returned whatever its status. Throws TRANSPORT_NETWORK (connection failed on the last attempt, deadline).
 */
function getWithRetries(
  url: URL,
  o: HttpGetOptions,
  deadline: GetDeadline,
  send?: Outgoing,
): Promise<http.IncomingMessage> {
  const headers = { 'accept-encoding': 'gzip', ...(o.headers ?? {}) };
  const timeoutMs = o.timeoutMs ?? 30_000;
  const method = send?.method ?? 'GET';
  return withRetry<http.IncomingMessage>(
    async (_n, last) => {
      if (deadline.expired) throw deadline.error();
      let res: http.IncomingMessage;
      try {
        const h = send ? { ...headers, ...send.headers() } : headers;
        res = await request(url, method, h, timeoutMs, send?.body, (req) => {
          deadline.live = req;
        });
        deadline.live = res;
      } catch (e) {
        if (deadline.expired) throw deadline.error();
        if (last) throw networkError(e, `${method} ${redactUrl(url.href)}`);
        return new RetryLater();
      }
      if (!last && RETRYABLE_STATUS(res.statusCode ?? 0)) {
        // a body we do not read is destroyed, never drained: a server trickling it would hold the socket
        res.destroy();
        return new RetryLater(parseRetryAfter(res.headers['retry-after']));
      }
      return res;
    },
    { retries: o.retries ?? 5, baseDelayMs: o.retryDelayMs ?? 100, deadlineAt: deadline.at },
  );
}

const REDIRECT_STATUS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/**
 * Where a redirect answer of the GET of `current` leads, if it may be followed: it needs a Location
 * (TRANSPORT_HTTP), must not be a refused storage type (TRANSPORT_REDIRECT_REFUSED), must be within maxRedirects
 * and lead to an allowed host over http or https (TRANSPORT_REDIRECT_REFUSED).
 */
function redirectTarget(
  res: http.IncomingMessage,
  current: URL,
  redirects: number,
  first: URL,
  allowed: ReadonlySet<string>,
  o: HttpGetOptions,
): URL {
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
  const maxRedirects = o.maxRedirects ?? 5;
  if (redirects >= maxRedirects)
    throw new CotError(
      'TRANSPORT_REDIRECT_REFUSED',
      `GET ${redactUrl(first.href)}: more than ${maxRedirects} redirects`,
    );
  if (
    !allowed.has(hostOf(next)) ||
    (next.protocol !== 'https:' && next.protocol !== 'http:') ||
    (o.redirectAllowed !== undefined && !o.redirectAllowed(next))
  ) {
    throw new CotError(
      'TRANSPORT_REDIRECT_REFUSED',
      `GET ${redactUrl(current.href)}: redirect to ${next.protocol}//${hostOf(next)} is not allowed (allowed: ${[...allowed].join(', ')})`,
    );
  }
  return next;
}

/** Request headers that carry credentials: sent to the first URL's origin only, as browsers and curl do. */
const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie']);

/** `o` for a request to `url`: without credential headers when `url` is of another origin than `first`. */
function optionsFor(url: URL, first: URL, o: HttpGetOptions): HttpGetOptions {
  if (url.origin === first.origin || o.headers === undefined) return o;
  const headers = Object.fromEntries(
    Object.entries(o.headers).filter(([k]) => !CREDENTIAL_HEADERS.has(k.toLowerCase())),
  );
  return { ...o, headers };
}

/**
 * GET `first`, following redirects (redirectTarget's rules, never the same URL twice: TRANSPORT_REDIRECT_REFUSED)
 * until an answer that is not a redirect, which is returned with the URL that gave it. Credential headers
 * (`authorization`, `cookie`) go to the first URL's origin only: a redirect to another origin is requested without.
 */
async function followRedirects(
  first: URL,
  o: HttpGetOptions,
  deadline: GetDeadline,
): Promise<{ res: http.IncomingMessage; url: URL }> {
  const allowed = new Set([hostOf(first), ...(o.allowedHosts ?? [])]);
  const seen = new Set<string>();
  let current = first;
  for (let redirects = 0; ; redirects++) {
    if (seen.has(current.href))
      throw new CotError('TRANSPORT_REDIRECT_REFUSED', `redirect loop at ${redactUrl(current.href)}`);
    seen.add(current.href);
    const res = await getWithRetries(current, optionsFor(current, first, o), deadline);
    if (!REDIRECT_STATUS.has(res.statusCode ?? 0)) return { res, url: current };
    // the redirect's body is dropped (its connection then serves the next request: discard)
    const dropped = discard(res);
    current = redirectTarget(res, current, redirects, first, allowed, o);
    await dropped;
  }
}

/**
 * The decoded, bounded body of a 2xx answer (see httpGet): gzip decoded, at most maxBytes, a declared length
 * enforced, held to the inactivity timeout, the minimum rate and the deadline, which from now on ends when the body
 * closes. Throws TRANSPORT_HTTP for an unsupported content-encoding.
 */
function boundedBody(
  res: http.IncomingMessage,
  url: URL,
  o: HttpGetOptions,
  deadline: GetDeadline,
  method = 'GET',
): HttpBody {
  const what = `${method} ${redactUrl(url.href)}`;
  const timeoutMs = o.timeoutMs ?? 30_000;
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
  const out = bounded(o.maxBytes ?? 8 * 1024 ** 3, what, gzip ? undefined : declared);
  const fail = (e: unknown) => out.destroy(networkError(e, what));
  // the coded reason first, then the connection (whose own 'aborted' would otherwise speak first)
  const abort = (e: CotError) => {
    fail(e);
    res.destroy();
  };
  res.on('aborted', () => fail(new Error('connection closed before the body ended')));
  res.on('error', fail);
  res.setTimeout?.(timeoutMs, () =>
    abort(new CotError('TRANSPORT_NETWORK', `${what}: no data for ${timeoutMs} ms`)),
  );
  deadline.live = { destroy: (e: Error) => abort(e as CotError) };
  if (gzip) {
    const wire: Readable =
      declared !== undefined
        ? res.pipe(bounded(Number.MAX_SAFE_INTEGER, what, declared)).on('error', fail)
        : res;
    wire.pipe(createGunzip()).on('error', fail).pipe(out);
  } else res.pipe(out);
  const minRate = o.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND;
  const stopRate = watchRate(res, minRate, o.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS, what, abort);
  out.once('close', () => {
    deadline.clear();
    stopRate();
  });
  return {
    stream: out,
    status: res.statusCode ?? 0,
    headers: res.headers,
    url: url.href,
    ...(encoding === 'identity' && declared !== undefined ? { length: declared } : {}),
  };
}

/**
 * GET with the rules a verifier needs: redirects followed only to allowed hosts (never to another scheme than
 * http/https, never in a loop, at most maxRedirects), retries (withRetry: exponential backoff with jitter, or the
 * server's Retry-After, bounded) for network errors, 408, 429 and 5xx (never other 4xx), gzip content-encoding
 * decoded, every body bounded in bytes, in inactivity time (`timeoutMs`), in rate (`minBytesPerSecond`) and in
 * total time (`deadlineMs`, which also covers connecting, redirects and retries), and a declared length enforced.
 *
 * Throws (before the body): TRANSPORT_NETWORK (connection failed or reset, inactivity, deadline),
 * QUEUE_NOT_FOUND / QUEUE_REQUEST_REFUSED / TRANSPORT_AUTH / TRANSPORT_CONFLICT / TRANSPORT_HTTP (error
 * status, see codeForStatus),
 * TRANSPORT_REDIRECT_REFUSED. The body stream fails with TRANSPORT_NETWORK (truncated, reset, inactivity, rate,
 * deadline) or TRANSPORT_TOO_LARGE (over maxBytes or the declared length). Signed-URL parameters are redacted
 * from messages.
 */
export async function httpGet(url: string, o: HttpGetOptions = {}): Promise<HttpBody> {
  const first = new URL(url);
  const deadline = new GetDeadline(first, o.deadlineMs ?? DEFAULT_DEADLINE_MS);
  try {
    const { res, url: at } = await followRedirects(first, o, deadline);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const err = await statusError(res, `GET ${redactUrl(at.href)}`);
      throw deadline.expired ? deadline.error() : err;
    }
    return boundedBody(res, at, o, deadline);
  } catch (e) {
    deadline.clear();
    throw e;
  }
}

/** The options of httpPostJson: httpGet's bounds and retries; headers made for each attempt. */
type HttpPostOptions = Omit<
  HttpGetOptions,
  'allowedHosts' | 'maxRedirects' | 'refuseStorageTypes' | 'headers'
> & {
  /** extra headers, made again for each attempt (a Hawk header signs one request) */
  headers?: () => Record<string, string>;
};

/**
 * POST a JSON `body` and get the answer as httpGet does: the same retries (network errors, 408, 429, 5xx: only for
 * requests that change nothing, as the queue's batch reads `tasks` and `statuses`), bounds, gzip decoding and
 * errors. No redirect is followed: one is TRANSPORT_REDIRECT_REFUSED.
 */
export async function httpPostJson(url: string, body: Buffer, o: HttpPostOptions = {}): Promise<HttpBody> {
  const first = new URL(url);
  const what = `POST ${redactUrl(first.href)}`;
  const deadline = new GetDeadline(first, o.deadlineMs ?? DEFAULT_DEADLINE_MS, 'POST');
  const { headers, ...rest } = o;
  const send: Outgoing = {
    method: 'POST',
    body,
    headers: () => ({
      'content-type': 'application/json',
      'content-length': String(body.length),
      ...(headers?.() ?? {}),
    }),
  };
  try {
    const res = await getWithRetries(first, rest, deadline, send);
    const status = res.statusCode ?? 0;
    if (REDIRECT_STATUS.has(status)) {
      void discard(res);
      throw new CotError('TRANSPORT_REDIRECT_REFUSED', `${what}: redirect (HTTP ${status}) not followed`, {
        details: { status },
      });
    }
    if (status < 200 || status >= 300) {
      const err = await statusError(res, what);
      throw deadline.expired ? deadline.error() : err;
    }
    return boundedBody(res, first, rest, deadline, 'POST');
  } catch (e) {
    deadline.clear();
    throw e;
  }
}

interface HttpRequestOptions {
  /** default GET */
  method?: string;
  headers?: Record<string, string>;
  /** inactivity timeout, ms (default 30 s): no byte at all for this long ends the request */
  timeoutMs?: number;
  /** overall deadline of the request and its whole answer, ms (default 60 s) */
  deadlineMs?: number;
  /** largest answer body read, bytes (default 1 MiB) */
  maxBytes?: number;
}

interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** the whole answer body (content-encoding not decoded: no accept-encoding is sent) */
  body: Buffer;
}

/**
 * One small request without a body, answered in full: for local services (a cloud's metadata service) whose every
 * status means something to the caller. No redirect is followed, nothing is retried, any status is returned.
 * Bounded in inactivity (`timeoutMs`), total time (`deadlineMs`) and body size (`maxBytes`).
 * Throws TRANSPORT_NETWORK (connection failed, inactivity, deadline), TRANSPORT_TOO_LARGE (body over maxBytes),
 * TRANSPORT_REDIRECT_REFUSED (a URL that is not http or https).
 */
export async function httpRequest(url: string, o: HttpRequestOptions = {}): Promise<HttpReply> {
  const target = new URL(url);
  const method = o.method ?? 'GET';
  const what = `${method} ${redactUrl(target.href)}`;
  const deadlineMs = o.deadlineMs ?? 60_000;
  const maxBytes = o.maxBytes ?? 1024 * 1024;
  let live: { destroy(e: Error): unknown } | undefined;
  // the request's own error (inactivity, reset) explains a body that stopped better than the body's "aborted"
  let cause: unknown;
  const deadline = setTimeout(
    () =>
      live?.destroy(new CotError('TRANSPORT_NETWORK', `${what}: no complete answer within ${deadlineMs} ms`)),
    deadlineMs,
  );
  deadline.unref();
  try {
    const res = await request(target, method, o.headers ?? {}, o.timeoutMs ?? 30_000, undefined, (req) => {
      live = req;
      req.on('error', (e) => {
        cause ??= e;
      });
    });
    live = res;
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > maxBytes) {
        res.destroy();
        throw new CotError('TRANSPORT_TOO_LARGE', `${what}: more than ${maxBytes} bytes`, {
          details: { maxBytes },
        });
      }
      chunks.push(c);
    }
    return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
  } catch (e) {
    throw networkError(e instanceof CotError ? e : (cause ?? e), what);
  } finally {
    clearTimeout(deadline);
  }
}

interface HttpPutFileOptions {
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
  /** attempts after the first for network errors, 408, 429 and 5xx (default 5; see withRetry) */
  retries?: number;
  /** base delay of the exponential backoff, ms (default 100); a Retry-After of the server is honoured instead */
  retryDelayMs?: number;
}

/** Time a server is given to answer a PUT whose body it received, ms: 10 s, plus 1 s per 10 MiB of body. */
function putResponseTimeoutMs(length: number): number {
  return 10_000 + Math.ceil(length / (10 * 1024 * 1024)) * 1000;
}

interface PutResult {
  status: number;
  /** sha256 of the bytes that were uploaded (before gzip): what the receiver stores */
  sha256: string;
}

/**
 * PUT a file, re-reading it on every attempt; retries network errors, 408, 429 and 5xx (withRetry: backoff with
 * jitter, or the server's Retry-After, bounded), never other 4xx (409 is a conflict). With `gzip`, the file is
 * gzipped once into a temp file (bounded memory, a known Content-Length, the same bytes on every attempt). Returns
 * the final 2xx status and the sha256 of the file's bytes as they were read for the upload. Throws
 * TRANSPORT_NETWORK (connection, inactivity, no answer after the body), or the code of the error status (see
 * codeForStatus).
 */
export async function httpPutFile(url: string, path: string, o: HttpPutFileOptions): Promise<PutResult> {
  let source = path;
  let cleanup: (() => Promise<void>) | undefined;
  let gzSha256: string | undefined;
  if (o.gzip) {
    const dir = await mkdtemp(join(tmpdir(), 'cot-gz-'));
    source = join(dir, 'body.gz');
    cleanup = () => rm(dir, { recursive: true, force: true });
    // hashing exactly the bytes that go into the gzip file
    const d = new Digester(['sha256']);
    await pipeline(hashedReadStream(path, d), createGzip(), createWriteStream(source));
    gzSha256 = d.result().digests.sha256;
  }
  try {
    const r = await putWithRetries(url, source, (await stat(source)).size, o, !o.gzip);
    return { status: r.status, sha256: gzSha256 ?? r.sha256! };
  } finally {
    await cleanup?.();
  }
}

/** The attempts of httpPutFile: `source` (`length` bytes) sent on each, hashed as sent when `hashBody`. */
function putWithRetries(
  url: string,
  source: string,
  length: number,
  o: HttpPutFileOptions,
  hashBody: boolean,
): Promise<{ status: number; sha256?: string }> {
  const target = new URL(url);
  const headers: Record<string, string> = {
    'content-type': o.contentType,
    'content-length': String(length),
    ...(o.gzip ? { 'content-encoding': 'gzip' } : {}),
    ...(o.headers ?? {}),
  };
  const timeoutMs = o.timeoutMs ?? 300_000;
  const responseTimeoutMs = Math.min(o.responseTimeoutMs ?? putResponseTimeoutMs(length), timeoutMs);
  return withRetry<{ status: number; sha256?: string }>(
    async (_n, last) => {
      const d = new Digester(['sha256']);
      let res: http.IncomingMessage;
      try {
        const body = () => (hashBody ? hashedReadStream(source, d) : createReadStream(source));
        res = await request(target, 'PUT', headers, timeoutMs, body, undefined, responseTimeoutMs);
      } catch (e) {
        if (last) throw networkError(e, `PUT ${target.href}`);
        return new RetryLater();
      }
      const s = res.statusCode ?? 0;
      if (s >= 200 && s < 300) {
        void discard(res);
        return { status: s, ...(hashBody ? { sha256: d.result().digests.sha256! } : {}) };
      }
      if (RETRYABLE_STATUS(s) && !last) {
        res.destroy();
        return new RetryLater(parseRetryAfter(res.headers['retry-after']));
      }
      throw await statusError(res, `PUT ${target.href}`);
    },
    { retries: o.retries ?? 5, baseDelayMs: o.retryDelayMs ?? 100 },
  );
}
