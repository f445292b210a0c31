import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The one retry rule of cot's own HTTP requests (httpGet, httpPutFile): at most `retries` more attempts after the
 * first, each after a wait that is either the server's `Retry-After` or an exponential backoff with full jitter,
 * never longer than `maxDelayMs` and never past `deadlineAt`. Which failures are retried is the caller's choice
 * (network errors, 408, 429 and 5xx for cot's requests; see codeForStatus).
 */
interface RetryOptions {
  /** attempts after the first one (default 5; 0: no retry) */
  retries?: number;
  /** base of the exponential backoff, ms (default 100): attempt n waits a random time in [0, base × 2^n) */
  baseDelayMs?: number;
  /** longest single wait, ms (default {@link MAX_RETRY_DELAY_MS}, 10 s): caps both the backoff and a Retry-After */
  maxDelayMs?: number;
  /** a time (ms since the epoch) no wait goes past: a wait is cut to the time left (default: none) */
  deadlineAt?: number;
}

/** Default longest single wait between two attempts, ms. */
export const MAX_RETRY_DELAY_MS = 10_000;

/** What an attempt returns to ask for another attempt: after `retryAfterMs` (the server's wish), else the backoff. */
export class RetryLater {
  constructor(readonly retryAfterMs?: number) {}
}

/**
 * The wait a `Retry-After` header asks for, ms (RFC 9110 section 10.2.3): either delay-seconds (a non-negative
 * integer) or an HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms Date.parse reads), measured from
 * `now`. A date in the past is 0. Undefined when the header is absent or is neither form (a malformed value is
 * ignored, as the RFC allows: the caller falls back to its backoff). Several values (a repeated header): the first.
 */
export function parseRetryAfter(
  value: string | readonly string[] | undefined,
  now = Date.now(),
): number | undefined {
  const v = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (!v) return undefined;
  if (/^[0-9]+$/.test(v)) {
    const seconds = Number(v);
    return Number.isSafeInteger(seconds) ? seconds * 1000 : Number.MAX_SAFE_INTEGER;
  }
  // an HTTP-date names a weekday and a year: a bare number or a stray word is not one
  if (!/^[A-Za-z]{3,9}, /.test(v) && !/^[A-Za-z]{3} [A-Za-z]{3} /.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with full jitter: a random wait in [0, min(cap, base × 2^attempt)), ms. */
function backoff(attempt: number, baseMs: number, capMs = MAX_RETRY_DELAY_MS): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

/**
 * The wait before the attempt after `attempt` (0-based), ms: `retryAfterMs` when the server gave one, else the
 * backoff; at most `maxDelayMs`, and at most the time left before `deadlineAt`.
 */
export function retryDelay(
  attempt: number,
  o: RetryOptions = {},
  retryAfterMs?: number,
  now = Date.now(),
): number {
  const max = o.maxDelayMs ?? MAX_RETRY_DELAY_MS;
  const wait =
    retryAfterMs !== undefined ? Math.min(retryAfterMs, max) : backoff(attempt, o.baseDelayMs ?? 100, max);
  return o.deadlineAt === undefined ? wait : Math.min(wait, Math.max(0, o.deadlineAt - now));
}

/**
 * Run `attempt` until it returns a result: it gets the attempt number (0-based) and whether this is the last
 * allowed attempt, and returns either its result or a {@link RetryLater} to be called again after
 * {@link retryDelay}. On the last attempt it must decide itself (return its result or throw): a RetryLater then is
 * a programming error (thrown as an Error). Whatever `attempt` throws ends the retries at once.
 */
export async function withRetry<T>(
  attempt: (n: number, last: boolean) => Promise<T | RetryLater>,
  o: RetryOptions = {},
): Promise<T> {
  const retries = Math.max(0, o.retries ?? 5);
  for (let n = 0; ; n++) {
    const last = n >= retries;
    const r = await attempt(n, last);
    if (!(r instanceof RetryLater)) return r;
    if (last) throw new Error('withRetry: the last attempt asked for another one');
    await sleep(retryDelay(n, o, r.retryAfterMs));
  }
}
