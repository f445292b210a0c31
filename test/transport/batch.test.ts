/**
 * The queue's batch reads, `tasks` (POST /tasks) and `statuses` (POST /tasks/status), end to end on 127.0.0.1:
 * `cot queue serve` answers them as services/queue does (schemas tasks-request / tasks-response /
 * tasks-statuses-response, paginateResults' limit and continuation tokens), checked with the real
 * taskcluster-client; TaskclusterQueue's batch methods check every answer (a hand-written hostile server lies in one
 * way per test); readTasks / readStatuses give each task exactly what a single read would.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdir, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tc from 'taskcluster-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CotError } from '../../src/errors.js';
import {
  DirectoryQueue,
  type QueueServer,
  startQueueServer,
  TaskclusterQueue,
  type TaskclusterQueueOptions,
} from '../../src/queue.js';
import { FaultPlan, slugid } from '../../src/testing.js';
import { readStatuses, readTasks } from '../../src/transport/batch.js';
import { codeOf, errorOf, sampleTask, tempDir } from '../helpers/env.js';

// eight tasks in the store (two with runs and a stored status), and ids it does not have
const IDS = Array.from({ length: 8 }, () => slugid());
const MISSING = slugid();
let dir: string;
let store: DirectoryQueue;
let server: QueueServer;

beforeAll(async () => {
  dir = await tempDir();
  store = new DirectoryQueue(join(dir, 'store'));
  for (const [i, id] of IDS.entries()) await store.putTask(id, sampleTask({ metadata: { name: `t${i}` } }));
  await store.ensureRun(IDS[0]!, 0);
  await store.ensureRun(IDS[0]!, 1);
  await writeFile(
    join(store.taskDir(IDS[1]!), 'status.json'),
    JSON.stringify({
      status: {
        taskId: IDS[1],
        state: 'failed',
        runs: [{ runId: 0, state: 'failed', started: '2026-11-25T01:00:00.000Z' }],
      },
    }),
  );
  server = await startQueueServer({ dir: join(dir, 'store'), faults: new FaultPlan() });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => server.faults.clear());

/** A raw request to the server: its status and JSON body. */
async function raw(
  method: string,
  path: string,
  body?: string,
  contentType = 'application/json',
): Promise<{ status: number; body: { code?: string; [k: string]: unknown } }> {
  const res = await fetch(`${server.rootUrl}${path}`, {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': contentType } }),
  });
  return { status: res.status, body: (await res.json()) as { code?: string } };
}

