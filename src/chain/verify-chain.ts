import { performance } from 'node:perf_hooks';
import type { TaskQueue } from '../transport/queue.js';
import { checkConsumedArtifacts } from './checks/consumed-artifacts.js';
import { checkDockerImages, checkInteractive } from './checks/docker-images.js';
import { verifyDocuments } from './checks/documents.js';
import { checkDecisionReached, checkDecisionTasks, checkTaskGraphs } from './checks/parents.js';
import { selectRuns } from './checks/runs.js';
import { discoverChain } from './discover.js';
import { obj } from './edges.js';
import {
  type ChainCheck,
  type ChainLink,
  type ChainReport,
  ChainRun,
  type VerifyChainOptions,
} from './state.js';

export type { ChainError, ChainLink, ChainReport, LinkImage, VerifyChainOptions } from './state.js';
export { diffPaths } from './task-graph.js';

/**
 * The checks, in order. Each reads the run state left by those before it and records its own checks and failures
 * on the links; adding a check is adding a module and a line here.
 */
export const CHAIN_CHECKS: readonly ChainCheck[] = [
  selectRuns,
  verifyDocuments,
  checkDecisionTasks,
  checkTaskGraphs,
  checkConsumedArtifacts,
  checkDockerImages,
  checkInteractive,
  checkDecisionReached,
];

/**
 * Verify a chain: from `taskId`, discover every task it relies on (`discoverChain`: parent decision/action task,
 * upstream artifacts, inputs such as docker images, optionally dependencies), recursively, each once, bounded by the
 * policy; then run CHAIN_CHECKS over them: which run of each task (`selectRuns`), every link's signed document
 * (`verifyDocuments`), decision and action tasks (`checkDecisionTasks`), every link traced to a verified decision or
 * action task whose task graph lists it (`checkTaskGraphs`), every consumed artifact (`checkConsumedArtifacts`),
 * docker images (`checkDockerImages`), interactive tasks (`checkInteractive`) and that a verified decision task is
 * reached (`checkDecisionReached`). Every failure is collected with its code; nothing throws for a bad link.
 */
export async function verifyChain(
  queue: TaskQueue,
  taskId: string,
  o: VerifyChainOptions,
): Promise<ChainReport> {
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
    s.fail(err.taskId ? s.nodes.get(err.taskId) : undefined, err.code, err.message);
  phases.discovery = (performance.now() - t0) / 1000;

  for (const check of CHAIN_CHECKS) {
    const t = performance.now();
    await check.run(s);
    phases[check.name] = (phases[check.name] ?? 0) + (performance.now() - t) / 1000;
  }

  const links = [...s.nodes.values()].map((n) => ({ ...n.link, ok: n.link.errors.length === 0 }));
  return {
    ok: s.errors.length === 0,
    root: taskId,
    referenceTime: o.at.toISOString(),
    links,
    errors: s.errors,
    stats: {
      tasks: links.length,
      artifactsChecked: s.artifactsChecked,
      bytesHashed: s.bytesHashed,
      documentsRead: s.documentsRead,
      taskGraphsRead: s.taskGraphsRead,
      documentBytes: s.documentBytes,
      seconds: (performance.now() - t0) / 1000,
      phases,
    },
  };
}
