import { beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy, verifyChain } from '../../src/index.js';
import { DirectoryQueue, type DownloadLimits, type TaskQueue } from '../../src/queue.js';
import { buildSyntheticChain, type SyntheticChain } from '../../src/testing.js';
import { tempDir } from '../helpers/env.js';

// A chain whose tasks share ancestors (every task's parent is the decision task; one build artifact is consumed by
// every signing task): each task's definition, status, listing and chain-of-trust document is read once, and each
// artifact downloaded once, however many tasks lead to it (issue 13: a whole release graph verifies each shared
// ancestor once). Counted on a real directory store, through a queue that records every call.
const NOW = new Date();

function countingQueue(inner: DirectoryQueue) {
  const calls = new Map<string, number>();
  const counted =
    <A extends unknown[], R>(what: (...a: A) => string, f: (...a: A) => R) =>
    (...a: A): R => {
      const k = what(...a);
      calls.set(k, (calls.get(k) ?? 0) + 1);
      return f(...a);
    };
  const queue: TaskQueue = {
    description: inner.description,
    task: counted(
      (id) => `task ${id}`,
      (id) => inner.task(id),
    ),
    status: counted(
      (id) => `status ${id}`,
      (id) => inner.status(id),
    ),
    latestRunId: counted(
      (id) => `latestRunId ${id}`,
      (id) => inner.latestRunId(id),
    ),
    listArtifacts: counted(
      (id, run) => `list ${id}/${run}`,
      (id: string, run: number) => inner.listArtifacts(id, run),
    ),
    openArtifact: counted(
      (id, run, name) => `open ${id}/${run}/${name}`,
      (id: string, run: number | undefined, name: string, limits?: DownloadLimits) =>
        inner.openArtifact(id, run, name, limits),
    ),
    createArtifact: (a) => inner.createArtifact(a),
  };
  return { queue, calls };
}

describe('shared ancestors are verified once', () => {
  let chain: SyntheticChain;
  beforeAll(async () => {
    chain = await buildSyntheticChain({ dir: await tempDir(), now: NOW, builds: 12, shareFirstBuild: true });
  }, 60_000);

  it('every read and download happens once per task and per artifact', async () => {
    const { queue, calls } = countingQueue(new DirectoryQueue(chain.queueDir));
    const loaded = await loadPolicy(chain.policy);
    const r = await verifyChain(queue, chain.root, { policy: loaded.policy, trust: loaded.trust, at: NOW });
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.links).toHaveLength(chain.tasks);
    const repeated = [...calls].filter(([, n]) => n > 1);
    expect(repeated).toEqual([]);
    // the shared artifact has 10 consumers: one download, a passed check recorded on each consumer
    const shared = `open ${chain.builds[0]}/0/public/build/a.bin`;
    expect(calls.get(shared)).toBe(1);
    const consumers = r.links.filter((l) =>
      l.checks.some((c) => c.startsWith(`public/build/a.bin from ${chain.builds[0]}: hash matches`)),
    );
    expect(consumers.map((l) => l.taskId).sort()).toEqual([...chain.signing].sort());
    // every task's definition was read once, the decision task's too (the parent of every other)
    for (const id of [chain.decision, ...chain.builds, ...chain.signing])
      expect(calls.get(`task ${id}`)).toBe(1);
  });

  it('a shared artifact that fails its hash check fails every consumer', async () => {
    const { writeFile } = await import('node:fs/promises');
    const inner = new DirectoryQueue(chain.queueDir);
    const file = inner.artifactPath(chain.builds[0]!, 0, 'public/build/a.bin');
    const { readFile } = await import('node:fs/promises');
    const original = await readFile(file);
    await writeFile(file, Buffer.concat([original, Buffer.from('x')]));
    try {
      const { queue, calls } = countingQueue(inner);
      const loaded = await loadPolicy(chain.policy);
      const r = await verifyChain(queue, chain.root, { policy: loaded.policy, trust: loaded.trust, at: NOW });
      expect(r.ok).toBe(false);
      const failed = r.errors.filter((e) => e.code === 'HASH_MISMATCH').map((e) => e.taskId);
      expect(failed.sort()).toEqual([...chain.signing].sort());
      expect(calls.get(`open ${chain.builds[0]}/0/public/build/a.bin`)).toBe(1);
    } finally {
      await writeFile(file, original);
    }
  });
});
