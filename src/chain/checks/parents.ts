import { TASK_GRAPH_NAME as TASK_GRAPH } from '../../document/names.js';
import { CotError } from '../../errors.js';
import { isTrustFailure } from '../../failures.js';
import { assertDigests, digestBytes } from '../../hashing/digest.js';
import { type JsonObject, parseJsonBytes } from '../../json/parse.js';
import { STORED_STORAGE_TYPES } from '../../transport/queue.js';
import { obj, parentOf } from '../edges.js';
import { workerTypeIn } from '../policy.js';
import type { ChainCheck, ChainRun, LinkState } from '../state.js';
import { compareTaskWithGraphEntry, describeDifferences, type GraphParent } from '../task-graph.js';
import { readArtifact } from './documents.js';

function onDecisionWorkerType(s: ChainRun, n: LinkState): boolean {
  return workerTypeIn(s.policy.decisionWorkerTypes, n.link.provisionerId, n.link.workerType);
}

function markDecision(n: LinkState, kind: 'decision' | 'action'): void {
  n.link.decision = true;
  if (!n.link.kinds.includes(kind)) n.link.kinds.unshift(kind);
}

/**
 * Decision and action tasks (scriptworker `verify_parent_task`, first step): a task that names itself as its parent
 * is a decision task only when it runs on a decision worker type, and is refused otherwise (CHAIN_PARENT_INVALID:
 * a self-parented task would escape every task-graph check); every decision or action task must run on a decision
 * worker type (CHAIN_DECISION_WORKER_TYPE), whether or not the policy waived its document.
 */
export const checkDecisionTasks: ChainCheck = {
  name: 'decision tasks',
  async run(s: ChainRun): Promise<void> {
    for (const n of s.nodes.values()) {
      if (!n.fetched) continue;
      const parent = parentOf(n.link.taskId, n.task);
      if (parent.self && !n.link.decision) {
        if (onDecisionWorkerType(s, n)) markDecision(n, 'decision');
        else {
          s.fail(
            n,
            'CHAIN_PARENT_INVALID',
            `task ${n.link.taskId} names itself as its parent (${obj(n.task.extra)?.parent !== undefined ? 'extra.parent' : 'taskGroupId'}) but runs on ${n.link.provisionerId}/${n.link.workerType}, not a decision worker type: only a decision task may be its own parent`,
          );
          continue;
        }
      }
      if (!n.link.decision) continue;
      if (onDecisionWorkerType(s, n)) n.link.checks.push('decision worker type allowed');
      else
        s.fail(
          n,
          'CHAIN_DECISION_WORKER_TYPE',
          `task ${n.link.taskId} is a ${n.link.kinds.includes('action') ? 'action' : 'decision'} task but runs on ${n.link.provisionerId}/${n.link.workerType}, not a decision worker type`,
        );
    }
  },
};

/** Load a parent's task-graph.json: listed in its signed document, stored, hashing to the listed value. */
async function loadGraph(s: ChainRun, p: LinkState): Promise<JsonObject | null> {
  if (p.graph !== undefined) return p.graph;
  p.graph = null;
  await s.guard(p, async () => {
    const id = p.link.taskId;
    const entry =
      p.doc && Object.hasOwn(p.doc.artifacts, TASK_GRAPH) ? p.doc.artifacts[TASK_GRAPH] : undefined;
    if (!entry)
      throw new CotError(
        'ARTIFACT_NOT_LISTED',
        `task ${id}: ${TASK_GRAPH} is not listed in its signed document`,
      );
    const info = p.listing?.get(TASK_GRAPH);
    if (!info || !STORED_STORAGE_TYPES.has(info.storageType))
      throw new CotError(
        'ARTIFACT_MISSING',
        `task ${id} run ${p.link.runId}: ${TASK_GRAPH} is ${info ? `a ${info.storageType} artifact` : 'absent'} in the queue`,
      );
    const algs = s.policy.hashAlgorithms.filter((a) => entry[a]);
    if (algs.length === 0)
      throw new CotError(
        'HASH_UNSUPPORTED_ALGORITHM',
        `task ${id}: ${TASK_GRAPH} lists only ${Object.keys(entry).join(', ')}`,
      );
    const bytes = await readArtifact(s.queue, id, p.link.runId!, TASK_GRAPH, s.policy.bounds);
    s.taskGraphsRead++;
    s.documentBytes += bytes.length;
    assertDigests(
      `task ${id}: ${TASK_GRAPH}`,
      TASK_GRAPH,
      Object.fromEntries(algs.map((a) => [a, entry[a]])),
      Object.fromEntries(algs.map((a) => [a, digestBytes(bytes, a)])),
    );
    const graph = obj(parseJsonBytes(bytes, { source: `${TASK_GRAPH} of ${id}` }));
    if (!graph) throw new CotError('JSON_INVALID', `task ${id}: ${TASK_GRAPH} is not a JSON object`);
    p.graph = graph;
    p.link.checks.push(`${TASK_GRAPH} matches its signed hash`);
  });
  return p.graph;
}

