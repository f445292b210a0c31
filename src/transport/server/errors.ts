import { timingSafeEqual } from 'node:crypto';
import type * as http from 'node:http';
import { CotError } from '../../errors.js';
import { parseJson } from '../../json/parse.js';
import { fsReason } from '../../util/fs-paths.js';

/** An answer of `cot queue serve` that is an error: its HTTP status and the queue's own error name (`code`). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Answer `status` with the JSON of `body` (and a Content-Length). */
export function send(
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

/** An empty 200 answer (what an upload PUT gets). */
export function sendEmpty(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-length': '0' });
  res.end();
}

/** The whole request body, at most `max` bytes (default 1 MiB; over it: 413 InputTooLarge). */
export async function readBody(req: http.IncomingMessage, max = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > max) throw new HttpError(413, 'InputTooLarge', 'request body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A request body that must be a JSON object (strict parser), else 400 InputError. */
export function jsonBody(buf: Buffer): Record<string, unknown> {
  try {
    const v = parseJson(buf.toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'InputError', 'the request body must be a JSON object');
}

/** Equal strings, compared in constant time (secrets, client ids, signatures). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The errno code of a filesystem error, if it has one. */
export const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;

/**
 * The answer to a request that failed with `e`, with the queue's own error names: an HttpError as it is; a CotError
 * QUEUE_NOT_FOUND is 404 ResourceNotFound, OPTIONS_INVALID / ARTIFACT_NAME_INVALID 400 InputError, any other
 * 500 InternalServerError; anything else 500 InternalServerError. `publicMessage` removes this machine's paths.
 */
export function errorReply(
  e: unknown,
  publicMessage: (m: string) => string,
): { status: number; code: string; message: string } {
  if (e instanceof HttpError) return { status: e.status, code: e.code, message: e.message };
  if (e instanceof CotError) {
    const [status, code] =
      e.code === 'QUEUE_NOT_FOUND'
        ? [404, 'ResourceNotFound']
        : e.code === 'OPTIONS_INVALID' || e.code === 'ARTIFACT_NAME_INVALID'
          ? [400, 'InputError']
          : [500, 'InternalServerError'];
    return { status, code, message: publicMessage(e.message) };
  }
  return { status: 500, code: 'InternalServerError', message: publicMessage(fsReason(e)) };
}
