import { performance } from 'node:perf_hooks';
import type { TaskQueue } from '../transport/queue.js';
import { checkOption, checkOptions } from '../util/options.js';
import { assertTaskId } from '../util/task-id.js';
import { checkConsumedArtifacts } from './checks/consumed-artifacts.js';
import { checkDockerImages, checkInteractive } from './checks/docker-images.js';
import { verifyDocuments } from './checks/documents.js';
import { checkDecisionReached, checkDecisionTasks, checkTaskGraphs } from './checks/parents.js';
import { selectRuns } from './checks/runs.js';
import { checkTreeRebuild } from './checks/tree-rebuild.js';
import { checkScriptworkerKinds, checkTreeTrace } from './checks/tree-trace.js';
import { discoverChain } from './discover.js';
import { obj } from './edges.js';
import {
  type ChainCheck,
  type ChainError,
  type ChainLink,
  type ChainReport,
  ChainRun,
  type VerifyChainOptions,
} from './state.js';

export type {
  ChainError,
  ChainLink,
  ChainReport,
  ChainTreeFetch,
  LinkConsumed,
  LinkDocument,
  LinkImage,
  LinkTree,
  RootEvidence,
  VerifyChainOptions,
} from './state.js';
export { diffPaths, jsonDifferences, showDifference } from './task-graph.js';

/**
 * The checks, in order. Each reads the run state left by those before it and records its own checks and failures
 * on the links; adding a check is adding a module and a line here.
 */
const CHAIN_CHECKS: readonly ChainCheck[] = [
  selectRuns,
  verifyDocuments,
  checkDecisionTasks,
  checkTaskGraphs,
  checkConsumedArtifacts,
  checkDockerImages,
  checkInteractive,
  checkDecisionReached,
  checkTreeRebuild,
  checkTreeTrace,
  checkScriptworkerKinds,
];

/**
 * The chain's failures in discovery order, whatever order concurrent checks recorded them in: links breadth first
 * from the verified task (by depth, then by taskId), each link's failures in the order its checks recorded them,
 * then the failures of the chain as a whole (bounds, cycle, no decision task). So the first failure named is the
 * same on every run.
 */
