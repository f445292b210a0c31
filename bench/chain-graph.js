// Build the benchmark's synthetic graph in a directory store: 1 decision task, N builds (default 1,000), N - 1
// signing tasks: 2N tasks in all.
// Signing task j consumes 4 artifacts: two from build j, and one from each of its two child signing tasks
// (2j+1, 2j+2) -- or, where a child does not exist, two more from build j; signing task 0 also consumes the last build.
// The signing tasks form a binary tree (depth log2 N), so the whole graph is reachable from signing task 0.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateChainOfTrust, generateKeyPair, loadSigningKey } from '../dist/index.js';
import { DirectoryQueue } from '../dist/queue.js';
import { slugid } from '../dist/testing.js';

export async function buildChainGraph(dir, now = new Date(), nBuilds = 1000) {
  const queue = new DirectoryQueue(join(dir, 'queue'));
  await mkdir(join(dir, 'keys'), { recursive: true, mode: 0o700 });
  const keyFile = join(dir, 'keys', 'worker.key');
  const { publicKey: pubKey } = await generateKeyPair({
    type: 'ed25519',
    out: keyFile,
    pubOut: `${keyFile}.pub`,
    now,
    force: true,
  });
  const key = await loadSigningKey(keyFile);
  await writeFile(
    join(dir, 'ed25519-keys.json'),
    JSON.stringify({ 'docker-worker': [pubKey], 'generic-worker': [pubKey], scriptworker: [pubKey] }),
  );
  await writeFile(
    join(dir, 'policy.json'),
    JSON.stringify({
      ed25519Keys: 'ed25519-keys.json',
      workerTypes: {
        'bench/decision': 'docker-worker',
        'bench/b-linux': 'generic-worker',
        'bench/signing': 'scriptworker',
      },
      decisionWorkerTypes: ['bench/decision'],
      signatureFormat: 'ed25519',
      bounds: { maxDepth: 30, maxTasks: Math.max(5000, 2 * nBuilds + 10) },
    }),
  );
  const decision = slugid();
  const builds = Array.from({ length: nBuilds }, slugid);
  const signing = Array.from({ length: nBuilds - 1 }, slugid);
  const expires = new Date(now.getTime() + 86400_000 * 30).toISOString();
  const task = (workerType, name, payload) => ({
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
  const defs = new Map();
  defs.set(decision, { ...task('decision', 'decision', { command: ['decide'] }), taskGroupId: decision });
  for (const [i, id] of builds.entries())
    defs.set(id, task('b-linux', `build-${i}`, { command: ['build', String(i)] }));
  signing.forEach((id, j) => {
    const ups = [
      { taskId: builds[j], taskType: 'build', paths: ['public/build/a.bin', 'public/build/b.bin'] },
    ];
    for (const c of [2 * j + 1, 2 * j + 2]) {
      if (c < signing.length)
        ups.push({ taskId: signing[c], taskType: 'signing', paths: ['public/signed.bin'] });
      else
        ups.push({
          taskId: builds[j],
          taskType: 'build',
          paths: [c === 2 * j + 1 ? 'public/build/c.bin' : 'public/build/d.bin'],
        });
    }
    if (j === 0) ups.push({ taskId: builds[nBuilds - 1], taskType: 'build', paths: ['public/build/a.bin'] });
    defs.set(id, task('signing', `signing-${j}`, { upstreamArtifacts: ups }));
  });
  const graph = {};
  for (const [id, t] of defs) if (id !== decision) graph[id] = { task: t };
  const files = new Map();
  files.set(decision, { 'public/task-graph.json': Buffer.from(JSON.stringify(graph)) });
  for (const id of builds)
    files.set(
      id,
      Object.fromEntries(['a', 'b', 'c', 'd'].map((n) => [`public/build/${n}.bin`, randomBytes(4096)])),
    );
  for (const id of signing) files.set(id, { 'public/signed.bin': randomBytes(4096) });
  for (const [id, t] of defs) {
    await queue.putTask(id, t);
    await queue.ensureRun(id, 0);
    const runDir = join(queue.runDir(id, 0), 'artifacts');
    for (const [name, bytes] of Object.entries(files.get(id))) {
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
  return {
    root: signing[0],
    tasks: defs.size,
    queueDir: join(dir, 'queue'),
    policy: join(dir, 'policy.json'),
  };
}
