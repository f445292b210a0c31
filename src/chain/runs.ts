import { CotError } from '../errors.js';
import type { JsonObject } from '../json/parse.js';
import type { RunStatus, TaskStatus } from '../transport/queue.js';
import { pushTo } from '../util/group.js';
import type { Edge } from './edges.js';

/**
 * What a link's consumers tell about which of its runs they could have used:
 * - `consumed`: a task that downloaded this task's artifacts (upstreamArtifacts, a docker image input) and started
 *   at `started` (its own verified run's start): it can only have read a run that had resolved by then;
 * - `created`: a task this (decision or action) task created, at `created`: the creating run is the one that was
 *   running then.
 */
type RunConstraint =
  | { kind: 'consumed'; by: string; started?: string }
  | { kind: 'created'; by: string; created?: string };

export interface RunChoice {
  runId: number;
  state: string;
  /** why this run, in words, for the report */
  reason: string;
}

const time = (s: string | undefined): number | undefined => {
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
};

function latest(runs: readonly RunStatus[], why: string): RunChoice {
  const done = runs.filter((r) => r.state === 'completed');
  const r = done.at(-1) ?? runs.at(-1)!;
  return {
    runId: r.runId,
    state: r.state,
    reason: `${done.length ? 'latest completed run' : 'latest run'} (${why})`,
  };
}

function forConstraint(runs: readonly RunStatus[], c: RunConstraint): RunChoice | undefined {
  if (c.kind === 'consumed') {
    const started = time(c.started);
    if (started === undefined) return undefined;
    const before = runs.filter((r) => {
      const resolved = time(r.resolved);
      return resolved !== undefined && resolved <= started;
    });
    const r = before.at(-1);
    if (!r) return undefined;
    return {
      runId: r.runId,
      state: r.state,
      reason: `the latest run resolved (${r.resolved}) before ${c.by} started (${c.started})`,
    };
  }
  const created = time(c.created);
  if (created === undefined) return undefined;
  const during = runs.filter((r) => {
    const s = time(r.started);
    const e = time(r.resolved) ?? Number.POSITIVE_INFINITY;
    return s !== undefined && s <= created && created <= e;
  });
  const r = during.at(-1);
  if (!r) return undefined;
  return {
    runId: r.runId,
    state: r.state,
    reason: `the run that was running when it created ${c.by} (${c.created})`,
  };
}

/**
 * Choose the run of a task that the chain depends on: the run its consumers could have consumed (for a producer:
 * the latest run that resolved before the consumer started; for a decision or action task: the run during which it
 * created the child), not simply the latest run, which may be a rerun made after the consumer ran. When the queue
 * gives no run times (a directory store without status.json), or no consumer constrains the choice (the task being
 * verified), the latest completed run is used, else the latest run. Pure: every time comes from the queue's status.
 *
 * Throws QUEUE_NOT_FOUND when the task has no run at all, and CHAIN_RUN_AMBIGUOUS when two consumers could only
 * have used different runs (one run is verified per task, so the other consumer's input would go unchecked).
 */
export function selectRun(status: TaskStatus, constraints: readonly RunConstraint[]): RunChoice {
  const runs = [...status.runs].sort((a, b) => a.runId - b.runId);
  if (runs.length === 0) throw new CotError('QUEUE_NOT_FOUND', `task ${status.taskId} has no runs`);
  if (runs.length === 1) {
    const r = runs[0]!;
    return { runId: r.runId, state: r.state, reason: 'its only run' };
  }
  const choices = constraints
    .map((c) => ({ c, choice: forConstraint(runs, c) }))
    .filter((x): x is { c: RunConstraint; choice: RunChoice } => x.choice !== undefined);
  if (choices.length === 0) {
    return latest(
      runs,
      constraints.length === 0
        ? 'no consumer in the chain constrains it'
        : 'the queue gives no run times that decide it',
    );
  }
  const first = choices[0]!.choice;
  const others = choices.filter((x) => x.choice.runId !== first.runId);
  if (others.length > 0) {
    // two consumers could only have used different runs: verifying one would leave the other's input unverified
    const who = choices.map((x) => `${x.c.by}: run ${x.choice.runId}`).join(', ');
    throw new CotError(
      'CHAIN_RUN_AMBIGUOUS',
      `task ${status.taskId}: its consumers could only have used different runs (${who}); cot verifies one run per task`,
      { details: { runs: choices.map((x) => ({ consumer: x.c.by, runId: x.choice.runId })) } },
    );
  }
  return first;
}

