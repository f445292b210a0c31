import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateChainOfTrust } from '../cot/generate.js';
import type { JsonObject } from '../json/parse.js';
import { generateKeyPair } from '../keys/generate.js';
import { loadSigningKey } from '../keys/keys.js';
import { DirectoryQueue } from '../transport/dir-store.js';
import { checkOptions } from '../util/options.js';
import { slugid } from './builder.js';

export interface BuildSyntheticChainOptions {
  /** the folder to build in (made if missing): keys/, ed25519-keys.json, policy.json, queue/ */
  dir: string;
  /** the tasks' creation time and the documents' (default: now) */
  now?: Date;
  /** builds N (default 1,000; at least 2): the chain has 1 decision task, N builds and N - 1 signing tasks, 2N tasks in all */
  builds?: number;
  /** every signing task also consumes the first build's `public/build/a.bin` (an artifact with N - 1 consumers) */
  shareFirstBuild?: boolean;
  /** bytes of each artifact (default 4,096) */
  artifactBytes?: number;
}

export interface SyntheticChain {
  /** the task to verify: signing task 0, which reaches every task */
  root: string;
  decision: string;
  builds: string[];
  signing: string[];
  tasks: number;
  queueDir: string;
  /** policy.json: one ed25519 key for all three implementations, bounds fitting the chain */
  policy: string;
}

/**
 * A synthetic, fully signed chain of any size in a directory store, for benchmarks and scaling tests (the bench's
 * 2,000- and 10,000-task chains). Signing task j consumes 4 artifacts: two from build j, and one from each of its
 * two child signing tasks (2j+1, 2j+2), or, where a child does not exist, two more from build j; signing task 0 also
 * consumes the last build. The signing tasks form a binary tree (depth log2 N), so the whole graph is reachable from
 * signing task 0; every task's parent is the decision task, whose task-graph.json lists them all. ed25519
 * documents, one key for docker-worker, generic-worker and scriptworker. Throws OPTIONS_INVALID for bad options.
 */
export async function buildSyntheticChain(o: BuildSyntheticChainOptions): Promise<SyntheticChain> {
  checkOptions('buildSyntheticChain', o, {
    dir: { kind: 'string' },
    now: { kind: 'date', optional: true },
    builds: { kind: 'nonNegativeInteger', optional: true },
    shareFirstBuild: { kind: 'boolean', optional: true },
    artifactBytes: { kind: 'nonNegativeInteger', optional: true },
  });
  const now = o.now ?? new Date();
  const n = Math.max(2, o.builds ?? 1000);
  const size = o.artifactBytes ?? 4096;
  const queue = new DirectoryQueue(join(o.dir, 'queue'));
  await mkdir(join(o.dir, 'keys'), { recursive: true, mode: 0o700 });
  const keyFile = join(o.dir, 'keys', 'worker.key');
  const { publicKey } = await generateKeyPair({
    type: 'ed25519',
    out: keyFile,
    pubOut: `${keyFile}.pub`,
    now,
    force: true,
  });
  const key = await loadSigningKey(keyFile);
  await writeFile(
    join(o.dir, 'ed25519-keys.json'),
    JSON.stringify({
      'docker-worker': [publicKey],
      'generic-worker': [publicKey],
      scriptworker: [publicKey],
    }),
  );
  const policy = join(o.dir, 'policy.json');
  await writeFile(
    policy,
    JSON.stringify({
      ed25519Keys: 'ed25519-keys.json',
      workerTypes: {
        'bench/decision': 'docker-worker',
        'bench/b-linux': 'generic-worker',
        'bench/signing': 'scriptworker',
      },
      decisionWorkerTypes: ['bench/decision'],
      signatureFormat: 'ed25519',
      bounds: { maxDepth: 30, maxTasks: Math.max(5000, 2 * n + 10) },
    }),
  );
  const decision = slugid();
  const builds = Array.from({ length: n }, slugid);
  const signing = Array.from({ length: n - 1 }, slugid);
  const expires = new Date(now.getTime() + 86400_000 * 30).toISOString();
  const task = (workerType: string, name: string, payload: JsonObject): JsonObject => ({
    provisionerId: 'bench',
    workerType,
    schedulerId: 'bench',
    taskGroupId: decision,
    dependencies: [],
    scopes: [],
    created: now.toISOString(),
    deadline: expires,
    expires,
    payload,
    metadata: { name, description: name, owner: 'bench@example.com', source: 'https://example.com' },
    extra: {},
  });
  const defs = new Map<string, JsonObject>([
    [decision, task('decision', 'decision', { command: ['decide'] })],
  ]);
  for (const [i, id] of builds.entries())
    defs.set(id, task('b-linux', `build-${i}`, { command: ['build', `${i}`] }));
  const build = (i: number, paths: string[]) => ({ taskId: builds[i]!, taskType: 'build', paths });
  signing.forEach((id, j) => {
    const ups = [build(j, ['public/build/a.bin', 'public/build/b.bin'])];
    for (const c of [2 * j + 1, 2 * j + 2]) {
      if (c < signing.length)
        ups.push({ taskId: signing[c]!, taskType: 'signing', paths: ['public/signed.bin'] });
      else ups.push(build(j, [c === 2 * j + 1 ? 'public/build/c.bin' : 'public/build/d.bin']));
    }
    if (j === 0) ups.push(build(n - 1, ['public/build/a.bin']));
    if (o.shareFirstBuild && j !== 0) ups.push(build(0, ['public/build/a.bin']));
    defs.set(id, task('signing', `signing-${j}`, { upstreamArtifacts: ups }));
  });
  const signers = new Set(signing);
  const graph: JsonObject = {};
  for (const [id, t] of defs) if (id !== decision) graph[id] = { task: t };
  const files = (id: string): Record<string, Buffer> => {
    if (id === decision) return { 'public/task-graph.json': Buffer.from(JSON.stringify(graph)) };
    if (signers.has(id)) return { 'public/signed.bin': randomBytes(size) };
    return Object.fromEntries(['a', 'b', 'c', 'd'].map((x) => [`public/build/${x}.bin`, randomBytes(size)]));
  };
  for (const [id, t] of defs) {
    await queue.putTask(id, t);
    await queue.ensureRun(id, 0);
    const runDir = join(queue.runDir(id, 0), 'artifacts');
    for (const [name, bytes] of Object.entries(files(id))) {
      await mkdir(join(runDir, name, '..'), { recursive: true });
      await writeFile(join(runDir, name), bytes);
    }
    await generateChainOfTrust({
      task: t,
      taskId: id,
      runId: 0,
      workerGroup: 'bench',
      workerId: 'w',
      artifactDir: runDir,
      keys: [key],
      format: 'ed25519',
      outDir: join(runDir, 'public'),
      now,
    });
  }
  return { root: signing[0]!, decision, builds, signing, tasks: defs.size, queueDir: queue.root, policy };
}
