/**
 * Chain verification through `cot queue serve` with the real client reads task definitions and statuses in batches
 * (the queue's `tasks` and `statuses`): one call per level of the walk and one for the statuses, never a single
 * `task` or `status` call for a task the batch answered, and the same report, errors included, as reading each task
 * alone.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { cp, rm, writeFile } from 'node:fs/promises';
import type * as http from 'node:http';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ChainReport, loadPolicy, verifyChain } from '../../src/index.js';
import {
  DirectoryQueue,
  fetchChain,
  startQueueServer,
  TaskclusterQueue,
  type TaskQueue,
} from '../../src/queue.js';
import { type DemoResult, runDemo } from '../../src/testing.js';
import { tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');
let demo: DemoResult;
let d: string;

beforeAll(async () => {
  d = await tempDir();
  demo = await runDemo({ out: join(d, 'demo'), now: NOW });
});

/** The same queue without its batch reads: every task read alone, as before them. */
function withoutBatches(q: TaskclusterQueue): TaskQueue {
  return {
    description: q.description,
    task: (id) => q.task(id),
    latestRunId: (id) => q.latestRunId(id),
    status: (id) => q.status(id),
    listArtifacts: (id, run) => q.listArtifacts(id, run),
    openArtifact: (id, run, name, limits) => q.openArtifact(id, run, name, limits),
    createArtifact: (input) => q.createArtifact(input),
  };
}

/** Run `fn` with a client of a server over `queueDir`, counting the client's requests by route. */
async function served<T>(
  queueDir: string,
  batches: boolean,
  fn: (q: TaskQueue) => Promise<T>,
): Promise<{ result: T; requests: Record<string, number> }> {
  const server = await startQueueServer({ dir: queueDir });
  const requests: Record<string, number> = {};
  const count = (m: unknown) => {
    const req = (m as { request: http.ClientRequest }).request;
    const path = req.path.replace(/\?.*$/, '');
    const route = /^\/_content\//.test(path)
      ? 'content'
      : /\/task\/[^/]+$/.test(path)
        ? 'task'
        : /\/task\/[^/]+\/status$/.test(path)
          ? 'status'
          : /\/artifacts$/.test(path)
            ? 'listArtifacts'
            : /\/artifacts\//.test(path)
              ? 'getArtifact'
              : path.replace(/^\/api\/queue\/v1\//, '');
    const key = `${req.method} ${route}`;
    requests[key] = (requests[key] ?? 0) + 1;
  };
  subscribe('http.client.request.start', count);
  try {
    const q = new TaskclusterQueue({ rootUrl: server.rootUrl, retries: 1, retryDelayMs: 5 });
    return { result: await fn(batches ? q : withoutBatches(q)), requests };
  } finally {
    unsubscribe('http.client.request.start', count);
    await server.close();
  }
}

/** Verify the demo's task through a server over `queueDir` (see served). */
async function verifyServed(
  queueDir: string,
  batches = true,
): Promise<{ report: ChainReport; requests: Record<string, number> }> {
  const loaded = await loadPolicy(demo.policy);
  const { result, requests } = await served(queueDir, batches, (q) =>
    verifyChain(q, demo.taskId, { policy: loaded.policy, trust: loaded.trust, at: NOW }),
  );
  return { report: result, requests };
}

/** A report without what differs between two servers: their URLs. */
const portless = (r: ChainReport) => JSON.parse(JSON.stringify(r).replace(/127\.0\.0\.1:\d+/g, 'HOST'));

describe('chain verification through cot queue serve reads tasks and statuses in batches', () => {
  it('one tasks call per level of the walk, one statuses call, no single task or status read', async () => {
    const { report, requests } = await verifyServed(join(demo.dir, 'queue'));
    expect(report.errors).toEqual([]);
    expect(report.ok).toBe(true);
    const levels = new Set(report.links.map((l) => l.depth)).size;
    expect(levels).toBe(4);
    expect(requests['POST tasks']).toBe(levels);
    expect(requests['POST tasks/status']).toBe(1);
    expect(requests['GET task']).toBeUndefined();
    expect(requests['GET status']).toBeUndefined();
    expect(requests['GET listArtifacts']).toBe(report.links.length);
    expect(requests['GET getArtifact']).toBe(requests['GET content']);
    // the same verdict as the directory store's
    const loaded = await loadPolicy(demo.policy);
    const local = await verifyChain(new DirectoryQueue(join(demo.dir, 'queue')), demo.taskId, {
      policy: loaded.policy,
      trust: loaded.trust,
      at: NOW,
    });
    expect(report.links.map((l) => [l.taskId, l.runId, l.depth])).toEqual(
      local.links.map((l) => [l.taskId, l.runId, l.depth]),
    );
  });

  it('a task the queue does not have, or cannot read: the same errors as reading each task alone', async () => {
    const dir = join(d, 'broken');
    await cp(demo.dir, dir, { recursive: true });
    const store = new DirectoryQueue(join(dir, 'queue'));
    const missing = demo.tasks['build-win64']!;
    const malformed = demo.tasks['docker-image']!;
    await rm(store.taskDir(missing), { recursive: true });
    await writeFile(join(store.taskDir(malformed), 'task.json'), '{"a": 1, "a": 2}');
    const batched = await verifyServed(join(dir, 'queue'));
    const single = await verifyServed(join(dir, 'queue'), false);
    expect(batched.report.ok).toBe(false);
    expect(portless(batched.report).errors).toEqual(portless(single.report).errors);
    expect(portless(batched.report).links).toEqual(portless(single.report).links);
    const notFound = batched.report.errors.find((e) => e.taskId === missing);
    expect(notFound?.code).toBe('QUEUE_NOT_FOUND');
    expect(notFound?.message).toContain(missing);
    expect(batched.report.errors.find((e) => e.taskId === malformed)?.code).toBe('TRANSPORT_HTTP');
    // the two tasks the batches left out were each read alone (the malformed one twice: its 500 is retried once);
    // nothing else was
    expect(batched.requests['GET task']).toBe(3);
    expect(single.requests['POST tasks']).toBeUndefined();
  });

  it('cot fetch reads them in batches too, and mirrors the same statuses', async () => {
    const { result, requests } = await served(join(demo.dir, 'queue'), true, (q) =>
      fetchChain(q, demo.taskId, join(d, 'mirror')),
    );
    expect(result.complete).toBe(true);
    expect(requests['POST tasks/status']).toBe(1);
    expect(requests['GET status']).toBeUndefined();
    expect(requests['GET task']).toBeUndefined();
    const mirror = new DirectoryQueue(join(d, 'mirror'));
    const source = new DirectoryQueue(join(demo.dir, 'queue'));
    for (const id of Object.values(demo.tasks))
      expect(await mirror.status(id)).toEqual(await source.status(id));
  });
});
