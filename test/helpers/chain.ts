import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { buildDemoLab, type DemoLab } from '../../src/demo/builder.js';
import {
  type ChainReport,
  generateChainOfTrust,
  type JsonObject,
  loadPolicy,
  loadSigningKey,
  verifyChain,
} from '../../src/index.js';
import { canonicalize } from '../../src/json/canonical.js';
import { parseCleartext } from '../../src/pgp/cleartext.js';
import { DirectoryQueue } from '../../src/queue.js';

export type Impl = 'docker-worker' | 'generic-worker' | 'scriptworker';

/** A signed demo chain built for tests (buildDemoLab: keys, key repository, policy, queue) and its report at `now`. */
export interface TestChain extends DemoLab {
  /** verifyChain of `taskId` with the chain's policy at `now` (accepted unless built with `tamper`) */
  report: ChainReport;
}

/**
 * Build the demo's signed chain in `dir` (made if missing) with the chain builder, not the `cot demo` command (no
 * marker, demo.json or report.html), and verify it once at `now`.
 */
export async function buildTestChain(
  dir: string,
  now: Date,
  o: { tamper?: boolean } = {},
): Promise<TestChain> {
  const lab = await buildDemoLab({ dir: resolve(dir), now, ...(o.tamper ? { tamper: true } : {}) });
  const loaded = await loadPolicy(lab.policy);
  const report = await verifyChain(lab.queue, lab.taskId, {
    policy: loaded.policy,
    trust: loaded.trust,
    at: now,
  });
  return { ...lab, report };
}

/** A copy of a test chain's folder (keys, key repository, policy, queue) to build a chain of one's own in. */
export interface Lab {
  dir: string;
  queue: DirectoryQueue;
  demo: TestChain;
  now: Date;
}

export async function labFrom(demo: TestChain, parent: string, name: string, now: Date): Promise<Lab> {
  const dir = join(parent, name);
  await cp(demo.dir, dir, { recursive: true });
  return { dir, queue: new DirectoryQueue(join(dir, 'queue')), demo, now };
}

export interface PutTaskOptions {
  runId?: number;
  /** replace the run's artifacts folder (default: keep what is there, add these) */
  fresh?: boolean;
  format?: 'openpgp' | 'ed25519';
  environment?: JsonObject;
  /** write no chain-of-trust document for this run */
  unsigned?: boolean;
}

/** Store a task definition and one run's artifacts, and sign that run's document with the demo key of `impl`. */
export async function putSignedTask(
  lab: Lab,
  taskId: string,
  task: JsonObject,
  artifacts: Record<string, Buffer | string>,
  impl: Impl,
  o: PutTaskOptions = {},
): Promise<void> {
  const runId = o.runId ?? 0;
  await lab.queue.putTask(taskId, task);
  const runDir = join(lab.queue.runDir(taskId, runId), 'artifacts');
  if (o.fresh) await rm(runDir, { recursive: true, force: true });
  await lab.queue.ensureRun(taskId, runId);
  for (const [name, bytes] of Object.entries(artifacts)) {
    const p = join(runDir, ...name.split('/'));
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, bytes);
  }
  if (o.unsigned) return;
  await resignRun(lab, taskId, impl, { ...o, runId });
}

/** Sign (again) a run's document over the artifacts its folder holds now. */
export async function resignRun(lab: Lab, taskId: string, impl: Impl, o: PutTaskOptions = {}): Promise<void> {
  const runId = o.runId ?? 0;
  const runDir = join(lab.queue.runDir(taskId, runId), 'artifacts');
  // keep the environment the worker reported (imageArtifactHash...) unless told otherwise
  const environment = o.environment ?? (await docEnvironment(lab, taskId, runId));
  for (const f of ['chain-of-trust.json', 'chain-of-trust.json.sig', 'chainOfTrust.json.asc'])
    await rm(join(runDir, 'public', f), { force: true });
  await generateChainOfTrust({
    task: await lab.queue.task(taskId),
    taskId,
    runId,
    workerGroup: 'us-east-1',
    workerId: `${impl}-1`,
    ...(environment ? { environment } : {}),
    artifactDir: runDir,
    keys: [await loadSigningKey(join(lab.dir, 'keys', `${impl}.key`))],
    format: o.format ?? (impl === 'generic-worker' ? 'ed25519' : 'openpgp'),
    outDir: join(runDir, 'public'),
    now: lab.now,
  });
}

