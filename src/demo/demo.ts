import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { renderChainHtml } from '../chain/html.js';
import { loadPolicy } from '../chain/policy.js';
import { type ChainReport, verifyChain } from '../chain/verify-chain.js';
import { generateChainOfTrust } from '../cot/generate.js';
import { digestBytes } from '../hashing/digest.js';
import { canonicalize } from '../json/canonical.js';
import type { JsonObject } from '../json/parse.js';
import { generateKeyPair } from '../keys/generate.js';
import { loadSigningKey, type SigningKey } from '../keys/keys.js';
import { DirectoryQueue } from '../transport/dir-store.js';
import { certifyKeyFile } from '../trust/certify.js';
import { checkOptions } from '../util/options.js';
import { createdTask, type GraphTaskInput, graphEntry, queueDefaults } from './taskgraph.js';

/** A fresh Taskcluster slugid (v4, "nice" form), as the queue uses for task ids. */
export function slugid(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  b[0] = b[0]! & 0x7f;
  return b.toString('base64url');
}

export interface DemoOptions {
  out: string;
  /** change a build artifact after it was signed: the verification must fail */
  tamper?: boolean;
  now: Date;
}

export interface DemoResult {
  dir: string;
  taskId: string;
  policy: string;
  report: ChainReport;
  reportHtml: string;
  tasks: Record<string, string>;
}

const POLICY = `# cot demo policy: which keys, which worker types, how far to go
keyRepo: key-repo
ed25519Keys: ed25519-keys.json
workerTypes:
  releng-3/decision: docker-worker
  releng-3/images: docker-worker
  releng-3/b-linux: docker-worker
  releng-3/b-win2022: generic-worker
  scriptworker-k8s/*: scriptworker
decisionWorkerTypes: [releng-3/decision]
dockerImageWorkerTypes: [releng-3/images]
# prebuilt images (registry names, indexed images) only where the reference's Firefox configuration allows them
prebuiltDockerImageTaskTypes: [decision, action, docker-image]
restrictedScopes: ['project:releng:signing:cert:release-signing', 'project:releng:beetmover:bucket:*']
signatureFormat: either
bounds:
  maxDepth: 10
  maxTasks: 100
`;

