import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { discoverChain } from '../chain/discover.js';
import { chainEdges, type Edge, parentOf } from '../chain/edges.js';
import { fnmatch } from '../chain/glob.js';
import { chooseRuns, type RunChoice } from '../chain/runs.js';
import { COT_ARTIFACT_NAMES, RESERVED_ARTIFACT_NAMES, TASK_GRAPH_NAME } from '../document/names.js';
import type { HashAlgorithm } from '../document/schema.js';
import { CotError, type ErrorCode } from '../errors.js';
import { type JsonObject, type JsonValue, parseJsonBytes } from '../json/parse.js';
import { parseCleartext } from '../pgp/cleartext.js';
import { readStatuses } from '../transport/batch.js';
import { DirectoryQueue } from '../transport/dir-store.js';
import { downloadArtifact } from '../transport/download.js';
import {
  type ArtifactInfo,
  type DownloadLimits,
  STORED_STORAGE_TYPES,
  servesBytes,
  type TaskQueue,
  type TaskStatus,
} from '../transport/queue.js';
import { DECISION_ARTIFACT_NAMES, parseTreeFile, type TreeFile } from '../tree/files.js';
import { writeFileAtomic } from '../util/atomic.js';
import { mapBounded } from '../util/concurrency.js';
import { checkOption, checkOptions } from '../util/options.js';
import { assertTaskId } from '../util/task-id.js';
import { type FetchTreeOptions, mirrorTrees } from './trees.js';

/** Decision and action task files a verifier reads, mirrored when the task's document lists them. */
const DECISION_FILES = [TASK_GRAPH_NAME, ...Object.values(DECISION_ARTIFACT_NAMES)];

export interface FetchOptions extends DownloadLimits {
  /** how many links up from the task (default 20) */
  depth?: number;
  /** most tasks mirrored (default 1000) */
  maxTasks?: number;
  /** requests at once (default 8) */
  concurrency?: number;
  /** also follow task.dependencies, as a policy with followDependencies does */
  followDependencies?: boolean;
  /**
   * also mirror the tree material of the chain's decision, cron and action tasks (the root too when it is its own
   * decision task) into `<outDir>/trees/`
   * (mirror/trees.ts mirrorTrees: the layout of the policy's `tree.dir`), fetched online through `trees.fetch`
   */
  trees?: FetchTreeOptions;
}

export interface FetchedTask {
  taskId: string;
  /** the run mirrored, and why that one (the same choice `cot verify` makes) */
  runId?: number;
  runReason?: string;
  depth: number;
  /** artifacts mirrored */
  artifacts: string[];
}

/** Something the chain needs that the mirror does not have, and why. */
export interface FetchMissing {
  taskId?: string;
  artifact?: string;
  code: ErrorCode;
  reason: string;
}

export interface FetchResult {
  tasks: FetchedTask[];
  bytes: number;
  /** what could not be mirrored (tasks, runs, artifacts), each with its reason */
  missing: FetchMissing[];
  /** the walk stopped at --depth or --max-tasks: tasks beyond were not mirrored */
  truncated: boolean;
  /** everything the chain needs is in the mirror */
  complete: boolean;
}

/** The unverified document of a task, only to know which artifacts it lists (the verifier checks it later). */
function listedArtifacts(bytes: Buffer, asc: boolean): Record<string, Record<string, string>> | undefined {
  try {
    const text = asc ? parseCleartext(bytes.toString('utf8'), 'mirror').text : bytes.toString('utf8');
    const doc = parseJsonBytes(Buffer.from(text, 'utf8'), { source: 'mirrored document' }) as JsonValue;
    const artifacts = doc && typeof doc === 'object' && !Array.isArray(doc) ? doc.artifacts : undefined;
    if (!artifacts || typeof artifacts !== 'object' || Array.isArray(artifacts)) return undefined;
    return artifacts as Record<string, Record<string, string>>;
  } catch {
    return undefined;
  }
}

function expectedDigests(entry: Record<string, string> | undefined): Partial<Record<HashAlgorithm, string>> {
  const out: Partial<Record<HashAlgorithm, string>> = {};
  for (const a of ['sha256', 'sha512'] as const) if (typeof entry?.[a] === 'string') out[a] = entry[a];
  return out;
}