describe('cot queue serve: tasks and statuses, through the real taskcluster-client', () => {
  const client = () => new tc.Queue({ rootUrl: server.rootUrl, retries: 0 });

  it('answers the definitions it has, as task does: in request order, repeated ids once, unknown ids left out', async () => {
    const q = client();
    const r = await q.tasks({ taskIds: [IDS[2], MISSING, IDS[0], IDS[2], 'not a task id', IDS[1]] });
    expect(r.continuationToken).toBeUndefined();
    expect(r.tasks.map((t: { taskId: string }) => t.taskId)).toEqual([IDS[2], IDS[0], IDS[1]]);
    for (const t of r.tasks as { taskId: string; task: unknown }[])
      expect(t.task).toEqual(await q.task(t.taskId));
    expect(Object.keys(r)).toEqual(['tasks']);
    expect(await q.tasks({ taskIds: [] })).toEqual({ tasks: [] });
    expect(await q.tasks({})).toEqual({ tasks: [] }); // taskIds defaults to []
  });

  it('answers the statuses it has, as status does', async () => {
    const q = client();
    const r = await q.statuses({ taskIds: [IDS[0], MISSING, IDS[1], IDS[3]] });
    expect(r.statuses.map((s: { taskId: string }) => s.taskId)).toEqual([IDS[0], IDS[1], IDS[3]]);
    for (const s of r.statuses as { taskId: string; status: unknown }[])
      expect(s.status).toEqual((await q.status(s.taskId)).status);
    expect(r.statuses[0].status.runs).toHaveLength(2);
    expect(r.statuses[1].status.state).toBe('failed');
  });

  it('pages by limit with continuation tokens until the last page, which has none', async () => {
    const q = client();
    const pages: string[][] = [];
    const tokens: string[] = [];
    let token: string | undefined;
    do {
      const r = await q.statuses(
        { taskIds: [MISSING, ...IDS] },
        { limit: '3', ...(token ? { continuationToken: token } : {}) },
      );
      pages.push(r.statuses.map((s: { taskId: string }) => s.taskId));
      token = r.continuationToken;
      if (token) tokens.push(token);
    } while (token);
    expect(pages).toEqual([IDS.slice(0, 3), IDS.slice(3, 6), IDS.slice(6)]);
    expect(new Set(tokens).size).toBe(2);
    // a limit of exactly the tasks found: one page, no token
    expect(
      (await q.tasks({ taskIds: IDS }, { limit: String(IDS.length) })).continuationToken,
    ).toBeUndefined();
  });

  it('answers at most 1000 tasks per page, whatever the limit', async () => {
    const many = Array.from({ length: 1001 }, () => slugid());
    for (const id of many) {
      await mkdir(join(dir, 'store', id), { recursive: true });
      await writeFile(join(dir, 'store', id, 'task.json'), JSON.stringify(sampleTask()));
    }
    const q = client();
    const first = await q.tasks({ taskIds: many }, { limit: '5000' });
    expect(first.tasks).toHaveLength(1000);
    const second = await q.tasks({ taskIds: many }, { continuationToken: first.continuationToken });
    expect(second.tasks.map((t: { taskId: string }) => t.taskId)).toEqual([many[1000]]);
    expect(second.continuationToken).toBeUndefined();
  });

  it('refuses what the queue refuses, with its error names', async () => {
    const tasks = '/api/queue/v1/tasks';
    const cases: [string, string, string | undefined, string, number, string][] = [
      ['bad token', `${tasks}?continuationToken=nope!`, '{}', 'application/json', 400, 'InputError'],
      ['bad limit', `${tasks}?limit=ten`, '{}', 'application/json', 400, 'InvalidRequestArguments'],
      [
        'empty token',
        `${tasks}?continuationToken=`,
        '{}',
        'application/json',
        400,
        'InvalidRequestArguments',
      ],
      ['unknown query', `${tasks}?offset=3`, '{}', 'application/json', 400, 'InvalidRequestArguments'],
      ['not a list', tasks, '{"taskIds":"x"}', 'application/json', 400, 'InputValidationError'],
      ['not strings', `${tasks}/status`, '{"taskIds":[1]}', 'application/json', 400, 'InputValidationError'],
      ['extra member', tasks, '{"taskIds":[],"x":1}', 'application/json', 400, 'InputValidationError'],
      ['not an object', tasks, '[]', 'application/json', 400, 'InputValidationError'],
      ['not JSON', tasks, '{"taskIds":', 'application/json', 400, 'MalformedPayload'],
      ['duplicate key', tasks, '{"taskIds":[],"taskIds":[]}', 'application/json', 400, 'MalformedPayload'],
      ['not sent as JSON', tasks, '{"taskIds":[]}', 'text/plain', 400, 'MalformedPayload'],
    ];
    for (const [what, path, body, type, status, code] of cases) {
      const r = await raw('POST', path, body, type);
      expect([what, r.status, r.body.code]).toEqual([what, status, code]);
    }
    // the real client reports the queue's code
    const e = await client()
      .tasks({ taskIds: IDS }, { continuationToken: 'nope!' })
      .catch((x: { code: string }) => x);
    expect(e.code).toBe('InputError');
    // only POST is routed
    expect((await raw('GET', tasks)).status).toBe(404);
    expect((await raw('GET', `${tasks}/status`)).status).toBe(404);
  });
});

