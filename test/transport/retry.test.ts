import { writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { httpGet, httpPutFile, httpRequest } from '../../src/transport/http.js';
import {
  MAX_RETRY_DELAY_MS,
  parseRetryAfter,
  RetryLater,
  retryDelay,
  withRetry,
} from '../../src/transport/retry.js';
import { errorOf, tempDir } from '../helpers/env.js';

// Issue 11: one retry helper for every retrying request, honouring Retry-After (RFC 9110 section 10.2.3: seconds or
// an HTTP-date), bounded by a longest wait and by the caller's deadline. HTTP behaviour through real servers on
// 127.0.0.1.

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** A server answering `status` with `retry-after` to the first `busy` requests, then 200 "ok"; it counts hits. */
async function busyServer(status: number, retryAfter: () => string, busy = 1) {
  const hits: number[] = [];
  const url = await serve((req, res) => {
    hits.push(Date.now());
    req.resume();
    req.on('end', () => {
      if (hits.length <= busy) res.writeHead(status, { 'retry-after': retryAfter() }).end('busy');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  return { url, hits };
}

async function text(p: ReturnType<typeof httpGet>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of (await p).stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter(['2', '9'], now)).toBe(2000);
  });

  it('reads the three HTTP-date forms, and a date in the past is 0', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wednesday, 01-May-24 12:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Wed May  1 12:00:09 2024', now)).toBeGreaterThanOrEqual(0);
    expect(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now)).toBe(0);
  });

  it('ignores what is neither form', () => {
    for (const v of [undefined, '', '-1', '1.5', 'soon', '2024-05-01T12:00:05Z', 'Wed, 99 Foo 2024 xx GMT'])
      expect(parseRetryAfter(v, now)).toBeUndefined();
  });
});

describe('retryDelay', () => {
  it('honours Retry-After up to the longest wait, and never past the deadline', () => {
    expect(retryDelay(0, {}, 2500)).toBe(2500);
    expect(retryDelay(0, {}, 3_600_000)).toBe(MAX_RETRY_DELAY_MS);
    expect(retryDelay(0, { maxDelayMs: 200 }, 3_600_000)).toBe(200);
    const now = Date.now();
    expect(retryDelay(0, { deadlineAt: now + 300 }, 5000, now)).toBe(300);
    expect(retryDelay(0, { deadlineAt: now - 10 }, 5000, now)).toBe(0);
  });

  it('backs off exponentially with full jitter, capped', () => {
    for (let n = 0; n < 20; n++) {
      const d = retryDelay(n, { baseDelayMs: 100 });
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(Math.min(MAX_RETRY_DELAY_MS, 100 * 2 ** n) + 1e-9);
    }
  });
});

describe('withRetry', () => {
  it('makes at most retries + 1 attempts, telling the last one', async () => {
    const seen: [number, boolean][] = [];
    const r = await withRetry(
      async (n, last) => {
        seen.push([n, last]);
        return last ? 'given up' : new RetryLater(0);
      },
      { retries: 3 },
    );
    expect(r).toBe('given up');
    expect(seen).toEqual([
      [0, false],
      [1, false],
      [2, false],
      [3, true],
    ]);
  });

  it('stops at the first thrown error, and refuses a retry asked on the last attempt', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(calls).toBe(1);
    await expect(withRetry(async () => new RetryLater(0), { retries: 0 })).rejects.toThrow(/last attempt/);
  });

  it('waits what a real server asks, within maxDelayMs', async () => {
    const { url, hits } = await busyServer(503, () => '3600', 2);
    const started = Date.now();
    const r = await withRetry(
      async (_n, last) => {
        const reply = await httpRequest(url, { timeoutMs: 2000 });
        if (reply.status === 503 && !last)
          return new RetryLater(parseRetryAfter(reply.headers['retry-after']));
        return reply;
      },
      { retries: 3, maxDelayMs: 150 },
    );
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('ok');
    expect(hits).toHaveLength(3);
    expect(hits[1]! - hits[0]!).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('httpGet and httpPutFile honour Retry-After', () => {
  it('waits the seconds of a 503 before the next attempt (the backoff alone would be under 10 ms)', async () => {
    const { url, hits } = await busyServer(503, () => '1');
    expect(await text(httpGet(url, { retryDelayMs: 1 }))).toBe('ok');
    expect(hits).toHaveLength(2);
    expect(hits[1]! - hits[0]!).toBeGreaterThanOrEqual(950);
  });

  it('waits until the HTTP-date of a 429', async () => {
    const { url, hits } = await busyServer(429, () => new Date(Date.now() + 2000).toUTCString());
    expect(await text(httpGet(url, { retryDelayMs: 1 }))).toBe('ok');
    // the date has whole seconds: at least one second later, at most two
    expect(hits[1]! - hits[0]!).toBeGreaterThanOrEqual(950);
    expect(hits[1]! - hits[0]!).toBeLessThan(2600);
  });

  it('never waits past the deadline: a Retry-After of an hour ends in TRANSPORT_NETWORK at the deadline', async () => {
    const { url, hits } = await busyServer(503, () => '3600', 100);
    const started = Date.now();
    const e = await errorOf(httpGet(url, { deadlineMs: 600, retries: 5 }));
    expect(e.code).toBe('TRANSPORT_NETWORK');
    expect(e.message).toMatch(/deadline of 600 ms/);
    expect(hits).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a malformed Retry-After falls back to the backoff', async () => {
    const { url, hits } = await busyServer(503, () => 'soon', 2);
    const started = Date.now();
    expect(await text(httpGet(url, { retryDelayMs: 1 }))).toBe('ok');
    expect(hits).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('an upload waits the seconds of a 503, and sends the whole file again', async () => {
    const d = await tempDir();
    const file = join(d, 'a.bin');
    await writeFile(file, 'abc');
    const bodies: string[] = [];
    const hits: number[] = [];
    const url = await serve((req, res) => {
      hits.push(Date.now());
      let b = '';
      req.on('data', (c: Buffer) => {
        b += c.toString();
      });
      req.on('end', () => {
        bodies.push(b);
        if (hits.length === 1) res.writeHead(503, { 'retry-after': '1' }).end();
        else res.writeHead(200).end();
      });
    });
    const r = await httpPutFile(`${url}/put`, file, {
      contentType: 'application/octet-stream',
      retryDelayMs: 1,
    });
    expect(r.status).toBe(200);
    expect(bodies).toEqual(['abc', 'abc']);
    expect(hits[1]! - hits[0]!).toBeGreaterThanOrEqual(950);
  });
});

describe('httpRequest (small answers, e.g. a metadata service)', () => {
  it('returns any status with its body, and bounds the body', async () => {
    const url = await serve((req, res) => {
      if (req.url === '/big') res.writeHead(200).end('x'.repeat(5000));
      else res.writeHead(404, { 'x-a': 'b' }).end('nope');
    });
    const r = await httpRequest(`${url}/missing`, { method: 'PUT' });
    expect([r.status, r.headers['x-a'], r.body.toString()]).toEqual([404, 'b', 'nope']);
    expect((await errorOf(httpRequest(`${url}/big`, { maxBytes: 1000 }))).code).toBe('TRANSPORT_TOO_LARGE');
  });

  it('a server that never answers is TRANSPORT_NETWORK after the inactivity timeout', async () => {
    const url = await serve(() => undefined);
    const e = await errorOf(httpRequest(url, { timeoutMs: 200 }));
    expect(e.code).toBe('TRANSPORT_NETWORK');
    expect(e.message).toMatch(/no data for 200 ms/);
  });
});