/** The tasks a task depends on for its chain of trust (the links `cot verify` follows), with the paths consumed. */
export function upstreamOf(task: JsonObject, taskId = ''): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const e of chainEdges(taskId, task, { followDependencies: false })) {
    const set = out.get(e.to) ?? new Set<string>();
    for (const p of e.paths) set.add(p.path);
    out.set(e.to, set);
  }
  return out;
}

interface MirrorTask {
  taskId: string;
  depth: number;
  task: JsonObject;
  status?: TaskStatus;
  runId?: number;
  listing?: Map<string, ArtifactInfo>;
  /** what the (unverified) document lists: only these bytes are ever mirrored */
  listed?: Record<string, Record<string, string>>;
  out: FetchedTask;
}

/**
 * What is missing in the order of the walk, whatever order concurrent downloads failed in: by the task's depth,
 * then taskId (as `cot verify` orders a chain's failures), items of no task (bounds, cycle) last; one task's items
 * in the order they were found. So the first item named, and the exit code, are the same on every run.
 */
function inWalkOrder(
  missing: readonly FetchMissing[],
  tasks: ReadonlyMap<string, { taskId: string; depth: number }>,
): FetchMissing[] {
  const order = [...tasks.values()].sort(
    (a, b) => a.depth - b.depth || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0),
  );
  const rank = new Map(order.map((t, i) => [t.taskId, i]));
  const rankOf = (m: FetchMissing) =>
    m.taskId === undefined ? order.length : (rank.get(m.taskId) ?? order.length);
  return [...missing].sort((a, b) => rankOf(a) - rankOf(b));
}

/** What one fetchChain call shares between its steps: the source, the mirror, its bounds and what it found. */
interface MirrorContext {
  source: TaskQueue;
  out: DirectoryQueue;
  /** the task asked for (the only one whose document may be absent without a CHAIN_COT_MISSING) */
  rootTaskId: string;
  limits: DownloadLimits;
  concurrency: number;
  missing: FetchMissing[];
  /** bytes of artifacts mirrored so far */
  bytes: number;
}

/** Run `fn`; a CotError it throws becomes an item of `missing` for the task (and artifact), anything else escapes. */
async function attempt(
  ctx: MirrorContext,
  t: MirrorTask,
  artifact: string | undefined,
  fn: () => Promise<void>,
): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof CotError)) throw e;
    ctx.missing.push({
      taskId: t.taskId,
      ...(artifact ? { artifact } : {}),
      code: e.code,
      reason: e.message,
    });
  }
}

/** Check fetchChain's arguments: OPTIONS_INVALID (see checkOptions) for a missing or mistyped one. */
function checkFetchArguments(source: TaskQueue, taskId: string, outDir: string, o: FetchOptions): void {
  checkOption('fetchChain', 'source', source, { kind: 'queue' });
  assertTaskId(taskId);
  checkOption('fetchChain', 'outDir', outDir, { kind: 'string', hint: 'the directory store to write' });
  checkOptions('fetchChain', o, {
    depth: { kind: 'nonNegativeInteger', optional: true },
    maxTasks: { kind: 'nonNegativeInteger', optional: true },
    concurrency: { kind: 'nonNegativeInteger', optional: true },
    followDependencies: { kind: 'boolean', optional: true },
    maxBytes: { kind: 'nonNegativeInteger', optional: true },
    timeoutMs: { kind: 'nonNegativeInteger', optional: true },
    trees: { kind: 'object', optional: true },
  });
  if (o.trees !== undefined) checkOption('fetchChain', 'trees.fetch', o.trees.fetch, { kind: 'function' });
}

/** The mirror's folder may be missing (it is made) or a folder; anything else is FILE_NOT_DIRECTORY, before any work. */
async function assertFolderTarget(outDir: string): Promise<void> {
  const st = await stat(outDir).catch(() => undefined);
  if (st !== undefined && !st.isDirectory())
    throw new CotError(
      'FILE_NOT_DIRECTORY',
      `mirror folder ${outDir} is a file, not a folder: nothing was written; give a folder for the mirror (it is made if missing)`,
      { details: { path: outDir } },
    );
}

/**
 * Step 1 for one task: its definition and the queue's status (`status.json`, read before with the others: `status`,
 * or the error reading it gave) into the mirror.
 */
async function mirrorDefinition(
  ctx: MirrorContext,
  t: MirrorTask,
  status: TaskStatus | CotError,
): Promise<void> {
  await ctx.out.putTask(t.taskId, t.task);
  if (status instanceof CotError) throw status;
  t.status = status;
  await writeFileAtomic(
    join(ctx.out.taskDir(t.taskId), 'status.json'),
    `${JSON.stringify({ status: t.status }, null, 2)}\n`,
  );
}