describe('TaskclusterQueue batch reads against cot queue serve', () => {
  const queue = () => new TaskclusterQueue({ rootUrl: server.rootUrl, retries: 2, retryDelayMs: 5 });

  it('give exactly what task and status give, for the tasks the queue has', async () => {
    const q = queue();
    const defs = await q.tasks([IDS[0]!, MISSING, IDS[4]!, 'not-a-task-id', IDS[0]!]);
    expect([...defs!.keys()]).toEqual([IDS[0], IDS[4]]);
    expect(defs!.get(IDS[4]!)).toEqual(await q.task(IDS[4]!));
    const st = await q.statuses([IDS[1]!, IDS[0]!, MISSING]);
    expect([...st!.keys()]).toEqual([IDS[1], IDS[0]]);
    expect(st!.get(IDS[1]!)).toEqual(await q.status(IDS[1]!));
    expect(st!.get(IDS[0]!)).toEqual(await q.status(IDS[0]!));
    expect(await q.tasks([])).toEqual(new Map());
  });

  it('a 5xx is retried; one that lasts fails the whole call with TRANSPORT_HTTP', async () => {
    const q = queue();
    server.faults.add('tasks', { kind: 'status', status: 503 });
    expect((await q.tasks(IDS))?.size).toBe(IDS.length);
    server.faults.add('statuses', { kind: 'status', status: 500 }, 3);
    const e = await errorOf(q.statuses(IDS));
    expect(e.code).toBe('TRANSPORT_HTTP');
    expect(e.message).toMatch(
      /^statuses of 8 tasks \(page 1\): POST http:\/\/127\.0\.0\.1:\d+\/api\/queue\/v1\/tasks\/status: HTTP 500/,
    );
  });
});

describe('readTasks and readStatuses: each task gets what a single read gives', () => {
  const queue = () => new TaskclusterQueue({ rootUrl: server.rootUrl, retries: 0 });

  it("a task the batch leaves out is read alone: the queue's own error for it", async () => {
    const q = queue();
    const got = await readTasks(q, [IDS[0]!, MISSING, IDS[1]!], 8);
    expect([...got.keys()]).toEqual([IDS[0], MISSING, IDS[1]]);
    expect(got.get(IDS[0]!)).toEqual(await q.task(IDS[0]!));
    const alone = await errorOf(q.task(MISSING));
    const e = got.get(MISSING);
    expect(e).toBeInstanceOf(CotError);
    expect([(e as CotError).code, (e as CotError).message]).toEqual([alone.code, alone.message]);
    expect(alone.code).toBe('QUEUE_NOT_FOUND');
    expect(alone.message).toContain(MISSING);
    const st = await readStatuses(q, [MISSING, IDS[1]!], 8);
    expect((st.get(MISSING) as CotError).code).toBe('QUEUE_NOT_FOUND');
    expect(st.get(IDS[1]!)).toEqual(await q.status(IDS[1]!));
  });

  it('the same answers from a queue without batch reads (a directory store), one read per task', async () => {
    const got = await readTasks(store, [IDS[2]!, MISSING], 2);
    expect(got.get(IDS[2]!)).toEqual(await store.task(IDS[2]!));
    expect(await codeOf(Promise.reject(got.get(MISSING)))).toBe('QUEUE_NOT_FOUND');
    const st = await readStatuses(store, [IDS[1]!], 2);
    expect(st.get(IDS[1]!)).toEqual(await store.status(IDS[1]!));
  });

  it('a batch call that fails gives its error to each of its tasks (no read alone)', async () => {
    server.faults.add('tasks', { kind: 'status', status: 500 });
    const got = await readTasks(queue(), [IDS[0]!, IDS[1]!], 8);
    for (const id of [IDS[0]!, IDS[1]!]) expect((got.get(id) as CotError).code).toBe('TRANSPORT_HTTP');
  });
});

// ------------------------------------------------------------------ a queue that lies about its batch answers

interface Liar {
  rootUrl: string;
  hits: Record<string, number>;
  close(): Promise<void>;
}

/**
 * A queue that serves one fixed definition and status for any task, and answers POST /tasks and /tasks/status with
 * `batch` (or 404 without it, as a deployment older than those routes).
 */
async function liar(
  batch?: (route: 'tasks' | 'statuses', ids: string[], url: URL, res: http.ServerResponse) => void,
): Promise<Liar> {
  const hits: Record<string, number> = {};
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
      };
      const m = /^\/api\/queue\/v1\/(tasks(?:\/status)?|task\/([^/]+)(\/status)?)$/.exec(url.pathname);
      const key = `${req.method} ${m ? (m[2] ? (m[3] ? 'status' : 'task') : m[1]) : 'other'}`;
      hits[key] = (hits[key] ?? 0) + 1;
      if (m?.[2] && !m[3]) return send(200, sampleTask());
      if (m?.[2] && m[3])
        return send(200, { status: { taskId: m[2], runs: [{ runId: 0, state: 'completed' }] } });
      if (m && req.method === 'POST' && batch) {
        const ids = (JSON.parse(Buffer.concat(chunks).toString()) as { taskIds: string[] }).taskIds;
        return batch(m[1] === 'tasks' ? 'tasks' : 'statuses', ids, url, res);
      }
      send(404, { code: 'ResourceNotFound', message: 'no route' });
    });
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

