import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, realpath, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { renderChainHtml } from '../chain/html.js';
import { loadPolicy } from '../chain/policy.js';
import { type ChainReport, verifyChain } from '../chain/verify-chain.js';
import { generateChainOfTrust } from '../cot/generate.js';
import { TASK_GRAPH_NAME } from '../document/names.js';
import { CotError } from '../errors.js';
import { digestBytes } from '../hashing/digest.js';
import { canonicalize } from '../json/canonical.js';
import type { JsonObject } from '../json/parse.js';
import { generateKeyPair } from '../keys/generate.js';
import { loadSigningKey, type SigningKey } from '../keys/keys.js';
import { DirectoryQueue } from '../transport/dir-store.js';
import { certifyKeyFile } from '../trust/certify.js';
import { writeFileAtomic } from '../util/atomic.js';
import { fsReason } from '../util/fs-paths.js';
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
  /**
   * build in `out` even if it is a non-empty folder the demo did not make (no DEMO_MARKER): the demo's own files
   * are written there (replacing files at their names), nothing else in it is touched or removed
   */
  force?: boolean;
  now: Date;
}

/**
 * The file the demo writes at the top of its folder: it marks the folder as the demo's and lists every file and
 * folder the demo made there, so that a new run (no --force needed) removes exactly those and nothing else.
 */
export const DEMO_MARKER = '.cot-demo.json';

/** Everything the demo writes lies under these names of its folder (and the marker). */
const DEMO_ENTRIES = [
  'queue',
  'keys',
  'key-repo',
  'ed25519-keys.json',
  'policy.yml',
  'demo.json',
  'report.html',
];

interface DemoManifest {
  files: string[];
  dirs: string[];
}

/** The manifest of a folder the demo made, or undefined (no marker, or not one the demo wrote). */
async function readManifest(dir: string): Promise<DemoManifest | undefined> {
  let v: unknown;
  try {
    v = JSON.parse(await readFile(join(dir, DEMO_MARKER), 'utf8'));
  } catch {
    return undefined;
  }
  const m = v as { cotDemo?: unknown; files?: unknown; dirs?: unknown };
  const strings = (x: unknown) => Array.isArray(x) && x.every((e) => typeof e === 'string');
  if (m === null || typeof m !== 'object' || m.cotDemo !== 1 || !strings(m.files) || !strings(m.dirs)) {
    return undefined;
  }
  return { files: m.files as string[], dirs: m.dirs as string[] };
}

/** A manifest entry: a relative path without `..`, inside one of the demo's own entries. */
function safeEntry(rel: string): boolean {
  if (rel === '' || isAbsolute(rel) || normalize(rel) !== rel || rel.split(sep).includes('..')) return false;
  return DEMO_ENTRIES.includes(rel.split(sep)[0]!);
}

/**
 * Remove what a previous run listed in its manifest: its files (never through a symlinked folder: the file's folder
 * must really lie in the demo folder), then its folders deepest first, each only if empty. A file someone added to
 * the demo folder since is kept, and so are the folders holding it.
 */
async function removePreviousRun(dir: string, m: DemoManifest): Promise<void> {
  const realDir = await realpath(dir);
  for (const rel of m.files.filter(safeEntry)) {
    const path = join(dir, rel);
    // the file's folder must be the demo's own, reached without a symlink (else it is someone else's file)
    const parent = await realpath(dirname(path)).catch(() => undefined);
    if (parent === undefined || parent !== dirname(join(realDir, rel))) continue;
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined || st.isDirectory()) continue;
    await unlink(path).catch((e: unknown) => {
      throw new CotError('OUTPUT_FAILED', `cannot remove ${path} of the previous demo run: ${fsReason(e)}`, {
        cause: e,
      });
    });
  }
  const dirs = m.dirs.filter(safeEntry).sort((a, b) => b.split(sep).length - a.split(sep).length);
  for (const rel of dirs) {
    const path = join(dir, rel);
    const real = await realpath(path).catch(() => undefined);
    if (real === undefined || real !== join(realDir, rel)) continue; // a symlink now: not the demo's folder
    await rmdir(path).catch(() => undefined); // not empty: someone's files are in it, kept
  }
}

/** Every file (or symlink) and folder under the demo's entries, relative to `dir`; symlinks are not followed. */
async function demoTree(dir: string): Promise<{ files: Set<string>; dirs: Set<string> }> {
  const files = new Set<string>();
  const dirs = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    const st = await lstat(join(dir, rel)).catch(() => undefined);
    if (st === undefined) return;
    if (!st.isDirectory()) {
      files.add(rel);
      return;
    }
    dirs.add(rel);
    for (const name of await readdir(join(dir, rel)).catch(() => [] as string[])) await walk(join(rel, name));
  };
  for (const e of DEMO_ENTRIES) await walk(e);
  return { files, dirs };
}