/** Whether the run's listing has `name` with bytes the queue itself stores (s3, object). */
function storedIn(t: MirrorTask, name: string): boolean {
  return STORED_STORAGE_TYPES.has(t.listing?.get(name)?.storageType ?? '');
}

/**
 * The chain-of-trust files of the run in a complete format: an ed25519 document with its .sig, and/or the
 * cleartext-signed .asc. A lone chain-of-trust.json is unsigned bytes, never mirrored.
 */
function documentFiles(t: MirrorTask): string[] {
  const { json, sig, openpgp } = COT_ARTIFACT_NAMES;
  return [
    ...(storedIn(t, json) && storedIn(t, sig) ? [json, sig] : []),
    ...(storedIn(t, openpgp) ? [openpgp] : []),
  ];
}

/** Download `name` of the task's run into the mirror (hash-checked against `expected` when given). */
async function download(
  ctx: MirrorContext,
  t: MirrorTask,
  name: string,
  expected?: Partial<Record<HashAlgorithm, string>>,
): Promise<void> {
  const dest = ctx.out.artifactPath(t.taskId, t.runId!, name);
  const d = await downloadArtifact(ctx.source, t.taskId, t.runId!, name, {
    ...ctx.limits,
    dest,
    ...(expected ? { expected } : {}),
  });
  ctx.bytes += d.size;
  t.out.artifacts.push(name);
}

/**
 * Step 2 for one task: the run chosen for it, its listing (`artifacts.json`), its chain-of-trust files, and the
 * decision files its (unverified) document lists. A task other than the root without a readable document in a
 * complete format is CHAIN_COT_MISSING, and nothing else of it is mirrored.
 */
async function mirrorRun(ctx: MirrorContext, t: MirrorTask, run: RunChoice | CotError): Promise<void> {
  if (run instanceof CotError) throw run;
  t.runId = run.runId;
  t.out.runId = run.runId;
  t.out.runReason = `run ${run.runId} (${run.state}): ${run.reason}`;
  const list = await ctx.source.listArtifacts(t.taskId, run.runId);
  t.listing = new Map(list.map((a) => [a.name, a]));
  await ctx.out.ensureRun(t.taskId, run.runId);
  await writeFileAtomic(
    join(ctx.out.runDir(t.taskId, run.runId), 'artifacts.json'),
    `${JSON.stringify({ artifacts: list }, null, 2)}\n`,
  );
  for (const name of documentFiles(t)) await attempt(ctx, t, name, () => download(ctx, t, name));
  const ed = t.out.artifacts.includes(COT_ARTIFACT_NAMES.sig);
  const docName = ed ? COT_ARTIFACT_NAMES.json : COT_ARTIFACT_NAMES.openpgp;
  if (t.out.artifacts.includes(docName))
    t.listed = listedArtifacts(await readFile(ctx.out.artifactPath(t.taskId, run.runId, docName)), !ed);
  if (!t.listed && t.taskId !== ctx.rootTaskId) {
    // the verified task may still be running (a policy may waive its document); any other link needs one
    ctx.missing.push({
      taskId: t.taskId,
      code: 'CHAIN_COT_MISSING',
      reason: `task ${t.taskId} run ${run.runId} has no readable chain-of-trust document in a complete format (.json with .sig, or .asc): none of its artifacts are mirrored`,
    });
  }
  for (const name of DECISION_FILES.filter((n) => storedIn(t, n) && t.listed?.[n]))
    await mirrorListed(ctx, t, name);
}

/**
 * Mirror an artifact the task's document lists, once, checked against the listed sha256/sha512
 * (HASH_UNSUPPORTED_ALGORITHM when it lists neither; HASH_MISMATCH, TRANSPORT_* from the download): failures
 * become items of `missing`.
 */
async function mirrorListed(ctx: MirrorContext, t: MirrorTask, name: string): Promise<void> {
  if (t.out.artifacts.includes(name)) return;
  await attempt(ctx, t, name, async () => {
    const expected = expectedDigests(t.listed?.[name]);
    if (Object.keys(expected).length === 0)
      throw new CotError(
        'HASH_UNSUPPORTED_ALGORITHM',
        `${name}: the document lists no sha256 or sha512 for it, so it cannot be checked: not mirrored`,
      );
    await download(ctx, t, name, expected);
  });
}

