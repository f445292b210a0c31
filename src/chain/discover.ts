import { CotError, type ErrorCode } from '../errors.js';
import type { JsonObject } from '../json/parse.js';
import { readTasks } from '../transport/batch.js';
import type { TaskQueue } from '../transport/queue.js';
import { chainEdges, type Edge, edgeProblems, isAction } from './edges.js';

/**
 * `message` about `subject` (`task X`): prefixed with the subject unless it already names it. The queue's errors name
 * their task, run or artifact themselves; a caller adding context must not say it twice ("task X: task X not
 * found").
 */
function aboutSubject(subject: string, message: string): string {
  const escaped = subject.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w-])${escaped}($|[^\\w-])`).test(message) ? message : `${subject}: ${message}`;
}

/** One task the walk reached. */
interface DiscoveredTask {
  taskId: string;
  /** the queue's definition; absent when it could not be fetched (see `error`) */
  task?: JsonObject;
  error?: CotError;
  /** links from the root (the root is 0) */
  depth: number;
  /** how the walk reached it first: root, parent, the upstream taskType, input:<name>, dependency */
  role: string;
  /** every kind the chain gives it: decision or action (parents), taskTypes, input names, dependency */
  kinds: string[];
  /** reached as a parent, or the root being an action task */
  decision: boolean;
}

interface DiscoveryError {
  code: ErrorCode;
  taskId?: string;
  message: string;
  /** the queue error's details, when a task could not be fetched */
  details?: Record<string, unknown>;
}

interface DiscoveredChain {
  root: string;
  /** in the order reached (breadth first) */
  tasks: Map<string, DiscoveredTask>;
  edges: Edge[];
  /** bounds, cycles and tasks that could not be fetched */
  errors: DiscoveryError[];
  /** the walk stopped at a bound: tasks beyond it were not followed */
  truncated: boolean;
}

interface DiscoverOptions {
  followDependencies: boolean;
  /** most links from the root (CHAIN_TOO_DEEP beyond) */
  maxDepth: number;
  /** most tasks (CHAIN_TOO_MANY_TASKS beyond) */
  maxTasks: number;
  /** definitions fetched at once (single reads; batch reads take many at once, see readTasks) */
  concurrency: number;
}

/**
 * The one chain walk, for `cot verify` and `cot fetch`: from `root`, breadth first, each task fetched once (each
 * level's definitions together: the queue's batch `tasks` when it has one, see readTasks), follow every edge
 * `chainEdges` gives (parent, inputs, a task-image docker image, upstreamArtifacts, dependencies when asked), bounded
 * in depth and task count, and report cycles; nothing loops. A task that cannot be fetched is kept
 * with its error (its edges unknown). Kinds follow the reference's `guess_task_type`: a parent is an action when its
 * definition is one (`isAction`), else a decision; other kinds come from the edge (input name, upstream taskType).
 *
 * Errors recorded (never thrown): CHAIN_TOO_DEEP, CHAIN_TOO_MANY_TASKS, CHAIN_CYCLE, CHAIN_UPSTREAM_INVALID (what a
 * task asks to follow but names in a way that cannot be followed: `edgeProblems`), and the queue's code for a task
 * that could not be fetched (QUEUE_NOT_FOUND, TRANSPORT_*, JSON_INVALID, FILE_NOT_FOUND for a directory store that
 * does not exist), with the queue error's details.
 */
export async function discoverChain(
  queue: TaskQueue,
  root: string,
  o: DiscoverOptions,
): Promise<DiscoveredChain> {
  const tasks = new Map<string, DiscoveredTask>();
  const edges: Edge[] = [];
  const errors: DiscoveryError[] = [];
  let truncated = false;
  let level: { id: string; role: string }[] = [{ id: root, role: 'root' }];
  for (let depth = 0; level.length > 0; depth++) {
    const fresh: { id: string; role: string }[] = [];
    const seen = new Set<string>();
    for (const l of level) {
      if (tasks.has(l.id)) continue;
      if (!seen.has(l.id)) {
        seen.add(l.id);
        fresh.push(l);
      }
    }
    if (fresh.length === 0) break;
    if (depth > o.maxDepth) {
      truncated = true;
      errors.push({
        code: 'CHAIN_TOO_DEEP',
        message: `the chain of ${root} goes more than ${o.maxDepth} ${o.maxDepth === 1 ? 'task' : 'tasks'} up (${fresh.map((f) => f.id).join(', ')} not followed)`,
      });
      break;
    }
    if (tasks.size + fresh.length > o.maxTasks) {
      truncated = true;
      errors.push({
        code: 'CHAIN_TOO_MANY_TASKS',
        message: `the chain of ${root} has more than ${o.maxTasks} tasks`,
      });
      break;
    }
    // the whole frontier at once: the queue's batch `tasks` when it has one (readTasks)
    const answers = await readTasks(
      queue,
      fresh.map((l) => l.id),
      o.concurrency,
    );
    const fetched = fresh.map((l) => {
      const a = answers.get(l.id)!;
      return a instanceof CotError ? { l, error: a } : { l, task: a };
    });
    const next: { id: string; role: string }[] = [];
    for (const f of fetched) {
      const node: DiscoveredTask = {
        taskId: f.l.id,
        depth,
        role: f.l.role,
        kinds: [],
        decision: false,
      };
      tasks.set(f.l.id, node);
      if (f.error) {
        node.error = f.error;
        errors.push({
          code: f.error.code,
          taskId: f.l.id,
          message: aboutSubject(`task ${f.l.id}`, f.error.message),
          ...(Object.keys(f.error.details).length > 0 ? { details: f.error.details } : {}),
        });
        continue;
      }
      const task = f.task!;
      node.task = task;
      // the root is an action when its definition is one; whether a self-parented task is a decision task depends
      // on the worker type it ran on, which the checks decide
      if (f.l.role === 'root' && isAction(task)) {
        node.kinds.push('action');
        node.decision = true;
      }
      for (const problem of edgeProblems(task))
        errors.push({
          code: 'CHAIN_UPSTREAM_INVALID',
          taskId: f.l.id,
          message: `task ${f.l.id}: ${problem}`,
        });
      for (const e of chainEdges(f.l.id, task, o)) {
        edges.push(e);
        next.push({ id: e.to, role: e.role.startsWith('upstream:') ? e.role.slice(9) : e.role });
      }
    }
    level = next;
  }
  // kinds come from every edge that reaches a task: a parent edge makes a decision or action of its target,
  // decided by the target's own definition
  for (const e of edges) {
    const to = tasks.get(e.to);
    if (!to) continue;
    const kind = e.kind === 'parent' ? (to.task && isAction(to.task) ? 'action' : 'decision') : e.kind;
    if (!to.kinds.includes(kind)) to.kinds.push(kind);
    if (kind === 'decision' || kind === 'action') to.decision = true;
  }
  const cycle = findCycle(root, edges, tasks);
  if (cycle)
    errors.push({
      code: 'CHAIN_CYCLE',
      message: `the chain has a cycle: ${cycle.join(' -> ')}`,
    });
  return { root, tasks, edges, errors, truncated };
}

/** A cycle reachable from `root` (a decision task being its own task group is no edge, so never one). */
function findCycle(
  root: string,
  edges: readonly Edge[],
  tasks: ReadonlyMap<string, DiscoveredTask>,
): string[] | undefined {
  const out = new Map<string, string[]>();
  for (const e of edges) {
    const l = out.get(e.from) ?? [];
    l.push(e.to);
    out.set(e.from, l);
  }
  const color = new Map<string, 1 | 2>();
  // iterative DFS: a deep chain must not exhaust the stack
  const stack: { id: string; i: number }[] = [{ id: root, i: 0 }];
  color.set(root, 1);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const next = (out.get(top.id) ?? [])[top.i++];
    if (next === undefined) {
      color.set(top.id, 2);
      stack.pop();
      continue;
    }
    if (color.get(next) === 1) {
      const ids = stack.map((s) => s.id);
      return [...ids.slice(ids.indexOf(next)), next];
    }
    if (!color.has(next) && tasks.has(next)) {
      color.set(next, 1);
      stack.push({ id: next, i: 0 });
    }
  }
  return undefined;
}
