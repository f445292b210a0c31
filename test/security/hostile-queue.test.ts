/**
 * A hostile queue (or mirror): a hand-written node:http server on 127.0.0.1 that speaks the queue's REST routes
 * and lies in one way per test — a truncated or stalled body, a one-byte drip, endless continuation tokens, deeply
 * nested or huge JSON, control characters in what it says. The library and the real CLI (bin/cot.js in a child
 * process) must answer every lie with a coded error: never a crash, a hang, a leftover temp file, or text that
 * paints the terminal.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ChainReport, generateKeyPair, loadPolicy, renderChainText } from '../../src/index.js';
import { DirectoryQueue, downloadArtifact, TaskclusterQueue } from '../../src/queue.js';
import { httpGet } from '../../src/transport/http.js';
import { runCli } from '../helpers/cli.js';
import { codeOf, errorOf, REPO, sampleTask, TASK_ID, tempDir } from '../helpers/env.js';

const COT = 'public/chain-of-trust.json';
const UPSTREAM = 'Se-5NNn4TB65_9383YGsJA';
/** characters that can move the cursor, recolour, reorder or hide text on a terminal (newline aside) */
const DANGEROUS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const withoutNewlines = (s: string) => s.replace(/\n/g, '');

type Route = 'task' | 'status' | 'list' | 'artifact' | 'content';
type HawkCredentials = (id: string) => Promise<{ id: string; key: string; algorithm: string } | undefined>;
interface HawkServer {
  authenticate(req: http.IncomingMessage, c: HawkCredentials): Promise<{ credentials: { id: string } }>;
  authenticateBewit(req: http.IncomingMessage, c: HawkCredentials): Promise<{ credentials: { id: string } }>;
}
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Hostile {
  rootUrl: string;
  hits: Record<Route, number>;
  close(): Promise<void>;
}

function json(res: http.ServerResponse, body: unknown, status = 200): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

// a document in a complete format (the .json with its .sig): cot fetch mirrors nothing of a lone .json
const listing = (names = [COT, `${COT}.sig`]) => ({
  artifacts: names.map((name) => ({
    name,
    storageType: 's3',
    contentType: 'text/plain',
    expires: '2027-01-01T00:00:00.000Z',
  })),
});