/**
 * Make `dir` ready for the demo, removing nothing the demo did not write: a new or empty folder is used as is; a
 * folder with the demo's marker has the previous run's files removed (its manifest); any other non-empty folder is
 * refused (FILE_EXISTS) unless `force`, and then left as it is (the demo writes its own names over it). A path that
 * exists and is not a folder is FILE_EXISTS.
 */
async function prepareDemoFolder(dir: string, force: boolean): Promise<void> {
  const st = await stat(dir).catch(() => undefined);
  if (st !== undefined && !st.isDirectory()) {
    throw new CotError(
      'FILE_EXISTS',
      `${dir} exists and is not a folder: give the demo a new or empty folder`,
      {
        details: { path: dir },
      },
    );
  }
  if (st === undefined) {
    await mkdir(dir, { recursive: true }).catch((e: unknown) => {
      throw new CotError('OUTPUT_FAILED', `cannot create the demo folder ${dir}: ${fsReason(e)}`, {
        cause: e,
      });
    });
    return;
  }
  const manifest = await readManifest(dir);
  if (manifest !== undefined) {
    await removePreviousRun(dir, manifest);
    return;
  }
  const entries = await readdir(dir).catch((e: unknown) => {
    throw new CotError('OUTPUT_FAILED', `cannot list the demo folder ${dir}: ${fsReason(e)}`, { cause: e });
  });
  if (entries.length > 0 && !force) {
    throw new CotError(
      'FILE_EXISTS',
      `${dir} is not empty and was not made by cot demo (it has no ${DEMO_MARKER}): nothing was touched. Give a new or empty folder, or pass --force to write the demo's files there (replacing only files at the demo's own names: ${DEMO_ENTRIES.join(', ')}; nothing is removed)`,
      { details: { path: dir, entries: entries.slice(0, 20) } },
    );
  }
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
 *
 * `out` is the demo's own folder: a new or empty one, or one it made before (DEMO_MARKER, whose list of what the
 * previous run made is removed first, nothing else); any other non-empty folder is FILE_EXISTS unless `force`
 * (then nothing is removed). The marker is written first and rewritten at the end, even after a failure, listing
 * what this run made. Throws FILE_EXISTS, OUTPUT_FAILED, and the codes of the steps (generateKeyPair,
 * certifyKeyFile, generateChainOfTrust, loadPolicy).
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  checkOptions('runDemo', o, {
    out: { kind: 'string' },
    tamper: { kind: 'boolean', optional: true },
    now: { kind: 'date' },
  });
  const dir = resolve(o.out);
  await prepareDemoFolder(dir, Boolean(o.force));
  // what was there before this run is never listed as the demo's, so never removed by a later run
  const before = await demoTree(dir);
  const marker = join(dir, DEMO_MARKER);
  const writeManifest = async () => {
    const after = await demoTree(dir);
    const made = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();
    const manifest = {
      cotDemo: 1,
      about:
        'made by `cot demo`: a new run over this folder removes exactly the files and folders listed here (what the previous run made), and nothing else',
      files: made(after.files, before.files),
      dirs: made(after.dirs, before.dirs),
    };
    await writeFileAtomic(marker, `${JSON.stringify(manifest, null, 2)}\n`);
  };
  await writeManifest(); // the folder is the demo's from now on, even if this run stops half-way
  try {
    return await buildDemo(o, dir);
  } finally {
    await writeManifest();
  }
}

async function buildDemo(o: DemoOptions, dir: string): Promise<DemoResult> {
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
    force: true,
    pubOut: k('docker-worker.pub'),
    now: keyDate,
  });
  const genericWorker = await generateKeyPair({
    type: 'ed25519',
    out: k('generic-worker.key'),
    force: true,
    pubOut: k('generic-worker.pub'),
    now: keyDate,
  });
  await generateKeyPair({
    type: 'openpgp',
    pgpAlgorithm: 'ed25519',
    userId: 'demo releng root <root@example.com>',
    out: k('root.key'),
    force: true,
    pubOut: k('root.pub'),
    now: keyDate,
  });
  await generateKeyPair({
    type: 'openpgp',
    pgpAlgorithm: 'ed25519',
    userId: 'cltsign@scriptworker-1.example.com',
    out: k('scriptworker.key'),
    force: true,
    pubOut: k('scriptworker.pub'),
    now: keyDate,
  });
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
    now: o.now,
    force: true,
  });
  await writeFileAtomic(
    join(dir, 'ed25519-keys.json'),
    `${JSON.stringify({ 'generic-worker': [genericWorker.publicKey] }, null, 2)}\n`,
  );
  await writeFileAtomic(join(dir, 'policy.yml'), POLICY);
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
  await writeFileAtomic(
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
  await writeFileAtomic(reportHtml, renderChainHtml(report));
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
