import { chainEdges } from '../chain/edges.js';
import { CotError } from '../errors.js';
import type { JsonObject } from '../json/parse.js';
import { DirectoryQueue } from './dir-store.js';
import { downloadArtifact } from './download.js';
import type { DownloadLimits, TaskQueue } from './queue.js';

/** Chain-of-trust files and decision-task files mirrored for every task when they exist. */
const COT_FILES = [
  'public/chain-of-trust.json',
  'public/chain-of-trust.json.sig',
  'public/chainOfTrust.json.asc',
];
const DECISION_FILES = ['public/task-graph.json', 'public/actions.json', 'public/parameters.yml'];

export interface FetchOptions extends DownloadLimits {
  /** how many links up from the task (default 20) */
  depth?: number;
  /** most tasks mirrored (default 1000) */
  maxTasks?: number;
}

export interface FetchedTask {
  taskId: string;
  runId: number;
  depth: number;
  artifacts: string[];
}

export interface FetchResult {
  tasks: FetchedTask[];
  bytes: number;
}

/** The tasks a task depends on for its chain of trust (the same links `cot verify` follows), with the artifacts it consumes from each. */
export function upstreamOf(task: JsonObject, taskId = ''): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const e of chainEdges(taskId, task, { followDependencies: false })) {
    const set = out.get(e.to) ?? new Set<string>();
    for (const p of e.paths) set.add(p.path);
    out.set(e.to, set);
  }
  return out;
}

/**
 * Mirror a task, its chain-of-trust files and the upstream artifacts it consumes, recursively up to the decision
 * task, into a directory store, so a chain can be verified later fully offline. Each task is fetched once; cycles,
 * depth and task count are bounded.
 */
export async function fetchChain(
  source: TaskQueue,
  taskId: string,
  outDir: string,
  o: FetchOptions = {},
): Promise<FetchResult> {
  const out = new DirectoryQueue(outDir);
  const maxDepth = o.depth ?? 20;
  const maxTasks = o.maxTasks ?? 1000;
  const wanted = new Map<string, Set<string>>([[taskId, new Set()]]);
  const depthOf = new Map<string, number>([[taskId, 0]]);
  const order = [taskId];
  const done: FetchedTask[] = [];
  let bytes = 0;
  for (let i = 0; i < order.length; i++) {
    const id = order[i]!;
    if (done.length >= maxTasks)
      throw new CotError('USAGE', `more than ${maxTasks} tasks in the chain of ${taskId}; raise --max-tasks`);
    const depth = depthOf.get(id)!;
    const task = await source.task(id);
    const runId = await source.latestRunId(id);
    await out.putTask(id, task);
    await out.ensureRun(id, runId);
    const listed = new Set((await source.listArtifacts(id, runId)).map((a) => a.name));
    const names = [...new Set([...COT_FILES, ...DECISION_FILES, ...(wanted.get(id) ?? [])])].filter((n) =>
      listed.has(n),
    );
    const missing = [...(wanted.get(id) ?? [])].filter((n) => !listed.has(n));
    for (const name of names) {
      const d = await downloadArtifact(source, id, runId, name, {
        ...o,
        dest: out.artifactPath(id, runId, name),
      });
      bytes += d.size;
    }
    done.push({ taskId: id, runId, depth, artifacts: names });
    if (missing.length > 0) {
      // an upstream artifact the consumer lists is absent: record it (verification will decide if it was optional)
      done[done.length - 1]!.artifacts.push(...missing.map((m) => `(missing) ${m}`));
    }
    if (depth >= maxDepth) continue;
    for (const [up, paths] of upstreamOf(task, id)) {
      const set = wanted.get(up) ?? new Set<string>();
      for (const p of paths) set.add(p);
      wanted.set(up, set);
      if (!depthOf.has(up)) {
        depthOf.set(up, depth + 1);
        order.push(up);
      } else if (order.indexOf(up) < i && paths.size > 0) {
        // already mirrored: fetch the artifacts newly asked for
        const rid = await source.latestRunId(up);
        for (const p of paths) {
          const d = await downloadArtifact(source, up, rid, p, {
            ...o,
            dest: out.artifactPath(up, rid, p),
          }).catch((e: unknown) => {
            if (e instanceof CotError && e.code === 'TRANSPORT_NOT_FOUND') return undefined;
            throw e;
          });
          if (d) bytes += d.size;
        }
      }
    }
  }
  return { tasks: done, bytes };
}