function inDiscoveryOrder(s: ChainRun): ChainError[] {
  const order = [...s.nodes.values()]
    .map((n) => n.link)
    .sort((a, b) => a.depth - b.depth || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
  const rank = new Map(order.map((l, i) => [l.taskId, i]));
  const rankOf = (e: ChainError) =>
    e.taskId === undefined ? order.length : (rank.get(e.taskId) ?? order.length);
  // Array.prototype.sort is stable: a link's own failures keep their order
  return [...s.errors].sort((a, b) => rankOf(a) - rankOf(b));
}

const LOADED_POLICY_HINT =
  'loadPolicy returns { policy, trust, path }: pass its fields with the reference time, verifyChain(queue, taskId, { ...(await loadPolicy(file)), at: new Date() })';

/** The arguments of verifyChain, for callers in plain JavaScript: OPTIONS_INVALID naming the wrong one. */
function checkVerifyChainArguments(queue: unknown, taskId: unknown, o: unknown): void {
  checkOption('verifyChain', 'queue', queue, { kind: 'queue' });
  assertTaskId(taskId);
  checkOptions('verifyChain', o, {});
  const policy = (o as Record<string, unknown>).policy;
  checkOptions('verifyChain', o, {
    policy: {
      kind: 'policy',
      ...(policy && typeof policy === 'object' && 'policy' in policy ? { hint: LOADED_POLICY_HINT } : {}),
    },
    trust: { kind: 'trustStore', hint: LOADED_POLICY_HINT },
    at: { kind: 'date', hint: 'the reference time of the whole verification' },
    onProgress: { kind: 'function', optional: true },
    treeFetch: { kind: 'object', optional: true },
  });
  const treeFetch = (o as Record<string, unknown>).treeFetch;
  if (treeFetch !== undefined)
    checkOptions(
      'verifyChain',
      treeFetch as Record<string, unknown>,
      {
        fetch: { kind: 'function' },
        allowedTreeHosts: { kind: 'array', optional: true },
        projectsUrl: { kind: 'string', optional: true },
        baseUrls: { kind: 'object', optional: true },
      },
      'treeFetch',
    );
}

/**
 * Verify a chain: from `taskId`, discover every task it relies on (`discoverChain`: parent decision/action task,
 * upstream artifacts, inputs such as docker images, optionally dependencies), recursively, each once, bounded by the
 * policy; then run CHAIN_CHECKS over them, in their order (each check's docstring says what it checks and which
 * rule of the reference it follows). Every failure is collected with its code; nothing throws for a bad link.
 *
 * `o` is `{ policy, trust, at }`: loadPolicy's result gives the first two (`{ ...(await loadPolicy(file)), at }`);
 * `at` (a Date) is required, the library never reads the clock. Throws OPTIONS_INVALID for a missing or
 * wrong argument (not a TaskQueue, a malformed task id, no `at`...), before anything is read. Returns a
 * ChainReport whose `errors` are in discovery order (breadth first from `taskId`, then by taskId; failures of the
 * chain as a whole last); `failureOutcome(report.errors, 'CHAIN_VERIFICATION_FAILED')` gives the verdict (its code and kind).
 */
export async function verifyChain(
  queue: TaskQueue,
  taskId: string,
  o: VerifyChainOptions,
): Promise<ChainReport> {
  checkVerifyChainArguments(queue, taskId, o);
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  const { policy } = o;
  const s = new ChainRun(queue, taskId, o);
  const found = await discoverChain(queue, taskId, {
    followDependencies: policy.followDependencies,
    maxDepth: policy.bounds.maxDepth,
    maxTasks: policy.bounds.maxTasks,
    concurrency: policy.bounds.concurrency,
  });
  for (const d of found.tasks.values()) {
    const task = d.task ?? {};
    const link: ChainLink = {
      taskId: d.taskId,
      role: d.role,
      kinds: [...d.kinds],
      name: typeof obj(task.metadata)?.name === 'string' ? (obj(task.metadata)!.name as string) : '',
      decision: d.decision,
      depth: d.depth,
      provisionerId: typeof task.provisionerId === 'string' ? task.provisionerId : '',
      workerType: typeof task.workerType === 'string' ? task.workerType : '',
      upstream: [],
      checks: [],
      warnings: [],
      errors: [],
      ok: false,
    };
    s.nodes.set(d.taskId, { link, task, fetched: d.task !== undefined, docOk: false });
  }
  for (const e of found.edges) {
    s.addEdge(e);
    const from = s.nodes.get(e.from);
    if (from && !from.link.upstream.includes(e.to)) from.link.upstream.push(e.to);
  }
  for (const err of found.errors)
    s.fail(err.taskId ? s.nodes.get(err.taskId) : undefined, err.code, err.message, err.details);
  phases.discovery = (performance.now() - t0) / 1000;

  for (const check of CHAIN_CHECKS) {
    const t = performance.now();
    await check.run(s);
    phases[check.name] = (phases[check.name] ?? 0) + (performance.now() - t) / 1000;
  }

  const links = [...s.nodes.values()].map((n) => ({ ...n.link, ok: n.link.errors.length === 0 }));
  const errors = inDiscoveryOrder(s);
  const root = s.nodes.get(taskId);
  return {
    ok: errors.length === 0,
    root: taskId,
    referenceTime: o.at.toISOString(),
    links,
    ...(root?.doc && root.docOk
      ? { rootEvidence: { document: root.doc, ...(root.status ? { status: root.status } : {}) } }
      : {}),
    errors,
    stats: {
      tasks: links.length,
      artifactsChecked: s.artifactsChecked,
      bytesHashed: s.bytesHashed,
      documentsRead: s.documentsRead,
      taskGraphsRead: s.taskGraphsRead,
      documentBytes: s.documentBytes,
      seconds: (performance.now() - t0) / 1000,
      phases,
      warnings: links.reduce((n, l) => n + (l.warnings?.length ?? 0), 0),
    },
  };
}