/**
 * The project's main job on the embedded default (a directory store, no server, no network): keys for a
 * docker-worker (OpenPGP), a generic-worker (ed25519) and a scriptworker (OpenPGP, certified by a trusted root in a
 * key repository); a realistic task graph (decision, docker-image, two builds, signing, beetmover); every
 * chain-of-trust document made by cot's own generator; then the chain of the final task verified.
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  checkOptions('runDemo', o, {
    out: { kind: 'string' },
    tamper: { kind: 'boolean', optional: true },
    now: { kind: 'date' },
  });
  const dir = resolve(o.out);
  for (const sub of ['queue', 'keys', 'key-repo']) await rm(join(dir, sub), { recursive: true, force: true });
  await mkdir(join(dir, 'keys'), { recursive: true, mode: 0o700 });
  const queue = new DirectoryQueue(join(dir, 'queue'));
  const keyDate = new Date(o.now.getTime() - 86400_000);
  const k = (n: string) => join(dir, 'keys', n);

  // keys, and the key repository / trust file the policy names
  await generateKeyPair({
    type: 'openpgp',
    pgpAlgorithm: 'ed25519',
    userId: 'demo docker-worker <docker-worker@example.com>',
    out: k('docker-worker.key'),
    pubOut: k('docker-worker.pub'),
    now: keyDate,
  });
  await generateKeyPair({
    type: 'ed25519',
    out: k('generic-worker.key'),
    pubOut: k('generic-worker.pub'),
    now: keyDate,
  });
  await generateKeyPair({
    type: 'openpgp',
    pgpAlgorithm: 'ed25519',
    userId: 'demo releng root <root@example.com>',
    out: k('root.key'),
    pubOut: k('root.pub'),
    now: keyDate,
  });
  await generateKeyPair({
    type: 'openpgp',
    pgpAlgorithm: 'ed25519',
    userId: 'cltsign@scriptworker-1.example.com',
    out: k('scriptworker.key'),
    pubOut: k('scriptworker.pub'),
    now: keyDate,
  });
  const repo = join(dir, 'key-repo');
  await mkdir(join(repo, 'docker-worker/2026-11'), { recursive: true });
  await mkdir(join(repo, 'scriptworker/trusted'), { recursive: true });
  await mkdir(join(repo, 'scriptworker/valid'), { recursive: true });
  const { copyFile, readFile } = await import('node:fs/promises');
  await copyFile(k('docker-worker.pub'), join(repo, 'docker-worker/2026-11/docker-worker.pub'));
  await copyFile(k('root.pub'), join(repo, 'scriptworker/trusted/root.pub'));
  await certifyKeyFile({
    withPrivate: k('root.key'),
    keyPublic: k('scriptworker.pub'),
    out: join(repo, 'scriptworker/valid/scriptworker-1.pub'),
    now: o.now,
  });
  await writeFile(
    join(dir, 'ed25519-keys.json'),
    `${JSON.stringify({ 'generic-worker': [(await readFile(k('generic-worker.pub'), 'utf8')).trim()] }, null, 2)}\n`,
  );
  await writeFile(join(dir, 'policy.yml'), POLICY);
  const keys: Record<string, SigningKey> = {
    'docker-worker': await loadSigningKey(k('docker-worker.key')),
    'generic-worker': await loadSigningKey(k('generic-worker.key')),
    scriptworker: await loadSigningKey(k('scriptworker.key')),
  };

  // the task graph
  const ids = {
    decision: slugid(),
    image: slugid(),
    linux: slugid(),
    windows: slugid(),
    signing: slugid(),
    beetmover: slugid(),
  };
  // the decision task, as the repository's .taskcluster.yml makes it (its own task group), and the graph it writes
  // exactly as taskgraph does: task-graph.json before the tasks exist, then the tasks as the queue serves them
  const decisionCreated = new Date(o.now.getTime() - 3600_000);
  const tasksCreated = new Date(decisionCreated.getTime() + 120_000);
  const schedulerId = 'demo-level-3';
  const decision = queueDefaults({
    provisionerId: 'releng-3',
    workerType: 'decision',
    schedulerId,
    taskGroupId: ids.decision,
    created: decisionCreated.toISOString(),
    deadline: new Date(decisionCreated.getTime() + 86400_000).toISOString(),
    expires: new Date(decisionCreated.getTime() + 365 * 86400_000).toISOString(),
    priority: 'very-low',
    scopes: ['assume:repo:hg.example.com/releases:branch:default'],
    payload: {
      image: 'mozillareleases/taskgraph:decision-v11@sha256:'.concat('4f'.repeat(32)),
      command: ['run-task', '--', 'taskgraph', 'decision'],
      maxRunTime: 1800,
      features: { chainOfTrust: true, taskclusterProxy: true },
      env: { DEMO_HEAD_REPOSITORY: 'https://hg.example.com/releases', DEMO_HEAD_REV: 'a'.repeat(40) },
    },
    metadata: {
      name: 'Decision Task',
      description: 'the cot demo decision task',
      owner: 'release@example.com',
      source: 'https://hg.example.com/releases/raw-file/tip/.taskcluster.yml',
    },
    tags: { kind: 'decision-task' },
    extra: { tasks_for: 'hg-push' },
  });
  const image = { type: 'task-image', taskId: ids.image, path: 'public/image.tar.zst' };
  const inputs: Record<string, GraphTaskInput> = {
    [ids.image]: {
      label: 'docker-image-build',
      kind: 'docker-image',
      provisionerId: 'releng-3',
      workerType: 'images',
      payload: {
        image: 'docker:stable',
        command: ['build-image'],
        maxRunTime: 3600,
        features: { chainOfTrust: true },
        artifacts: {
          'public/image.tar.zst': {
            type: 'file',
            path: '/builds/image.tar.zst',
            expires: { 'relative-datestamp': '1 year' },
          },
        },
      },
    },
    [ids.linux]: {
      label: 'build-linux64',
      kind: 'build',
      provisionerId: 'releng-3',
      workerType: 'b-linux',
      payload: { image, command: ['./mach', 'build'], maxRunTime: 7200, features: { chainOfTrust: true } },
      extra: { chainOfTrust: { inputs: { 'docker-image': ids.image } } },
      dependencies: { 'docker-image': ids.image },
    },
    [ids.windows]: {
      label: 'build-win64',
      kind: 'build',
      provisionerId: 'releng-3',
      workerType: 'b-win2022',
      payload: {
        command: [['mach.bat', 'build']],
        maxRunTime: 7200,
        mounts: [],
        osGroups: [],
        features: { chainOfTrust: true },
      },
    },
    [ids.signing]: {
      label: 'signing',
      kind: 'signing',
      provisionerId: 'scriptworker-k8s',
      workerType: 'signing-3',
      scopes: ['project:releng:signing:cert:release-signing'],
      payload: {
        upstreamArtifacts: [
          {
            taskId: ids.linux,
            taskType: 'build',
            paths: ['public/build/target.tar.gz', 'public/build/target.checksums'],
            formats: ['autograph_gpg'],
          },
          {
            taskId: ids.windows,
            taskType: 'build',
            paths: ['public/build/target.zip'],
            formats: ['autograph_authenticode'],
          },
          {
            taskId: ids.windows,
            taskType: 'build',
            paths: ['public/build/optional-symbols.zip'],
            formats: [],
            optional: true,
          },
        ],
      },
      dependencies: { 'build-linux64': ids.linux, 'build-win64': ids.windows },
    },
    [ids.beetmover]: {
      label: 'beetmover',
      kind: 'beetmover',
      provisionerId: 'scriptworker-k8s',
      workerType: 'beetmover-3',
      scopes: ['project:releng:beetmover:bucket:release'],
      payload: {
        upstreamArtifacts: [
          {
            taskId: ids.signing,
            taskType: 'signing',
            paths: ['public/build/target.tar.gz', 'public/build/target.zip'],
          },
        ],
        releaseProperties: { appName: 'demo', appVersion: '1.0' },
      },
      dependencies: { signing: ids.signing },
    },
  };
  const graph: JsonObject = {};
  for (const [id, t] of Object.entries(inputs)) graph[id] = graphEntry(id, ids.decision, t);
  const inGraph = new Set(Object.keys(graph));
  const tasks: Record<string, JsonObject> = { [ids.decision]: decision };
  for (const [id, entry] of Object.entries(graph))
    tasks[id] = createdTask(entry as JsonObject, {
      decisionTaskId: ids.decision,
      schedulerId,
      created: tasksCreated,
      inGraph,
    });

  // artifacts, then each task's signed chain-of-trust document, in the order the tasks would run
  const artifacts: Record<string, Record<string, Buffer>> = {
    [ids.decision]: {
      // taskgraph writes it with json.dump(sort_keys=True, indent=2)
      'public/task-graph.json': Buffer.from(canonicalize(graph)),
      'public/parameters.yml': Buffer.from('project: demo\nlevel: "3"\n'),
    },
    [ids.image]: { 'public/image.tar.zst': randomBytes(256 * 1024) },
    [ids.linux]: {
      'public/build/target.tar.gz': randomBytes(512 * 1024),
      'public/build/target.checksums': Buffer.from('sha512 …\n'),
    },
    [ids.windows]: { 'public/build/target.zip': randomBytes(512 * 1024) },
    [ids.signing]: {
      'public/build/target.tar.gz': randomBytes(512 * 1024),
      'public/build/target.zip': randomBytes(512 * 1024),
    },
    [ids.beetmover]: { 'public/manifest.json': Buffer.from('{"uploaded": true}\n') },
  };
  const implOf: Record<string, string> = {
    [ids.decision]: 'docker-worker',
    [ids.image]: 'docker-worker',
    [ids.linux]: 'docker-worker',
    [ids.windows]: 'generic-worker',
    [ids.signing]: 'scriptworker',
    [ids.beetmover]: 'scriptworker',
  };
  const order = [ids.decision, ids.image, ids.linux, ids.windows, ids.signing, ids.beetmover];
  for (const id of order) {
    const t = tasks[id]!;
    await queue.putTask(id, t);
    await queue.ensureRun(id, 0);
    const runDir = join(queue.runDir(id, 0), 'artifacts');
    for (const [name, bytes] of Object.entries(artifacts[id]!)) {
      await mkdir(join(runDir, name, '..'), { recursive: true });
      await writeFile(join(runDir, name), bytes);
    }
    const impl = implOf[id]!;
    const environment: JsonObject =
      impl === 'docker-worker'
        ? {
            imageHash: `sha256:${digestBytes(Buffer.from(String(t.workerType)))}`,
            ...(id === ids.linux
              ? { imageArtifactHash: `sha256:${digestBytes(artifacts[ids.image]!['public/image.tar.zst']!)}` }
              : {}),
            privateIpAddress: '10.0.0.7',
          }
        : impl === 'generic-worker'
          ? {
              instanceId: 'i-0demo',
              instanceType: 'c5.4xlarge',
              region: 'us-east-1',
              privateIpAddress: '10.0.0.8',
            }
          : {};
    await generateChainOfTrust({
      task: t,
      taskId: id,
      runId: 0,
      workerGroup: impl === 'scriptworker' ? 'scriptworker-k8s' : 'us-east-1',
      workerId: `${impl}-1`,
      workerType: String(t.workerType),
      environment,
      artifactDir: runDir,
      keys: [keys[impl]!],
      format: impl === 'generic-worker' ? 'ed25519' : 'openpgp',
      outDir: join(runDir, 'public'),
      now: o.now,
    });
  }
  if (o.tamper) {
    // an artifact swapped after the worker signed its document
    await writeFile(
      join(queue.runDir(ids.linux, 0), 'artifacts/public/build/target.tar.gz'),
      randomBytes(512 * 1024),
    );
  }
  await writeFile(
    join(dir, 'demo.json'),
    `${JSON.stringify({ taskId: ids.beetmover, policy: 'policy.yml', queue: 'queue' }, null, 2)}\n`,
  );
  const loaded = await loadPolicy(join(dir, 'policy.yml'));
  const report = await verifyChain(queue, ids.beetmover, {
    policy: loaded.policy,
    trust: loaded.trust,
    at: o.now,
  });
  const reportHtml = join(dir, 'report.html');
  await writeFile(reportHtml, renderChainHtml(report));
  return {
    dir,
    taskId: ids.beetmover,
    policy: join(dir, 'policy.yml'),
    report,
    reportHtml,
    tasks: {
      decision: ids.decision,
      'docker-image': ids.image,
      'build-linux64': ids.linux,
      'build-win64': ids.windows,
      signing: ids.signing,
      beetmover: ids.beetmover,
    },
  };
}
