import { mapBounded } from '../../hashing/digest.js';
import { type RunConstraint, selectRun } from '../runs.js';
import type { ChainCheck, ChainRun, LinkState } from '../state.js';

/**
 * Which run of each task is verified (issue: "which run is verified"), and its artifact listing. Every task's status
 * is read from the queue; then, consumers before producers, each task's run is chosen by `selectRun` from what its
 * consumers in the chain tell (the consumer's own verified run's start, or the child's creation time for a parent).
 * The reference verifier always takes the latest run (`getLatestArtifact`); cot takes the run a consumer could
 * have used, and reports which run and why.
 */
export const selectRuns: ChainCheck = {
  name: 'runs',
  async run(s: ChainRun): Promise<void> {
    const nodes = [...s.nodes.values()].filter((n) => n.fetched);
    await mapBounded(nodes, s.policy.bounds.concurrency, (n) =>
      s.guard(n, async () => {
        n.status = await s.queue.status(n.link.taskId);
      }),
    );
    // consumers first: a task is placed once every task that reaches it has been placed (cycles: any order)
    const pending = new Map<string, number>();
    for (const n of nodes) pending.set(n.link.taskId, 0);
    for (const e of s.edges)
      if (pending.has(e.to) && pending.has(e.from)) pending.set(e.to, pending.get(e.to)! + 1);
    const ready = nodes.filter((n) => pending.get(n.link.taskId) === 0);
    const order: LinkState[] = [];
    const placed = new Set<string>();
    while (order.length < nodes.length) {
      const n = ready.shift() ?? nodes.find((x) => !placed.has(x.link.taskId))!;
      if (placed.has(n.link.taskId)) continue;
      placed.add(n.link.taskId);
      order.push(n);
      for (const e of s.edgesFrom(n.link.taskId)) {
        if (!pending.has(e.to)) continue;
        const left = pending.get(e.to)! - 1;
        pending.set(e.to, left);
        if (left === 0) ready.push(s.nodes.get(e.to)!);
      }
    }
    for (const n of order) {
      if (!n.status) continue;
      const constraints: RunConstraint[] = [];
      for (const e of s.edgesTo(n.link.taskId)) {
        const c = s.nodes.get(e.from);
        if (!c?.fetched) continue;
        if (e.role === 'parent')
          constraints.push({
            kind: 'created',
            by: e.from,
            ...(typeof c.task.created === 'string' ? { created: c.task.created } : {}),
          });
        else {
          const started = c.status?.runs.find((r) => r.runId === c.link.runId)?.started;
          constraints.push({ kind: 'consumed', by: e.from, ...(started ? { started } : {}) });
        }
      }
      await s.guard(n, () => {
        const choice = selectRun(n.status!, constraints);
        n.link.runId = choice.runId;
        n.link.runReason = `run ${choice.runId} (${choice.state}): ${choice.reason}`;
        n.link.checks.push(`verifies ${n.link.runReason}`);
      });
    }
    await mapBounded(
      nodes.filter((n) => n.link.runId !== undefined),
      s.policy.bounds.concurrency,
      (n) =>
        s.guard(n, async () => {
          const list = await s.queue.listArtifacts(n.link.taskId, n.link.runId!);
          n.listing = new Map(list.map((a) => [a.name, a]));
        }),
    );
  },
};