/** A queue serving one completed task (its own decision task) with one artifact, each route replaceable. */
async function hostileQueue(over: Partial<Record<Route, Handler>> = {}): Promise<Hostile> {
  const hits: Record<Route, number> = { task: 0, status: 0, list: 0, artifact: 0, content: 0 };
  const routes: Record<Route, Handler> = {
    task: (_q, res) => json(res, sampleTask({ taskGroupId: TASK_ID })),
    status: (_q, res) =>
      json(res, {
        status: { taskId: TASK_ID, state: 'completed', runs: [{ runId: 0, state: 'completed' }] },
      }),
    list: (_q, res) => json(res, listing()),
    artifact: (req, res) => {
      const name = (req.url ?? '').replace(/^.*\/artifacts\//, '');
      res.writeHead(303, { location: `/content/${name}`, 'x-taskcluster-artifact-storage-type': 's3' });
      res.end();
    },
    content: (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('{}');
    },
    ...over,
  };
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const m = /^\/api\/queue\/v1\/task\/[^/]+(\/status|\/runs\/\d+\/artifacts(\/.+)?)?$/.exec(path);
    const route: Route | undefined = path.startsWith('/content/')
      ? 'content'
      : !m
        ? undefined
        : !m[1]
          ? 'task'
          : m[1] === '/status'
            ? 'status'
            : m[2]
              ? 'artifact'
              : 'list';
    if (!route) return json(res, { code: 'ResourceNotFound', message: 'no route' }, 404);
    hits[route]++;
    routes[route](req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    rootUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answer 200 with a declared length, then send `chunk` every `everyMs` until the client goes away. */
function drip(everyMs: number, length = 100_000, chunk = 'x'): Handler {
  return (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(length) });
    const t = setInterval(() => res.write(chunk), everyMs);
    res.on('close', () => clearInterval(t));
  };
}

/** The real CLI in a child process (a crash must show as a crash); killed after `killAfterMs` (a hang). */
function runCot(
  args: string[],
  killAfterMs = 40_000,
): Promise<{ code: number | null; out: string; err: string }> {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('TASKCLUSTER_')) delete env[k];
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(REPO, 'bin/cot.js'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

const HANG = 'HANG: no answer within the test deadline';
/** `p`, or HANG when it has not settled within `ms` (generous: only a hang reaches it). */
async function within<T>(ms: number, p: Promise<T>): Promise<T | typeof HANG> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<typeof HANG>((resolve) => {
    timer = setTimeout(() => resolve(HANG), ms);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every file below `dir` whose name marks it as a temp file. */
async function tempFiles(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return all.filter((f) => /\.tmp$/.test(f) || f.includes('.tmp'));
}

let d: string;
let policyFile: string;
let policyBody: Record<string, unknown>;
beforeAll(async () => {
  d = await tempDir('cot-hostile-');
  await generateKeyPair({
    type: 'ed25519',
    out: join(d, 'gw.key'),
    pubOut: join(d, 'gw.pub'),
    now: new Date(),
  });
  policyBody = {
    keys: { 'generic-worker': ['gw.pub'] },
    workerTypes: { 'proj-releng/b-linux': 'generic-worker' },
    decisionWorkerTypes: ['proj-releng/b-linux'],
  };
  policyFile = join(d, 'policy.json');
  await writeFile(policyFile, JSON.stringify(policyBody));
});

describe('downloading to a file (cot fetch): a truncated or stalled body is a coded error, no temp file', () => {
  it('a body cut short of its declared length: exit 3 TRANSPORT_NETWORK from the CLI, nothing left behind', async () => {
    const q = await hostileQueue({
      content: (_q, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000' });
        res.write(Buffer.alloc(1000, 0x7b));
        setTimeout(() => res.socket?.destroy(), 50);
      },
    });
    try {
      const out = join(d, 'fetch-truncated');
      const r = await runCot(['fetch', TASK_ID, '--root-url', q.rootUrl, '--out', out]);
      expect(r.err).toMatch(/^cot: TRANSPORT_NETWORK: .*truncated|^cot: TRANSPORT_NETWORK: /);
      expect(r.code, r.err).toBe(3);
      expect(await tempFiles(out)).toEqual([]);
      expect(await readdir(join(out, TASK_ID, 'runs/0/artifacts/public')).catch(() => [])).toEqual([]);
    } finally {
      await q.close();
    }
  });

  it('a body that stalls mid-way: exit 3 TRANSPORT_NETWORK after the inactivity timeout, nothing left behind', async () => {
    const q = await hostileQueue({
      content: (_q, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000' });
        res.write(Buffer.alloc(1000, 0x7b)); // then nothing, the connection held open
      },
    });
    try {
      const out = join(d, 'fetch-stalled');
      const r = await runCot(['fetch', TASK_ID, '--root-url', q.rootUrl, '--out', out, '--timeout', '500']);
      expect(r.err).toMatch(/^cot: TRANSPORT_NETWORK: .*no data for 500 ms/);
      expect(r.code, r.err).toBe(3);
      expect(await tempFiles(out)).toEqual([]);
    } finally {
      await q.close();
    }
  });

  it('the library: downloadArtifact with a destination rejects with TRANSPORT_NETWORK and writes nothing', async () => {
    const q = await hostileQueue({
      content: (_q, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000' });
        res.write(Buffer.alloc(1000, 0x7b));
        setTimeout(() => res.socket?.destroy(), 50);
      },
    });
    try {
      const queue = new TaskclusterQueue({ rootUrl: q.rootUrl, retries: 0 });
      const dir = join(d, 'lib-truncated');
      await mkdir(dir);
      const dl = downloadArtifact(queue, TASK_ID, 0, COT, { dest: join(dir, 'cot.json') });
      expect(await within(15_000, codeOf(dl))).toBe('TRANSPORT_NETWORK');
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await q.close();
    }
  });
});

describe('every download has a minimum rate and an overall deadline', () => {
  it('a drip under the minimum rate is cut; a slow reader of a fast server is not', async () => {
    const fast = Buffer.alloc(1024 * 1024, 1);
    const q = await hostileQueue({
      content: (req, res) => {
        if (req.url?.endsWith('fast')) {
          res.writeHead(200, { 'content-length': String(fast.length) });
          res.end(fast);
        } else drip(100)(req, res);
      },
    });
    try {
      const read = async (url: string, minBytesPerSecond: number, slow: boolean) => {
        const body = await httpGet(url, { minBytesPerSecond, rateWindowMs: 500, retries: 0 });
        let n = 0;
        for await (const c of body.stream as AsyncIterable<Buffer>) {
          n += c.length;
          if (slow) await new Promise((r) => setTimeout(r, 60));
        }
        return n;
      };
      expect(await within(15_000, codeOf(read(`${q.rootUrl}/content/drip`, 4096, false)))).toBe(
        'TRANSPORT_NETWORK',
      );
      // the reader, not the server, is slow here (backpressure, well under 4 MiB/s): that time does not count
      // against the server
      expect(await within(30_000, read(`${q.rootUrl}/content/fast`, 4 * 1024 * 1024, true))).toBe(
        fast.length,
      );
    } finally {
      await q.close();
    }
  });

  it('a drip fast enough for any rate still ends at the overall deadline (TRANSPORT_NETWORK)', async () => {
    const q = await hostileQueue({ content: drip(20, 10_000_000, 'x'.repeat(64)) });
    try {
      const t0 = Date.now();
      const body = httpGet(`${q.rootUrl}/content/x`, { deadlineMs: 1500, minBytesPerSecond: 0 }).then(
        async (b) => {
          for await (const _ of b.stream);
        },
      );
      expect(await within(15_000, codeOf(body))).toBe('TRANSPORT_NETWORK');
      expect(Date.now() - t0).toBeLessThan(12_000);
    } finally {
      await q.close();
    }
  });

  it('response headers sent a line at a time never end the request phase: the deadline does, retries included', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.write('HTTP/1.1 200 OK\r\n');
      let i = 0;
      const t = setInterval(() => s.write(`x-drip-${i++}: a\r\n`), 100);
      s.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
      const t0 = Date.now();
      expect(await within(20_000, codeOf(httpGet(url, { deadlineMs: 1500, retryDelayMs: 10 })))).toBe(
        'TRANSPORT_NETWORK',
      );
      expect(Date.now() - t0).toBeLessThan(12_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('cot fetch --deadline cuts a drip: exit 3, nothing left behind', async () => {
    const q = await hostileQueue({ content: drip(100) });
    try {
      const out = join(d, 'fetch-drip');
      const r = await runCot(['fetch', TASK_ID, '--root-url', q.rootUrl, '--out', out, '--deadline', '2000']);
      expect(r.err).toMatch(/^cot: TRANSPORT_NETWORK: .*deadline/);
      expect(r.code, r.err).toBe(3);
      expect(await tempFiles(out)).toEqual([]);
    } finally {
      await q.close();
    }
  });

  it('cot verify: policy bounds deadlineMs and minBytesPerSecond apply to the chain-of-trust downloads', async () => {
    const q = await hostileQueue({
      list: (_q, res) => json(res, listing([COT, `${COT}.sig`])),
      content: drip(100),
    });
    try {
      const p = join(d, 'policy-deadline.json');
      await writeFile(
        p,
        JSON.stringify({ ...policyBody, bounds: { deadlineMs: 1500, minBytesPerSecond: 1 } }),
      );
      expect((await loadPolicy(p)).policy.bounds).toMatchObject({ deadlineMs: 1500, minBytesPerSecond: 1 });
      const r = await runCot(['verify', TASK_ID, '--root-url', q.rootUrl, '--policy', p]);
      // a deadline is a failure a retry may fix: exit 3 (before issue 10, every chain failure exited 1)
      expect(r.err).toMatch(/^cot: TRANSPORT_NETWORK: .*first: TRANSPORT_NETWORK: .*deadline/m);
      expect(r.code, r.err).toBe(3);
    } finally {
      await q.close();
    }
  });
});

describe('listArtifacts paging is bounded in pages, entries and time', () => {
  it('endless fresh continuation tokens: TRANSPORT_LIST_TOO_LONG after maxListPages requests', async () => {
    let n = 0;
    const q = await hostileQueue({
      list: (_q, res) => json(res, { ...listing(), continuationToken: `token-${n++}` }),
    });
    try {
      const queue = new TaskclusterQueue({ rootUrl: q.rootUrl, retries: 0, maxListPages: 20 });
      expect(await within(15_000, codeOf(queue.listArtifacts(TASK_ID, 0)))).toBe('TRANSPORT_LIST_TOO_LONG');
      expect(q.hits.list).toBeLessThanOrEqual(20);
    } finally {
      await q.close();
    }
  });

  it('a continuation token that comes back again: TRANSPORT_LIST_TOO_LONG at once', async () => {
    const q = await hostileQueue({
      list: (_q, res) => json(res, { ...listing(), continuationToken: 'again' }),
    });
    try {
      const queue = new TaskclusterQueue({ rootUrl: q.rootUrl, retries: 0 });
      expect(await within(15_000, codeOf(queue.listArtifacts(TASK_ID, 0)))).toBe('TRANSPORT_LIST_TOO_LONG');
      expect(q.hits.list).toBe(2);
    } finally {
      await q.close();
    }
  });

  it('more entries than maxListEntries: TRANSPORT_LIST_TOO_LONG', async () => {
    const names = Array.from({ length: 5000 }, (_, i) => `public/many/${i}.txt`);
    const q = await hostileQueue({ list: (_q, res) => json(res, listing(names)) });
    try {
      const queue = new TaskclusterQueue({ rootUrl: q.rootUrl, retries: 0, maxListEntries: 1000 });
      expect(await codeOf(queue.listArtifacts(TASK_ID, 0))).toBe('TRANSPORT_LIST_TOO_LONG');
    } finally {
      await q.close();
    }
  });

  it('slow pages, each with a new token: TRANSPORT_LIST_TOO_LONG at listDeadlineMs', async () => {
    let n = 0;
    const q = await hostileQueue({
      list: (_q, res) => {
        setTimeout(() => json(res, { ...listing(), continuationToken: `slow-${n++}` }), 300);
      },
    });
    try {
      const queue = new TaskclusterQueue({ rootUrl: q.rootUrl, retries: 0, listDeadlineMs: 1000 });
      expect(await within(15_000, codeOf(queue.listArtifacts(TASK_ID, 0)))).toBe('TRANSPORT_LIST_TOO_LONG');
      expect(q.hits.list).toBeLessThanOrEqual(5);
    } finally {
      await q.close();
    }
  });

  it('cot fetch with the default bounds against endless tokens: exit 3 TRANSPORT_LIST_TOO_LONG', async () => {
    let n = 0;
    const q = await hostileQueue({
      list: (_q, res) => json(res, { ...listing(), continuationToken: `token-${n++}` }),
    });
    try {
      const r = await runCot(['fetch', TASK_ID, '--root-url', q.rootUrl, '--out', join(d, 'fetch-endless')]);
      expect(r.err).toMatch(/^cot: TRANSPORT_LIST_TOO_LONG: /);
      expect(r.code, r.err).toBe(3);
    } finally {
      await q.close();
    }
  });
});

describe("the queue's JSON goes through cot's bounded strict parser", () => {
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

  it('deeply nested, huge or duplicate-key task, status and listing responses: JSON_INVALID', async () => {
    let task = '';
    let status = '';
    let list = '';
    const q = await hostileQueue({
      task: (_q, res) => json(res, task),
      status: (_q, res) => json(res, status),
      list: (_q, res) => json(res, list),
    });
    try {
      const queue = new TaskclusterQueue({ rootUrl: q.rootUrl, retries: 0 });
      task = `{"workerType":"b-linux","extra":${deep(100_000)}}`;
      expect(await codeOf(queue.task(TASK_ID))).toBe('JSON_INVALID');
      task = `{"workerType":"b-linux","metadata":{"name":"${'x'.repeat(20 * 1024 * 1024)}"}}`;
      expect(await codeOf(queue.task(TASK_ID))).toBe('JSON_INVALID');
      // last-wins would let the queue show one value and sign-compare another
      task = '{"workerType":"b-linux","workerType":"decision"}';
      expect(await codeOf(queue.task(TASK_ID))).toBe('JSON_INVALID');
      status = `{"status":{"taskId":"${TASK_ID}","runs":[{"runId":0,"state":"completed"}],"x":${deep(100_000)}}}`;
      expect(await codeOf(queue.status(TASK_ID))).toBe('JSON_INVALID');
      list = `{"artifacts":[],"x":${deep(100_000)}}`;
      expect(await codeOf(queue.listArtifacts(TASK_ID, 0))).toBe('JSON_INVALID');
    } finally {
      await q.close();
    }
  });

  it('the CLI: cot fetch and cot verify against a deeply nested task end with JSON_INVALID, not INTERNAL', async () => {
    const q = await hostileQueue({
      task: (_q, res) =>
        json(
          res,
          JSON.stringify(sampleTask({ taskGroupId: TASK_ID })).replace(
            '"extra":{}',
            `"extra":${deep(200_000)}`,
          ),
        ),
    });
    try {
      const f = await runCot(['fetch', TASK_ID, '--root-url', q.rootUrl, '--out', join(d, 'fetch-deep')]);
      expect(f.err).toMatch(/^cot: JSON_INVALID: /);
      expect(f.code, f.err).toBe(4);
      // cot verify agrees with cot fetch (one rule): bad input, exit 4 (before issue 10: exit 1)
      const v = await runCot(['verify', TASK_ID, '--root-url', q.rootUrl, '--policy', policyFile]);
      expect(v.err).toMatch(/^cot: JSON_INVALID: .*first: JSON_INVALID/);
      expect(v.code, v.err).toBe(4);
    } finally {
      await q.close();
    }
  });
});

describe('reads with credentials', () => {
  it('task, status and listArtifacts are Hawk-authenticated for the client id, and the bewit never shows in messages', async () => {
    const creds = { clientId: 'project/cot/reader', accessToken: 'reader-token-reader-token-reader-token' };
    const hawk = (createRequire(import.meta.url)('hawk') as { server: HawkServer }).server;
    const seen: string[] = [];
    const check =
      (next: Handler): Handler =>
      (req, res) => {
        const lookup = async (id: string) =>
          id === creds.clientId ? { id, key: creds.accessToken, algorithm: 'sha256' } : undefined;
        const auth = req.headers.authorization
          ? hawk.authenticate(req, lookup)
          : hawk.authenticateBewit(req, lookup);
        auth.then(
          (r) => {
            seen.push(r.credentials.id);
            next(req, res);
          },
          () => json(res, { code: 'AuthenticationFailed', message: 'bad Hawk' }, 401),
        );
      };
    const q = await hostileQueue({
      task: check((_q, res) => json(res, { code: 'ResourceNotFound', message: 'no such task' }, 404)),
      status: check((_q, res) =>
        json(res, { status: { taskId: TASK_ID, runs: [{ runId: 0, state: 'completed' }] } }),
      ),
      list: check((_q, res) => json(res, listing())),
    });
    try {
      const queue = new TaskclusterQueue({ rootUrl: q.rootUrl, credentials: creds, retries: 0 });
      expect((await queue.status(TASK_ID)).runs).toHaveLength(1);
      expect((await queue.listArtifacts(TASK_ID, 0)).map((a) => a.name)).toEqual([COT, `${COT}.sig`]);
      const err = await errorOf(queue.task(TASK_ID));
      expect(err.code).toBe('QUEUE_NOT_FOUND');
      expect(seen).toEqual([creds.clientId, creds.clientId, creds.clientId]);
      expect(err.message).toContain('bewit=…');
      expect(err.message).not.toMatch(/bewit=[^…]/);
      const wrong = new TaskclusterQueue({
        rootUrl: q.rootUrl,
        credentials: { ...creds, accessToken: 'not-the-token-not-the-token-not-the' },
        retries: 0,
      });
      expect(await codeOf(wrong.status(TASK_ID))).toBe('TRANSPORT_AUTH');
    } finally {
      await q.close();
    }
  });
});

describe('queue-supplied text is printed with control and bidi characters escaped', () => {
  // cursor up, erase line, carriage return, a fake verdict, a C1 CSI, DEL, bidi overrides and isolates, a zero-width
  // space, a line separator, a newline
  const EVIL =
    'build\x1b[1A\x1b[2K\r\x1b[32mVERIFIED\x1b[0m\x9b31m\x7f\u202e\u2066\u200b\u2028\nVERIFIED: 1 link(s), 0 failed';

  it('renderChainText escapes every queue-supplied string', () => {
    const report: ChainReport = {
      ok: false,
      root: TASK_ID,
      referenceTime: '2026-11-25T12:00:00.000Z',
      links: [
        {
          taskId: TASK_ID,
          role: 'root',
          // kinds (consumers' taskTypes) and image names come from task definitions too
          kinds: [EVIL],
          image: { type: 'prebuilt', name: EVIL, verified: false },
          name: EVIL,
          decision: true,
          depth: 0,
          provisionerId: 'proj-releng',
          workerType: `b-linux${EVIL}`,
          upstream: [],
          checks: [],
          errors: [{ code: 'CHAIN_COT_MISSING', taskId: TASK_ID, message: `no document: ${EVIL}` }],
          ok: false,
        },
      ],
      errors: [{ code: 'TRANSPORT_HTTP', message: `HTTP 500: ${EVIL}` }],
      stats: {
        tasks: 1,
        artifactsChecked: 0,
        bytesHashed: 0,
        documentsRead: 0,
        taskGraphsRead: 0,
        documentBytes: 0,
        seconds: 0,
        phases: {},
      },
    };
    const text = renderChainText(report);
    expect(withoutNewlines(text)).not.toMatch(DANGEROUS);
    expect(text.split('\n').filter((l) => l.startsWith('VERIFIED'))).toEqual([]);
    expect(text).toContain('build\\u001b[1A\\u001b[2K\\r\\u001b[32mVERIFIED');
    expect(text).toContain('\\u202e\\u2066\\u200b\\u2028\\nVERIFIED');
    expect(text.trimEnd().split('\n').at(-1)).toMatch(/^NOT VERIFIED: /);
  });

  it('cot verify: a task name with ANSI and bidi sequences cannot paint a fake VERIFIED', async () => {
    const store = new DirectoryQueue(join(d, 'evil-store'));
    await store.putTask(
      TASK_ID,
      sampleTask({ taskGroupId: TASK_ID, metadata: { ...sampleTask().metadata, name: EVIL } }),
    );
    await store.ensureRun(TASK_ID, 0);
    const r = await runCli(new Date(), 'verify', TASK_ID, '--queue', store.root, '--policy', policyFile);
    expect(r.code).toBe(1);
    expect(withoutNewlines(r.out)).not.toMatch(DANGEROUS);
    expect(withoutNewlines(r.err)).not.toMatch(DANGEROUS);
    expect(r.out.split('\n').filter((l) => l.startsWith('VERIFIED'))).toEqual([]);
    expect(r.out).toContain('\\u001b[32mVERIFIED');
  });

  it('cot fetch: artifact names from the queue are escaped in text and in --json (which still parses to them)', async () => {
    // an upstream artifact the consumer names and the producer lacks: fetch reports it, by name
    const evilPath = `public/\x1b[31mred\u202eevil\u0085\nmirrored 0 tasks, FAKE`;
    const src = new DirectoryQueue(join(d, 'evil-src'));
    await src.putTask(
      TASK_ID,
      sampleTask({
        taskGroupId: TASK_ID,
        payload: { upstreamArtifacts: [{ taskId: UPSTREAM, taskType: 'build', paths: [evilPath] }] },
      }),
    );
    await src.ensureRun(TASK_ID, 0);
    await src.putTask(UPSTREAM, sampleTask({ taskGroupId: UPSTREAM }));
    await src.ensureRun(UPSTREAM, 0);
    const t = await runCli(new Date(), 'fetch', TASK_ID, '--queue', src.root, '--out', join(d, 'evil-m1'));
    expect(t.code, t.err).not.toBe(70);
    expect(t.out).toContain('public/\\u001b[31mred\\u202eevil\\u0085\\nmirrored 0 tasks, FAKE');
    expect(withoutNewlines(t.out + t.err)).not.toMatch(DANGEROUS);
    expect(`${t.out}${t.err}`.split('\n').filter((l) => l.startsWith('mirrored 0 tasks, FAKE'))).toEqual([]);
    const j = await runCli(
      new Date(),
      'fetch',
      TASK_ID,
      '--queue',
      src.root,
      '--out',
      join(d, 'evil-m2'),
      '--json',
    );
    expect(j.code, j.err).not.toBe(70);
    expect(withoutNewlines(j.out)).not.toMatch(DANGEROUS);
    const strings: string[] = [];
    const collect = (v: unknown): void => {
      if (typeof v === 'string') strings.push(v);
      else if (v && typeof v === 'object') for (const x of Object.values(v)) collect(x);
    };
    collect(JSON.parse(j.out));
    expect(strings.some((x) => x.includes(evilPath))).toBe(true);
  });

  it('errors on stderr: one line, `cot: CODE: message`, whatever the queue put in its error body', async () => {
    const q = await hostileQueue({
      task: (_q, res) =>
        json(res, { code: 'ResourceNotFound', message: '\x1b]0;owned\x07\x1b[2J\nVERIFIED\u202e' }, 404),
      content: (_q, res) => {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('gone\x1b[2J\r\nVERIFIED\u202e\x9b');
      },
    });
    try {
      const a = await runCot(['fetch', TASK_ID, '--root-url', q.rootUrl, '--out', join(d, 'fetch-err-a')]);
      expect(a.code, a.err).toBe(4);
      expect(a.err).toMatch(/^cot: QUEUE_NOT_FOUND: [^\n]*\n$/);
      expect(withoutNewlines(a.err)).not.toMatch(DANGEROUS);
    } finally {
      await q.close();
    }
    const q2 = await hostileQueue({
      content: (_q, res) => {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('gone\x1b[2J\r\nVERIFIED\u202e\x9b');
      },
    });
    try {
      const b = await runCot(['fetch', TASK_ID, '--root-url', q2.rootUrl, '--out', join(d, 'fetch-err-b')]);
      expect(b.code, b.err).toBe(4);
      expect(b.err).toMatch(/^cot: QUEUE_NOT_FOUND: [^\n]*\n$/);
      expect(withoutNewlines(b.err)).not.toMatch(DANGEROUS);
    } finally {
      await q2.close();
    }
  });
});

describe('bodies the client does not need are never waited on', () => {
  it('a redirect whose body never ends cannot keep cot fetch alive', async () => {
    const q = await hostileQueue({
      artifact: (req, res) => {
        const name = (req.url ?? '').replace(/^.*\/artifacts\//, '');
        res.writeHead(303, { location: `/content/${name}`, 'x-taskcluster-artifact-storage-type': 's3' });
        const t = setInterval(() => res.write('x'), 200);
        res.on('close', () => clearInterval(t));
      },
    });
    try {
      const r = await runCot([
        'fetch',
        TASK_ID,
        '--root-url',
        q.rootUrl,
        '--out',
        join(d, 'fetch-redirect-body'),
      ]);
      expect(r.code, `${r.out}${r.err}`).toBe(0); // before: the mirror was written, and the process never exited
    } finally {
      await q.close();
    }
  });

  it('a 5xx (retried) or 4xx answer with a trickling body fails at once, not at the deadline', async () => {
    for (const status of [500, 403]) {
      const q = await hostileQueue({
        content: (_q, res) => {
          res.writeHead(status, { 'content-type': 'text/plain' });
          const t = setInterval(() => res.write('x'), 500);
          res.on('close', () => clearInterval(t));
        },
      });
      try {
        const r = await within(
          15_000,
          errorOf(httpGet(`${q.rootUrl}/content/x`, { deadlineMs: 60_000, retries: 2, retryDelayMs: 10 })),
        );
        expect(r === HANG ? r : r.code, String(status)).toBe(
          status === 500 ? 'TRANSPORT_HTTP' : 'TRANSPORT_AUTH',
        );
      } finally {
        await q.close();
      }
    }
  });
});
