import { CotError } from '../../errors.js';
import { readStatuses } from '../../transport/batch.js';
import { mapBounded } from '../../util/concurrency.js';
import { chooseRuns } from '../runs.js';
import type { ChainCheck, ChainRun } from '../state.js';

/**
 * Which run of each task is verified, and its artifact listing. Every task's status is read from the queue (in
 * batches when it can, readStatuses), then `chooseRuns` picks, consumers before producers, the run each task's
 * consumers could have used (the consumer's own verified run's start, or the child's creation time for a parent). The reference verifier always takes the latest
 * run (`getLatestArtifact`); cot takes the run a consumer could have used, and reports which run and why.
 */
export const selectRuns: ChainCheck = {
  name: 'runs',
  async run(s: ChainRun): Promise<void> {
    const nodes = [...s.nodes.values()].filter((n) => n.fetched);
    // every status at once: the queue's batch `statuses` when it has one (readStatuses)
    const statuses = await readStatuses(
      s.queue,
      nodes.map((n) => n.link.taskId),
      s.policy.bounds.concurrency,
    );
    for (const n of nodes)
      await s.guard(n, () => {
        const st = statuses.get(n.link.taskId)!;
        if (st instanceof CotError) throw st;
        n.status = st;
      });
    const choices = chooseRuns(
      new Map(nodes.map((n) => [n.link.taskId, { task: n.task, ...(n.status ? { status: n.status } : {}) }])),
      s.edges,
      s.policy.verifyRootTask ? {} : { running: s.root },
    );
    for (const n of nodes) {
      const c = choices.get(n.link.taskId);
      if (!c) continue;
      if (c instanceof CotError) {
        s.fail(n, c.code, c.message);
        continue;
      }
      n.link.runId = c.runId;
      n.link.runReason = `run ${c.runId} (${c.state}): ${c.reason}`;
      n.link.checks.push(`verifies ${n.link.runReason}`);
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