/** What `chooseRuns` needs of each task: its definition and its status, when they could be read. */
interface RunInputs {
  task?: JsonObject;
  status?: TaskStatus;
}

/**
 * Choose the run of every task of a chain: consumers before producers (a task is placed once every task that
 * reaches it over an edge has been; in a cycle, in walk order), each by `selectRun` with the constraints its
 * consumers give: a parent edge gives the child's creation time, any other edge the consumer's chosen run's start.
 * Tasks without a status get no choice. `running` names a task verified while it runs (the root when the policy
 * waives its document): its newest run is the one, whatever its state. Returns the choice, or the CotError
 * `selectRun` threw, per task id.
 */
export function chooseRuns(
  tasks: ReadonlyMap<string, RunInputs>,
  edges: readonly Edge[],
  o: { running?: string } = {},
): Map<string, RunChoice | CotError> {
  const ids = [...tasks.keys()];
  const pending = new Map<string, number>(ids.map((id) => [id, 0]));
  const from = new Map<string, Edge[]>();
  const to = new Map<string, Edge[]>();
  for (const e of edges) {
    if (!pending.has(e.to) || !pending.has(e.from)) continue;
    pending.set(e.to, pending.get(e.to)! + 1);
    pushTo(from, e.from, e);
    pushTo(to, e.to, e);
  }
  // linear in tasks and edges: a queue read by index, and a cursor over the walk order for cycles
  const ready = ids.filter((id) => pending.get(id) === 0);
  let next = 0;
  let unplaced = 0;
  const placed = new Set<string>();
  const out = new Map<string, RunChoice | CotError>();
  while (placed.size < ids.length) {
    let id: string;
    if (next < ready.length) id = ready[next++]!;
    else {
      while (placed.has(ids[unplaced]!)) unplaced++;
      id = ids[unplaced]!;
    }
    if (placed.has(id)) continue;
    placed.add(id);
    for (const e of from.get(id) ?? []) {
      const left = pending.get(e.to)! - 1;
      pending.set(e.to, left);
      if (left === 0) ready.push(e.to);
    }
    const status = tasks.get(id)?.status;
    if (!status) continue;
    const constraints: RunConstraint[] = [];
    for (const e of to.get(id) ?? []) {
      const c = tasks.get(e.from);
      if (!c?.task) continue;
      if (e.role === 'parent') {
        const created = c.task.created;
        constraints.push({
          kind: 'created',
          by: e.from,
          ...(typeof created === 'string' ? { created } : {}),
        });
      } else {
        const mine = out.get(e.from);
        const started =
          mine && !(mine instanceof CotError)
            ? c.status?.runs.find((r) => r.runId === mine.runId)?.started
            : undefined;
        constraints.push({ kind: 'consumed', by: e.from, ...(started ? { started } : {}) });
      }
    }
    if (id === o.running && status.runs.length > 0) {
      // the task is being verified while it runs: its run is the newest one, whatever its state
      const r = [...status.runs].sort((a, b) => a.runId - b.runId).at(-1)!;
      out.set(id, {
        runId: r.runId,
        state: r.state,
        reason: 'the latest run: the task is verified while it runs',
      });
      continue;
    }
    try {
      out.set(id, selectRun(status, constraints));
    } catch (e) {
      if (!(e instanceof CotError)) throw e;
      out.set(id, e);
    }
  }
  return out;
}