/** The environment of a run's (unverified) document, if it has one. */
export async function docEnvironment(lab: Lab, taskId: string, runId = 0): Promise<JsonObject | undefined> {
  const runDir = join(lab.queue.runDir(taskId, runId), 'artifacts');
  const json = await readFile(join(runDir, 'public/chain-of-trust.json'), 'utf8').catch(() => undefined);
  const asc = await readFile(join(runDir, 'public/chainOfTrust.json.asc'), 'utf8').catch(() => undefined);
  const text = json ?? (asc ? parseCleartext(asc).text : undefined);
  return text ? (JSON.parse(text) as { environment: JsonObject }).environment : undefined;
}

/** Edit the demo decision task's task-graph.json and sign the decision task's document again. */
export async function editGraph(lab: Lab, edit: (graph: Record<string, JsonObject>) => void): Promise<void> {
  const decision = lab.demo.tasks.decision!;
  const p = lab.queue.artifactPath(decision, 0, 'public/task-graph.json');
  const graph = JSON.parse(await readFile(p, 'utf8')) as Record<string, JsonObject>;
  edit(graph);
  await writeFile(p, canonicalize(graph as never));
  await resignRun(lab, decision, 'docker-worker');
}

/** Write the queue's status response for a task (runs with their states and times). */
export async function putStatus(lab: Lab, taskId: string, runs: JsonObject[]): Promise<void> {
  await writeFile(
    join(lab.queue.taskDir(taskId), 'status.json'),
    JSON.stringify({ status: { taskId, runs } }, null, 2),
  );
}

/** Write the queue's artifact listing for a run (storage types other than s3, absences). */
export async function putListing(
  lab: Lab,
  taskId: string,
  runId: number,
  artifacts: JsonObject[],
): Promise<void> {
  await writeFile(
    join(lab.queue.runDir(taskId, runId), 'artifacts.json'),
    JSON.stringify({ artifacts }, null, 2),
  );
}

export async function verifyLab(
  lab: Lab,
  root: string,
  policyEdit?: (p: string) => string,
): Promise<ChainReport> {
  if (policyEdit)
    await writeFile(
      join(lab.dir, 'policy.yml'),
      policyEdit(await readFile(join(lab.dir, 'policy.yml'), 'utf8')),
    );
  const loaded = await loadPolicy(join(lab.dir, 'policy.yml'));
  return verifyChain(lab.queue, root, { policy: loaded.policy, trust: loaded.trust, at: lab.now });
}

/** The distinct error codes of a report, sorted ('ACCEPTED' when there are none). */
export function codesOf(r: ChainReport): string {
  return [...new Set(r.errors.map((e) => e.code))].sort().join(',') || 'ACCEPTED';
}

/**
 * Change a task of the demo graph the way its decision task would have made it: the same change to the queue's
 * definition and to its task-graph.json entry; then both documents are signed again.
 */
export async function changeGraphTask(
  lab: Lab,
  taskId: string,
  impl: Impl,
  change: (task: JsonObject) => void,
  o: PutTaskOptions = {},
): Promise<void> {
  const t = await lab.queue.task(taskId);
  change(t);
  await lab.queue.putTask(taskId, t);
  await editGraph(lab, (g) => change(g[taskId]!.task as JsonObject));
  await resignRun(lab, taskId, impl, o);
}

/** `cot attest provenance` of a test chain's root with its store and policy. */
export const provenanceArgs = (c: TestChain, key: string, out: string, ...extra: string[]) => [
  'attest',
  'provenance',
  c.taskId,
  '--queue',
  join(c.dir, 'queue'),
  '--policy',
  c.policy,
  '--key',
  key,
  '--out',
  out,
  ...extra,
];

/** `cot verify` of a test chain's root with its store and policy. */
export const verifyArgs = (c: TestChain, ...extra: string[]) => [
  'verify',
  c.taskId,
  '--queue',
  join(c.dir, 'queue'),
  '--policy',
  c.policy,
  ...extra,
];