/**
 * Step 3, collecting: the artifacts the chain's edges consume (glob patterns expanded against the producer's
 * listing), deduplicated per task. A non-optional path that matches nothing, is absent or has no bytes is
 * ARTIFACT_MISSING; one the producer's document does not list is ARTIFACT_NOT_LISTED (never mirrored).
 */
function consumedArtifacts(
  ctx: MirrorContext,
  edges: readonly Edge[],
  tasks: ReadonlyMap<string, MirrorTask>,
): { t: MirrorTask; name: string }[] {
  const consumed = new Map<string, { t: MirrorTask; name: string }>();
  for (const e of edges) {
    const t = tasks.get(e.to);
    if (!t?.listing) continue;
    for (const p of e.paths) {
      const names = p.glob
        ? [...t.listing.keys()].filter((n) => !RESERVED_ARTIFACT_NAMES.has(n) && fnmatch(n, p.path))
        : [p.path];
      if (p.glob && names.length === 0 && !p.optional)
        ctx.missing.push({
          taskId: t.taskId,
          artifact: p.path,
          code: 'ARTIFACT_MISSING',
          reason: `the pattern ${p.path} (consumed by ${e.from}) matches no artifact`,
        });
      for (const name of names) {
        const problem = consumedProblem(t, name, e.from, p.optional);
        if (problem) ctx.missing.push(problem);
        else if (servesBytes(t.listing.get(name))) consumed.set(`${t.taskId}\n${name}`, { t, name });
      }
    }
  }
  return [...consumed.values()];
}

/** Why a consumed artifact cannot be mirrored, if it cannot (see consumedArtifacts). */
function consumedProblem(
  t: MirrorTask,
  name: string,
  consumer: string,
  optional: boolean,
): FetchMissing | undefined {
  const info = t.listing?.get(name);
  if (!servesBytes(info)) {
    if (optional) return undefined;
    return {
      taskId: t.taskId,
      artifact: name,
      code: 'ARTIFACT_MISSING',
      reason: `${name} (consumed by ${consumer}) is ${info ? `a ${info.storageType} artifact` : 'absent'} in the queue`,
    };
  }
  if (!t.listed?.[name])
    return {
      taskId: t.taskId,
      artifact: name,
      code: 'ARTIFACT_NOT_LISTED',
      reason: `${name} (consumed by ${consumer}) is not listed in the task's chain-of-trust document: not mirrored`,
    };
  return undefined;
}

/**
 * Whether `cot verify` may rebuild this task from its tree: a task the walk reached as a parent (decision or action:
 * DiscoveredTask `decision`), or one that names itself as its parent (a decision task verified directly, or reached
 * by another edge). The walk leaves the latter unmarked because only its worker type, which the verifier's policy
 * knows, makes it a decision task (chain/checks/parents.ts checkDecisionTasks); the mirror has no policy, so it
 * mirrors its tree whenever it could be one.
 */
function treeParent(d: { taskId: string; decision: boolean; task?: JsonObject }): boolean {
  return d.task !== undefined && (d.decision || parentOf(d.taskId, d.task).self);
}

/**
 * Step 4: the tree material of every task `cot verify` may rebuild (treeParent), through mirrorTrees; an action's
 * rebuild reads its decision task's `actions.json` and `parameters.yml` from what step 2 mirrored (already
 * hash-checked). What is missing joins `missing`.
 */
async function mirrorChainTrees(
  ctx: MirrorContext,
  trees: FetchTreeOptions,
  found: Awaited<ReturnType<typeof discoverChain>>,
  tasks: ReadonlyMap<string, MirrorTask>,
): Promise<void> {
  const parents = [...found.tasks.values()]
    .filter(treeParent)
    .sort((a, b) => a.depth - b.depth || (a.taskId < b.taskId ? -1 : 1))
    .map((d) => ({ taskId: d.taskId, task: d.task! }));
  const decisionFiles = async (id: string) => {
    const t = tasks.get(id);
    const out: Partial<Record<'actions' | 'parameters', TreeFile>> = {};
    for (const [role, name] of Object.entries(DECISION_ARTIFACT_NAMES) as [
      keyof typeof DECISION_ARTIFACT_NAMES,
      string,
    ][]) {
      if (!t || t.runId === undefined || !t.out.artifacts.includes(name)) continue;
      const path = ctx.out.artifactPath(id, t.runId, name);
      out[role] = parseTreeFile(role, (await readFile(path)).toString('utf8'), path, []);
    }
    return out;
  };
  ctx.missing.push(...(await mirrorTrees(ctx.out.root, parents, trees, decisionFiles)));
}