/** The task groups a child of `p` may be in: the decision task itself, or the action's ACTION_TASK_GROUP_ID. */
function graphParent(p: LinkState): GraphParent {
  const groups: string[] = [];
  if (p.link.kinds.includes('action')) {
    const g = obj(obj(p.task.payload)?.env)?.ACTION_TASK_GROUP_ID;
    if (typeof g === 'string') groups.push(g);
    else {
      if (typeof p.task.taskGroupId === 'string') groups.push(p.task.taskGroupId);
      groups.push(p.link.taskId);
    }
  } else groups.push(p.link.taskId);
  return {
    taskId: p.link.taskId,
    taskGroupIds: groups,
    ...(typeof p.task.schedulerId === 'string' ? { schedulerId: p.task.schedulerId } : {}),
  };
}

/**
 * Every link that is not itself a decision or action task must trace to one (scriptworker `verify_parent_task` and
 * `verify_link_in_task_graph`, made a rule for every link): its parent (`extra.parent`, else `taskGroupId`) must be
 * a verified decision or action task whose signed task-graph.json lists it (CHAIN_NOT_IN_TASK_GRAPH) with the same
 * definition by TASK_GRAPH_FIELD_RULES (CHAIN_TASK_GRAPH_MISMATCH). A missing or malformed parent is
 * CHAIN_PARENT_INVALID. Decision tasks are absent from task graphs, and action tasks are made later, so neither is
 * looked up (the reference's exception).
 */
export const checkTaskGraphs: ChainCheck = {
  name: 'task graphs',
  async run(s: ChainRun): Promise<void> {
    for (const n of s.nodes.values()) {
      if (!n.fetched || n.link.decision) continue;
      const parent = parentOf(n.link.taskId, n.task);
      if (parent.self) continue; // refused by checkDecisionTasks
      if (!parent.id) {
        s.fail(
          n,
          'CHAIN_PARENT_INVALID',
          `task ${n.link.taskId}: ${parent.problem}: it traces to no decision task`,
        );
        continue;
      }
      const p = s.nodes.get(parent.id);
      if (!p) continue; // not reached: the walk was cut short (reported)
      if (!p.docOk || !p.link.decision) {
        // the parent's own failure is reported on the parent; say here why this link is not traced
        if (p.link.errors.length === 0)
          s.fail(
            n,
            'CHAIN_PARENT_INVALID',
            `task ${n.link.taskId}: its parent ${p.link.taskId} has no verified chain-of-trust document, so no task graph lists this task`,
          );
        continue;
      }
      const graph = await loadGraph(s, p);
      if (!graph) continue;
      const entry = obj(obj(graph[n.link.taskId])?.task);
      if (!entry) {
        s.fail(
          n,
          'CHAIN_NOT_IN_TASK_GRAPH',
          `task ${n.link.taskId} is not in the ${TASK_GRAPH} of its ${p.link.kinds.includes('action') ? 'action' : 'decision'} task ${p.link.taskId}`,
        );
        continue;
      }
      const c = compareTaskWithGraphEntry(n.task, entry, graphParent(p));
      if (c.problems.length > 0 || c.differences.length > 0)
        s.fail(
          n,
          'CHAIN_TASK_GRAPH_MISMATCH',
          `task ${n.link.taskId} differs from its ${TASK_GRAPH} entry in ${p.link.taskId} (graph entry vs runtime task): ${[
            ...c.problems,
            ...describeDifferences(c.differences, c.truncated),
          ].join('; ')}`,
          {
            differences: c.differences,
            ...(c.problems.length > 0 ? { problems: c.problems } : {}),
            ...(c.truncated ? { truncated: true } : {}),
          },
        );
      else n.link.checks.push(`in the task graph of ${p.link.taskId}, with the same definition`);
    }
  },
};

/**
 * A chain verifies only when it reaches a verified decision task on a decision worker type (scriptworker
 * `check_num_tasks`: at least one decision task). CHAIN_NO_DECISION otherwise, unless a failure that is not a trust
 * failure (exit other than 1: a task that does not exist, a network error) kept the chain from being checked to its
 * end: the chain is then already not verified, for that reason.
 */
export const checkDecisionReached: ChainCheck = {
  name: 'decision reached',
  async run(s: ChainRun): Promise<void> {
    const ok = [...s.nodes.values()].some(
      (n) =>
        n.link.kinds.includes('decision') &&
        n.docOk &&
        onDecisionWorkerType(s, n) &&
        !n.link.errors.some((e) => e.code === 'CHAIN_PARENT_INVALID'),
    );
    if (ok) return;
    // a chain that could not be walked or checked to its end (a task that does not exist, a network error, a bad
    // option) is unverifiable, not untrustworthy: that failure is the verdict, not a missing decision task
    if (s.errors.some((e) => !isTrustFailure(e.code))) return;
    s.fail(
      undefined,
      'CHAIN_NO_DECISION',
      `the chain of ${s.root} reaches no verified decision task: nothing traces it to a task graph`,
    );
  },
};
