import { writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CotError } from '../../src/index.js';
import { TaskclusterQueue } from '../../src/queue.js';
import { httpGet, httpPutFile } from '../../src/transport/http.js';
import { TASK_ID, tempDir } from '../helpers/env.js';

// Issue 10: exit 3 only for what a retry can fix; a PUT never answered is not waited on for 300 s. Real servers on
// 127.0.0.1.
let d: string;
const servers: http.Server[] = [];

beforeAll(async () => {
  d = await tempDir();
});
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

async function errorOf(p: Promise<unknown>): Promise<CotError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CotError) return e;
    throw e;
  }
  throw new Error('expected a CotError');
}

describe('error statuses: retry (3) or not (4)', () => {
  it('410 (ResourceExpired) and 404 are QUEUE_NOT_FOUND; 400 QUEUE_REQUEST_REFUSED; 503 TRANSPORT_HTTP after retries', async () => {
    let hits503 = 0;
    const url = await serve((req, res) => {
      const status = Number(req.url!.slice(1));
      if (status === 503) hits503++;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: status === 410 ? 'ResourceExpired' : 'X', message: 'm' }));
    });
    const code = async (s: number) =>
      (await errorOf(httpGet(`${url}/${s}`, { retries: 2, retryDelayMs: 1 }))).code;
    expect(await code(410)).toBe('QUEUE_NOT_FOUND');
    expect(await code(404)).toBe('QUEUE_NOT_FOUND');
    expect(await code(424)).toBe('QUEUE_NOT_FOUND');
    expect(await code(400)).toBe('QUEUE_REQUEST_REFUSED');
    expect(await code(401)).toBe('TRANSPORT_AUTH');
    expect(await code(503)).toBe('TRANSPORT_HTTP');
    expect(hits503).toBe(3);
  });

  it('an expired artifact through the Taskcluster client: QUEUE_NOT_FOUND, with the status', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'ResourceExpired', message: 'artifact expired' }));
    });
    const q = new TaskclusterQueue({ rootUrl: url, retries: 0 });
    const e = await errorOf(q.openArtifact(TASK_ID, 0, 'public/build/x.zip'));
    expect(e.code).toBe('QUEUE_NOT_FOUND');
    expect(e.details.status).toBe(410);
    expect(e.message).toMatch(/ResourceExpired/);
  });
});

describe('a PUT whose body was taken but never answered', () => {
  it('is retried after a deadline proportionate to the body, not the 300 s inactivity timeout', async () => {
    let attempts = 0;
    const url = await serve((req, res) => {
      attempts++;
      const n = attempts;
      req.resume();
      req.on('end', () => {
        if (n > 1) {
          res.writeHead(200);
          res.end();
        }
        // the first attempt: the whole body read, no answer ever
      });
    });
    await writeFile(join(d, 'body.bin'), Buffer.alloc(100_000, 1));
    const t0 = Date.now();
    const r = await Promise.race([
      httpPutFile(`${url}/put`, join(d, 'body.bin'), {
        contentType: 'application/octet-stream',
        retries: 2,
        retryDelayMs: 1,
      }),
      new Promise((_, reject) => setTimeout(() => reject(new Error('still waiting after 40 s')), 40_000)),
    ]);
    expect(r).toMatchObject({ status: 200 });
    expect(attempts).toBe(2);
    // 10 s for a small body (putResponseTimeoutMs), not 300 s
    expect(Date.now() - t0).toBeGreaterThanOrEqual(9_000);
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 60_000);

  it('says so when no attempt is answered', async () => {
    const url = await serve((req) => {
      req.resume();
    });
    await writeFile(join(d, 'small.bin'), 'x');
    const e = await errorOf(
      httpPutFile(`${url}/put`, join(d, 'small.bin'), {
        contentType: 'text/plain',
        retries: 1,
        retryDelayMs: 1,
        responseTimeoutMs: 300,
      }),
    );
    expect(e.code).toBe('TRANSPORT_NETWORK');
    expect(e.message).toMatch(/the body was sent but no answer came within 300 ms/);
  });
});

describe('credentials and redirects', () => {
  it('authorization and cookie go to the first origin only; redirectAllowed can refuse a target', async () => {
    const got: { at: string; authorization?: string; cookie?: string }[] = [];
    const record = (at: string, req: http.IncomingMessage) =>
      got.push({
        at,
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        ...(req.headers.cookie ? { cookie: req.headers.cookie } : {}),
      });
    const other = await serve((req, res) => {
      record('other', req);
      res.end('ok');
    });
    const first = await serve((req, res) => {
      record(`first${req.url}`, req);
      if (req.url === '/a') res.writeHead(302, { location: '/b' }).end();
      else if (req.url === '/b') res.writeHead(302, { location: `${other}/c` }).end();
      else res.end('no');
    });
    const headers = { Authorization: 'Bearer sekrit', cookie: 'c=1', 'x-keep': 'yes' };
    const body = await httpGet(`${first}/a`, { headers, allowedHosts: [new URL(other).host], retries: 0 });
    for await (const _ of body.stream);
    expect(got).toEqual([
      { at: 'first/a', authorization: 'Bearer sekrit', cookie: 'c=1' },
      { at: 'first/b', authorization: 'Bearer sekrit', cookie: 'c=1' },
      { at: 'other' },
    ]);
    const e = await errorOf(
      httpGet(`${first}/a`, {
        allowedHosts: [new URL(other).host],
        retries: 0,
        redirectAllowed: (u) => u.pathname !== '/c',
      }),
    );
    expect(e.code).toBe('TRANSPORT_REDIRECT_REFUSED');
  });
});