function json(res: http.ServerResponse, body: unknown, status = 200): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

describe('TaskclusterQueue batch reads against a queue that lies', () => {
  const A = slugid();
  const B = slugid();
  const STATUS = { runs: [{ runId: 0, state: 'completed' }] };

  async function against<T>(
    batch: Parameters<typeof liar>[0],
    fn: (q: TaskclusterQueue, l: Liar) => Promise<T>,
    o: Partial<TaskclusterQueueOptions> = {},
  ): Promise<T> {
    const l = await liar(batch);
    try {
      return await fn(new TaskclusterQueue({ rootUrl: l.rootUrl, retries: 0, ...o }), l);
    } finally {
      await l.close();
    }
  }

  it('a deployment without the routes (404) is asked task by task, and not asked for batches again', async () => {
    await against(undefined, async (q, l) => {
      expect(await q.tasks([A, B])).toBeUndefined();
      expect(await q.statuses([A])).toBeUndefined();
      const defs = await readTasks(q, [A, B], 4);
      expect(defs.get(A)).toEqual(sampleTask());
      const st = await readStatuses(q, [A, B], 4);
      expect((st.get(B) as { runs: unknown[] }).runs).toHaveLength(1);
      expect(l.hits).toEqual({ 'POST tasks': 1, 'POST tasks/status': 1, 'GET task': 2, 'GET status': 2 });
    });
  });

  it('a batch the client may not read (403) is asked task by task', async () => {
    await against(
      (_r, _ids, _u, res) => json(res, { code: 'InsufficientScopes', message: 'no' }, 403),
      async (q, l) => {
        expect((await readTasks(q, [A, B], 4)).get(B)).toEqual(sampleTask());
        expect((await readTasks(q, [A], 4)).get(A)).toEqual(sampleTask());
        expect(l.hits).toEqual({ 'POST tasks': 2, 'GET task': 3 }); // a 403 is not remembered
      },
    );
  });

  it('an answer holding a task not asked for, one task twice, or a malformed entry: JSON_INVALID', async () => {
    const answers: [string, unknown][] = [
      ['not asked for', { tasks: [{ taskId: slugid(), task: sampleTask() }] }],
      [
        'twice',
        {
          tasks: [
            { taskId: A, task: sampleTask() },
            { taskId: A, task: sampleTask() },
          ],
        },
      ],
      ['no task object', { tasks: [{ taskId: A, task: 'x' }] }],
      ['no list', { definitions: [] }],
      ['not an object', []],
      ['a bad token', { tasks: [], continuationToken: 7 }],
    ];
    for (const [what, body] of answers) {
      const e = await against(
        (_r, _ids, _u, res) => json(res, body),
        (q) => errorOf(q.tasks([A, B])),
      );
      expect([what, e.code]).toEqual([what, 'JSON_INVALID']);
    }
    // twice across pages counts too
    const e = await against(
      (_r, _ids, url, res) =>
        json(res, {
          tasks: [{ taskId: A, task: sampleTask() }],
          ...(url.searchParams.get('continuationToken') ? {} : { continuationToken: 'p2' }),
        }),
      (q) => errorOf(q.tasks([A, B])),
    );
    expect(e.code).toBe('JSON_INVALID');
    expect(e.message).toMatch(/task .* is answered twice/);
  });

  it('duplicate keys or a deep answer are JSON_INVALID, as for task; a status of another task too', async () => {
    const dup = `{"tasks":[{"taskId":"${A}","task":{"a":1,"a":2}}]}`;
    expect(
      await against(
        (_r, _i, _u, res) => json(res, dup),
        (q) => codeOf(q.tasks([A])),
      ),
    ).toBe('JSON_INVALID');
    const deep = `{"tasks":[{"taskId":"${A}","task":${'{"a":'.repeat(300)}1${'}'.repeat(300)}}]}`;
    expect(
      await against(
        (_r, _i, _u, res) => json(res, deep),
        (q) => codeOf(q.tasks([A])),
      ),
    ).toBe('JSON_INVALID');
    const other = { statuses: [{ taskId: A, status: { ...STATUS, taskId: B } }] };
    const e = await against(
      (_r, _i, _u, res) => json(res, other),
      (q) => errorOf(q.statuses([A, B])),
    );
    expect(e.code).toBe('JSON_INVALID');
    expect(e.message).toContain(`it is the status of "${B}"`);
    const run = { statuses: [{ taskId: A, status: { runs: [{ runId: 3, state: 'completed' }] } }] };
    expect(
      await against(
        (_r, _i, _u, res) => json(res, run),
        (q) => codeOf(q.statuses([A])),
      ),
    ).toBe('JSON_INVALID');
  });

  it('pages without end: TRANSPORT_LIST_TOO_LONG, after at most one page more than tasks asked', async () => {
    let n = 0;
    const e = await against(
      (_r, _ids, _u, res) => json(res, { tasks: [], continuationToken: `t${n++}` }),
      (q) => errorOf(q.tasks([A, B])),
    );
    expect(e.code).toBe('TRANSPORT_LIST_TOO_LONG');
    expect(n).toBe(3);
    const loop = await against(
      (_r, _ids, _u, res) => json(res, { tasks: [], continuationToken: 'same' }),
      (q) => errorOf(q.tasks([A, B])),
    );
    expect(loop.code).toBe('TRANSPORT_LIST_TOO_LONG');
    expect(loop.message).toContain('a loop');
  });

  it('follows continuation tokens and sends them back in the query', async () => {
    const seen: (string | null)[] = [];
    const got = await against(
      (_r, ids, url, res) => {
        const token = url.searchParams.get('continuationToken');
        seen.push(token);
        expect(ids).toEqual([A, B]);
        json(
          res,
          token
            ? { tasks: [{ taskId: B, task: sampleTask({ b: 1 }) }] }
            : { tasks: [{ taskId: A, task: sampleTask() }], continuationToken: 'page-2' },
        );
      },
      (q) => q.tasks([A, B, A]),
    );
    expect(seen).toEqual([null, 'page-2']);
    expect(got?.get(B)).toEqual(sampleTask({ b: 1 }));
  });

  it('with credentials, each attempt carries a Hawk header of its own, with the certificate of temporary credentials', async () => {
    type Auth = { credentials: { id: string }; artifacts: { nonce: string; ext?: string } };
    const hawk = (
      createRequire(import.meta.url)('hawk') as {
        server: {
          authenticate(
            req: http.IncomingMessage,
            lookup: (id: string) => Promise<{ id: string; key: string; algorithm: string } | undefined>,
          ): Promise<Auth>;
        };
      }
    ).server;
    const certificate = {
      version: 1,
      scopes: ['queue:get-task:*'],
      start: 1,
      expiry: 2,
      seed: 's',
      signature: 'x',
    };
    const creds = {
      clientId: 'project/cot/reader',
      accessToken: 'reader-token-reader-token-reader-token',
      certificate: JSON.stringify(certificate),
    };
    const lookup = async (id: string) =>
      id === creds.clientId ? { id, key: creds.accessToken, algorithm: 'sha256' } : undefined;
    const seen: Auth[] = [];
    const got = await against(
      (_r, _ids, _u, res) => {
        hawk.authenticate(res.req, lookup).then(
          (a) => {
            seen.push(a);
            // the first attempt is answered 503: the retry must be signed again
            if (seen.length === 1) json(res, { code: 'Unavailable', message: 'later' }, 503);
            else json(res, { tasks: [{ taskId: A, task: sampleTask() }] });
          },
          () => json(res, { code: 'AuthenticationFailed', message: 'bad Hawk' }, 401),
        );
      },
      (q) => q.tasks([A]),
      { credentials: creds, retries: 1, retryDelayMs: 5 },
    );
    expect(got?.get(A)).toEqual(sampleTask());
    expect(seen.map((a) => a.credentials.id)).toEqual([creds.clientId, creds.clientId]);
    expect(seen[0]!.artifacts.nonce).not.toBe(seen[1]!.artifacts.nonce);
    expect(JSON.parse(Buffer.from(seen[0]!.artifacts.ext!, 'base64').toString())).toEqual({ certificate });
  });

  it('a page larger than maxJsonBytes is read task by task (each definition within the bound)', async () => {
    const big = { tasks: [A, B].map((taskId) => ({ taskId, task: sampleTask({ pad: 'x'.repeat(3000) }) })) };
    await against(
      (_r, _ids, _u, res) => json(res, big),
      async (q, l) => {
        const defs = await readTasks(q, [A, B], 4);
        expect(defs.get(A)).toEqual(sampleTask());
        expect(l.hits).toEqual({ 'POST tasks': 1, 'GET task': 2 });
      },
      { maxJsonBytes: 4096 },
    );
  });
});

