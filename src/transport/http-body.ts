import { createReadStream } from 'node:fs';
import type * as http from 'node:http';
import { type Readable, Transform } from 'node:stream';
import { CotError } from '../errors.js';
import { type Digester, digestTransform } from '../hashing/digest.js';

/** Bounds and checks of HTTP bodies (httpGet's, httpRequest's) and hashed file streams (uploads). */

/** A Transform that fails once more than `max` bytes pass, and (optionally) when fewer than `expected` arrived. */
export function bounded(max: number, what: string, expected?: number): Transform {
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
export function watchRate(
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

/** A file's bytes as a stream, each chunk hashed by `digester` on its way (the one hashing stream, digestTransform). */
export function hashedReadStream(path: string, digester: Digester): Readable {
  const t = digestTransform(digester);
  const s = createReadStream(path);
  s.on('error', (e) => t.destroy(e));
  return s.pipe(t);
}