/**
 * Mirror a task's chain into a directory store, so it can be verified later fully offline: the same walk as
 * `cot verify` (`discoverChain`: parent, inputs, task-image, upstreamArtifacts; bounds; each task once), the same
 * choice of run (`chooseRuns`), and for each task its definition, the queue's status (`status.json`) and artifact
 * listing (`artifacts.json`, so storage types and absences are kept), its chain-of-trust files, and the decision
 * files and consumed artifacts (glob patterns expanded) that its document lists. Bytes the document does not list
 * are never mirrored, and every artifact is hash-checked against the listed digest as it is written. What cannot be
 * mirrored is listed in `missing` with its reason; `complete` says whether the mirror holds everything the chain
 * needs, `missing` in the order of the walk (depth, then taskId). With `trees`, the tree material of the
 * chain's decision, cron and action tasks too (mirrorTrees, into `<outDir>/trees/`), its failures (TREE_*) in
 * `missing`. Throws only when the task itself cannot be read
 * (its queue code: QUEUE_NOT_FOUND, TRANSPORT_*, JSON_INVALID, FILE_NOT_FOUND for a directory store that does not
 * exist), and OPTIONS_INVALID for missing or wrong arguments. `failureOutcome(missing, 'FETCH_INCOMPLETE')` gives
 * the verdict (its code and kind), by the rule `cot verify` uses.
 */
export async function fetchChain(
  source: TaskQueue,
  taskId: string,
  outDir: string,
  o: FetchOptions = {},
): Promise<FetchResult> {
  checkFetchArguments(source, taskId, outDir, o);
  await assertFolderTarget(outDir);
  const concurrency = o.concurrency ?? 8;
  const ctx: MirrorContext = {
    source,
    out: new DirectoryQueue(outDir),
    rootTaskId: taskId,
    limits: {
      ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    },
    concurrency,
    missing: [],
    bytes: 0,
  };
  const found = await discoverChain(source, taskId, {
    followDependencies: o.followDependencies ?? false,
    maxDepth: o.depth ?? 20,
    maxTasks: o.maxTasks ?? 1000,
    concurrency,
  });
  const rootError = found.tasks.get(taskId)?.error;
  if (rootError) throw rootError;
  for (const e of found.errors)
    ctx.missing.push({ ...(e.taskId ? { taskId: e.taskId } : {}), code: e.code, reason: e.message });
  const tasks = new Map<string, MirrorTask>();
  for (const d of found.tasks.values())
    if (d.task)
      tasks.set(d.taskId, {
        taskId: d.taskId,
        depth: d.depth,
        task: d.task,
        out: { taskId: d.taskId, depth: d.depth, artifacts: [] },
      });
  // 1. definitions and statuses (in batches when the queue has them: readStatuses); then the runs, chosen as the
  // verifier will choose them
  const statuses = await readStatuses(source, [...tasks.keys()], concurrency);
  await mapBounded([...tasks.values()], concurrency, (t) =>
    attempt(ctx, t, undefined, () => mirrorDefinition(ctx, t, statuses.get(t.taskId)!)),
  );
  const runs = chooseRuns(tasks, found.edges);
  // 2. per task: the listing, the chain-of-trust files, and what the document lists of the decision files
  await mapBounded([...tasks.values()], concurrency, (t) => {
    const run = runs.get(t.taskId);
    return run ? attempt(ctx, t, undefined, () => mirrorRun(ctx, t, run)) : Promise.resolve();
  });
  // 3. consumed artifacts: only what the producer's document lists, hash-checked as written
  const consumed = consumedArtifacts(ctx, found.edges, tasks);
  await mapBounded(consumed, concurrency, ({ t, name }) => mirrorListed(ctx, t, name));
  // 4. the tree material of the parent tasks (decision, cron, action), for an offline rebuild and trace
  if (o.trees !== undefined) await mirrorChainTrees(ctx, o.trees, found, tasks);
  return {
    tasks: [...tasks.values()].map((t) => t.out),
    bytes: ctx.bytes,
    missing: inWalkOrder(ctx.missing, found.tasks),
    truncated: found.truncated,
    complete: ctx.missing.length === 0 && !found.truncated,
  };
}