describe('connections are kept and reused', () => {
  it('downloads one after another use one or two connections, not one per 303', async () => {
    await store.ensureRun(IDS[5]!, 0);
    const names = Array.from({ length: 10 }, (_, i) => `public/f${i}.bin`);
    await mkdir(join(store.runDir(IDS[5]!, 0), 'artifacts', 'public'), { recursive: true });
    for (const n of names) await writeFile(store.artifactPath(IDS[5]!, 0, n), n);
    const q = new TaskclusterQueue({ rootUrl: server.rootUrl, retries: 0 });
    let sockets = 0;
    let requests = 0;
    const onSocket = () => sockets++;
    const onRequest = () => requests++;
    subscribe('net.client.socket', onSocket);
    subscribe('http.client.request.start', onRequest);
    try {
      for (const n of names) {
        const o = await q.openArtifact(IDS[5]!, 0, n);
        const chunks: Buffer[] = [];
        for await (const c of o.stream as AsyncIterable<Buffer>) chunks.push(c);
        expect(Buffer.concat(chunks).toString()).toBe(n);
      }
    } finally {
      unsubscribe('net.client.socket', onSocket);
      unsubscribe('http.client.request.start', onRequest);
    }
    expect(requests).toBe(20); // a 303 and a GET each
    expect(sockets).toBeLessThanOrEqual(2);
  });

  it("uploads keep theirs too: the client's createArtifact calls and the PUTs share two connections", async () => {
    const creds = {
      clientId: 'project/cot/worker',
      accessToken: 'not-a-real-secret-but-long-enough-for-hawk',
    };
    const writable = await startQueueServer({ dir: join(dir, 'store'), credentials: creds });
    const id = IDS[6]!;
    await store.ensureRun(id, 0);
    const q = new TaskclusterQueue({ rootUrl: writable.rootUrl, credentials: creds, retries: 0 });
    let sockets = 0;
    let requests = 0;
    const onSocket = () => sockets++;
    const onRequest = () => requests++;
    subscribe('net.client.socket', onSocket);
    subscribe('http.client.request.start', onRequest);
    try {
      for (let i = 0; i < 5; i++) {
        const path = join(dir, `up-${i}.bin`);
        await writeFile(path, `bytes ${i}`);
        await q.createArtifact({
          taskId: id,
          runId: 0,
          name: `public/up-${i}.bin`,
          path,
          contentType: 'application/octet-stream',
          expires: '2027-01-01T00:00:00Z',
        });
      }
    } finally {
      unsubscribe('net.client.socket', onSocket);
      unsubscribe('http.client.request.start', onRequest);
      await writable.close();
    }
    expect(requests).toBe(10); // createArtifact and its PUT each
    expect(sockets).toBeLessThanOrEqual(2); // one per agent (the client's, cot's)
  });

  it('a redirect whose declared body trickles is cut, and the download still completes', async () => {
    const s = http.createServer((req, res) => {
      if ((req.url ?? '').includes('/artifacts/')) {
        res.writeHead(303, { location: '/content', 'content-length': '100' });
        const t = setInterval(() => res.write('x'), 300);
        res.on('close', () => clearInterval(t));
        return;
      }
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    try {
      const tq = new TaskclusterQueue({ rootUrl: `http://127.0.0.1:${(s.address() as AddressInfo).port}` });
      const o = await tq.openArtifact(slugid(), 0, 'public/x');
      const chunks: Buffer[] = [];
      for await (const c of o.stream as AsyncIterable<Buffer>) chunks.push(c);
      expect(Buffer.concat(chunks).toString()).toBe('ok');
    } finally {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });
});
