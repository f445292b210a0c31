import { performance } from 'node:perf_hooks';
import type { Signer } from '../cot/signature.js';
import { verifyLink } from '../cot/verify.js';
import type { CotDocument } from '../document/document.js';
import { CotError, type ErrorCode, IntegrityError } from '../errors.js';
import { digestBytes, mapBounded } from '../hashing/digest.js';
import { canonicalize } from '../json/canonical.js';
import { type JsonObject, type JsonValue, parseJsonBytes } from '../json/parse.js';
import { downloadArtifact } from '../transport/download.js';
import type { TaskQueue } from '../transport/queue.js';
import type { TrustStore } from '../trust/store.js';
import { chainEdges, type Edge, obj } from './edges.js';
import { implementationFor, type Policy, workerTypeIn } from './policy.js';

export interface ChainError {
  code: ErrorCode;
  taskId?: string;
  message: string;
}

export interface ChainLink {
  taskId: string;
  /** how the chain reached it: root, parent (decision/action), upstream (build, signing...), input:<name>, dependency */
  role: string;
  /** the task's metadata.name */
  name: string;
  /** decision/action task (a parent of another link, or its own task group) */
  decision: boolean;
  depth: number;
  provisionerId: string;
  workerType: string;
  implementation?: string;
  runId?: number;
  signatureKind?: string;
  signer?: string;
  certifiedBy?: string;
  /** task ids this link depends on for its chain of trust */
  upstream: string[];
  checks: string[];
  errors: ChainError[];
  ok: boolean;
}

export interface ChainReport {
  ok: boolean;
  root: string;
  referenceTime: string;
  links: ChainLink[];
  errors: ChainError[];
  stats: {
    tasks: number;
    artifactsChecked: number;
    bytesHashed: number;
    seconds: number;
    phases: Record<string, number>;
  };
}

export interface VerifyChainOptions {
  policy: Policy;
  trust: TrustStore;
  /** reference time of the run */
  at: Date;
  /** progress callback (links verified, bytes hashed) */
  onProgress?: (p: { linksVerified: number; links: number; bytesHashed: number }) => void;
}

interface Node {
  link: ChainLink;
  task: JsonObject;
  doc?: CotDocument;
  docOk?: boolean;
}

const IGNORED_GRAPH_KEYS = new Set(['created', 'deadline', 'expires', 'dependencies', 'schedulerId']);
const MAX_DOC_BYTES = 64 * 1024 * 1024;

function describeSignerShort(s: Signer): string {
  if (s.kind === 'ed25519') return `ed25519 ${s.publicKey}`;
  return `openpgp ${s.fingerprint}${s.userIds[0] ? ` (${s.userIds[0]})` : ''}`;
}

/** Paths at which two JSON values differ (for a readable diff). */
export function diffPaths(
  a: JsonValue | undefined,
  b: JsonValue | undefined,
  path = '',
  out: string[] = [],
  limit = 20,
): string[] {
  if (out.length >= limit) return out;
  const ao = obj(a);
  const bo = obj(b);
  if (ao && bo) {
    for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)]))
      diffPaths(ao[k], bo[k], path ? `${path}.${k}` : k, out, limit);
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    for (let i = 0; i < a.length; i++) diffPaths(a[i], b[i], `${path}[${i}]`, out, limit);
    return out;
  }
  if (canonicalize(a ?? null) !== canonicalize(b ?? null) || (a === undefined) !== (b === undefined)) {
    out.push(
      `${path || '(root)'}: ${a === undefined ? 'absent' : JSON.stringify(a).slice(0, 80)} vs ${b === undefined ? 'absent' : JSON.stringify(b).slice(0, 80)}`,
    );
  }
  return out;
}

async function readAll(
  queue: TaskQueue,
  taskId: string,
  runId: number,
  name: string,
  o: Policy['bounds'],
): Promise<Buffer> {
  const opened = await queue.openArtifact(taskId, runId, name, {
    maxBytes: Math.min(o.maxBytes, MAX_DOC_BYTES),
    timeoutMs: o.timeoutMs,
    deadlineMs: o.deadlineMs,
    minBytesPerSecond: o.minBytesPerSecond,
  });
  const chunks: Buffer[] = [];
  for await (const c of opened.stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/**
 * Verify a chain: from `taskId`, discover every task it relies on (parent decision/action task, upstream artifacts,
 * inputs such as docker images, optionally dependencies), recursively, each once, bounded by the policy; verify every
 * link's chain-of-trust document with the keys of its worker implementation (from the policy's mapping, never
 * guessed), check that the signed task is the queue's, that every consumed artifact is listed and hashes to the
 * listed value, that decision tasks ran on allowed worker types and list every task in task-graph.json, and that
 * docker images are the ones the image tasks produced. Every failure is collected and reported; nothing throws for a
 * bad link.
 */
export async function verifyChain(
  queue: TaskQueue,
  taskId: string,
  o: VerifyChainOptions,
): Promise<ChainReport> {
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  const { policy } = o;
  const nodes = new Map<string, Node>();
  const edges: Edge[] = [];
  const errors: ChainError[] = [];
  const fail = (node: Node | undefined, code: ErrorCode, message: string) => {
    const e: ChainError = { code, ...(node ? { taskId: node.link.taskId } : {}), message };
    if (node) node.link.errors.push(e);
    errors.push(e);
  };

  // ---- 1. discovery (breadth first, each task once, bounded)
  let level: { id: string; role: string }[] = [{ id: taskId, role: 'root' }];
  for (let depth = 0; level.length > 0; depth++) {
    const fresh = level.filter((l, i) => !nodes.has(l.id) && level.findIndex((x) => x.id === l.id) === i);
    if (depth > policy.bounds.maxDepth && fresh.length > 0) {
      errors.push({
        code: 'CHAIN_TOO_DEEP',
        message: `the chain of ${taskId} is deeper than ${policy.bounds.maxDepth} links (${fresh.map((f) => f.id).join(', ')} not followed)`,
      });
      break;
    }
    if (nodes.size + fresh.length > policy.bounds.maxTasks) {
      errors.push({
        code: 'CHAIN_TOO_MANY_TASKS',
        message: `the chain of ${taskId} has more than ${policy.bounds.maxTasks} tasks`,
      });
      break;
    }
    const fetched = await mapBounded(fresh, policy.bounds.concurrency, async (l) => {
      try {
        return { l, task: await queue.task(l.id) };
      } catch (e) {
        return { l, error: e instanceof CotError ? e : new CotError('INTERNAL', String(e)) };
      }
    });
    const next: { id: string; role: string }[] = [];
    for (const f of fetched) {
      const task = 'task' in f ? f.task! : {};
      const link: ChainLink = {
        taskId: f.l.id,
        role: f.l.role,
        name: typeof obj(task.metadata)?.name === 'string' ? (obj(task.metadata)!.name as string) : '',
        decision: f.l.role === 'parent' || task.taskGroupId === f.l.id,
        depth,
        provisionerId: typeof task.provisionerId === 'string' ? task.provisionerId : '',
        workerType: typeof task.workerType === 'string' ? task.workerType : '',
        upstream: [],
        checks: [],
        errors: [],
        ok: false,
      };
      const node: Node = { link, task };
      nodes.set(f.l.id, node);
      if ('error' in f && f.error) {
        fail(node, f.error.code, `task ${f.l.id}: ${f.error.message}`);
        continue;
      }
      for (const e of chainEdges(f.l.id, task, policy)) {
        edges.push(e);
        link.upstream.push(e.to);
        next.push({ id: e.to, role: e.role.startsWith('upstream:') ? e.role.slice(9) : e.role });
      }
      link.upstream = [...new Set(link.upstream)];
    }
    level = next;
  }
  for (const e of edges) {
    const to = nodes.get(e.to);
    if (to && e.role === 'parent') to.link.decision = true;
  }
  // cycles (a decision task being its own group is not a cycle: such self-edges are never added)
  const color = new Map<string, number>();
  const visit = (id: string, stack: string[]): string[] | undefined => {
    color.set(id, 1);
    for (const e of edges.filter((x) => x.from === id)) {
      if (color.get(e.to) === 1) return [...stack, id, e.to];
      if (!color.has(e.to) && nodes.has(e.to)) {
        const c = visit(e.to, [...stack, id]);
        if (c) return c;
      }
    }
    color.set(id, 2);
    return undefined;
  };
  const cycle = visit(taskId, []);
  if (cycle)
    errors.push({
      code: 'CHAIN_CYCLE',
      message: `the chain has a cycle: ${cycle.slice(cycle.indexOf(cycle[cycle.length - 1]!)).join(' -> ')}`,
    });
  phases.discovery = (performance.now() - t0) / 1000;

  // ---- 2. every link's signed document
  const t1 = performance.now();
  let verified = 0;
  let bytesHashed = 0;
  const progress = () => o.onProgress?.({ linksVerified: verified, links: nodes.size, bytesHashed });
  await mapBounded(
    [...nodes.values()].filter((n) => n.link.errors.length === 0),
    policy.bounds.concurrency,
    async (node) => {
      const { link, task } = node;
      try {
        if (link.role === 'root' && !policy.verifyRootTask) {
          link.checks.push('root task: chain-of-trust document not required by the policy');
          return;
        }
        const impl = implementationFor(policy, link.provisionerId, link.workerType);
        if (!impl) {
          fail(
            node,
            'CHAIN_UNKNOWN_WORKER_TYPE',
            `task ${link.taskId}: no worker implementation for ${link.provisionerId}/${link.workerType} in the policy`,
          );
          return;
        }
        link.implementation = impl;
        if (link.decision) {
          if (!workerTypeIn(policy.decisionWorkerTypes, link.provisionerId, link.workerType)) {
            fail(
              node,
              'CHAIN_DECISION_WORKER_TYPE',
              `task ${link.taskId} is a decision/action task but runs on ${link.provisionerId}/${link.workerType}, not a decision worker type`,
            );
          } else link.checks.push('decision worker type allowed');
        }
        const runId = await queue.latestRunId(link.taskId);
        link.runId = runId;
        const names = new Set((await queue.listArtifacts(link.taskId, runId)).map((a) => a.name));
        const hasEd = names.has('public/chain-of-trust.json') && names.has('public/chain-of-trust.json.sig');
        const hasPgp = names.has('public/chainOfTrust.json.asc');
        const useEd = policy.signatureFormat === 'ed25519' || (policy.signatureFormat === 'either' && hasEd);
        if ((useEd && !hasEd) || (!useEd && !hasPgp)) {
          fail(
            node,
            'CHAIN_COT_MISSING',
            `task ${link.taskId} run ${runId} has no ${useEd || policy.signatureFormat === 'either' ? 'public/chain-of-trust.json + .sig' : 'public/chainOfTrust.json.asc'}${policy.signatureFormat === 'either' ? ' nor public/chainOfTrust.json.asc' : ''}`,
          );
          return;
        }
        const data = await readAll(
          queue,
          link.taskId,
          runId,
          useEd ? 'public/chain-of-trust.json' : 'public/chainOfTrust.json.asc',
          policy.bounds,
        );
        const signature = useEd
          ? await readAll(queue, link.taskId, runId, 'public/chain-of-trust.json.sig', policy.bounds)
          : undefined;
        const v = await verifyLink({
          data,
          ...(signature ? { signature } : {}),
          trust: { store: o.trust, implementation: impl },
          at: o.at,
          expected: { taskId: link.taskId, runId },
          hashAlgorithms: policy.hashAlgorithms,
          source: `task ${link.taskId} run ${runId}`,
        });
        node.doc = v.document;
        link.signatureKind = v.signatureKind;
        link.signer = v.signers.map(describeSignerShort).join(', ');
        const cert = v.signers.find((s) => s.kind === 'openpgp' && s.certifiedBy);
        if (cert?.kind === 'openpgp' && cert.certifiedBy)
          link.certifiedBy = `${cert.certifiedBy.fingerprint}${cert.certifiedBy.userIds[0] ? ` (${cert.certifiedBy.userIds[0]})` : ''}`;
        link.checks.push(
          `signature (${v.signatureKind}) by an allowed ${impl} key`,
          'taskId and runId match',
        );
        if (canonicalize(v.document.task) !== canonicalize(task)) {
          fail(
            node,
            'CHAIN_TASK_MISMATCH',
            `task ${link.taskId}: the signed task differs from the queue's: ${diffPaths(v.document.task, task).join('; ')}`,
          );
        } else {
          link.checks.push("signed task definition equals the queue's");
          node.docOk = true;
        }
      } catch (e) {
        if (!(e instanceof CotError)) throw e;
        fail(node, e.code, e.message);
      } finally {
        verified++;
        progress();
      }
    },
  );
  phases.documents = (performance.now() - t1) / 1000;

  // ---- 3. consumed artifacts, decision task graphs, docker images
  const t2 = performance.now();
  let artifactsChecked = 0;
  const graphs = new Map<string, JsonObject | null>();
  const loadGraph = async (decision: Node): Promise<JsonObject | null> => {
    if (graphs.has(decision.link.taskId)) return graphs.get(decision.link.taskId)!;
    let graph: JsonObject | null = null;
    try {
      const entry = decision.doc?.artifacts['public/task-graph.json'];
      if (!entry)
        throw new CotError(
          'ARTIFACT_NOT_LISTED',
          `decision task ${decision.link.taskId}: public/task-graph.json is not listed in its signed document`,
        );
      const bytes = await readAll(
        queue,
        decision.link.taskId,
        decision.link.runId!,
        'public/task-graph.json',
        policy.bounds,
      );
      bytesHashed += bytes.length;
      for (const alg of policy.hashAlgorithms.filter((a) => entry[a])) {
        const found = digestBytes(bytes, alg);
        if (found !== entry[alg]) {
          throw new IntegrityError(
            `decision task ${decision.link.taskId}: public/task-graph.json: ${alg} is ${found}, the signed document lists ${entry[alg]}`,
            'public/task-graph.json',
            alg,
            entry[alg]!,
            found,
          );
        }
      }
      const parsed = parseJsonBytes(bytes, { source: `task-graph.json of ${decision.link.taskId}` });
      graph = obj(parsed) ?? null;
      if (graph) decision.link.checks.push('task-graph.json matches its signed hash');
    } catch (e) {
      if (!(e instanceof CotError)) throw e;
      fail(decision, e.code, e.message);
    }
    graphs.set(decision.link.taskId, graph);
    return graph;
  };
  const consumed = edges.filter((e) => e.paths.length > 0);
  const jobs = consumed.flatMap((e) => e.paths.map((p) => ({ e, p })));
  await mapBounded(jobs, policy.bounds.concurrency, async ({ e, p }) => {
    const consumer = nodes.get(e.from)!;
    const producer = nodes.get(e.to);
    if (!producer?.doc) {
      fail(
        consumer,
        'CHAIN_COT_MISSING',
        `task ${e.from} consumes ${p.path} from ${e.to}, whose chain-of-trust document did not verify`,
      );
      return;
    }
    const entry = Object.hasOwn(producer.doc.artifacts, p.path) ? producer.doc.artifacts[p.path] : undefined;
    if (!entry) {
      if (p.optional) {
        consumer.link.checks.push(`optional ${p.path} from ${e.to}: not produced`);
        return;
      }
      fail(
        consumer,
        'ARTIFACT_NOT_LISTED',
        `task ${e.from} consumes ${p.path} from ${e.to}, which its signed document does not list`,
      );
      return;
    }
    const expected = Object.fromEntries(
      policy.hashAlgorithms.filter((a) => entry[a]).map((a) => [a, entry[a]!]),
    );
    if (Object.keys(expected).length === 0) {
      fail(
        consumer,
        'HASH_UNSUPPORTED_ALGORITHM',
        `${p.path} of ${e.to} lists only ${Object.keys(entry).join(', ')}`,
      );
      return;
    }
    try {
      const d = await downloadArtifact(queue, e.to, producer.link.runId, p.path, {
        expected,
        algorithms: Object.keys(expected) as never,
        maxBytes: policy.bounds.maxBytes,
        timeoutMs: policy.bounds.timeoutMs,
        deadlineMs: policy.bounds.deadlineMs,
        minBytesPerSecond: policy.bounds.minBytesPerSecond,
      });
      bytesHashed += d.size;
      artifactsChecked++;
      consumer.link.checks.push(`${p.path} from ${e.to}: hash matches`);
    } catch (err) {
      if (!(err instanceof CotError)) throw err;
      if (p.optional && err.code === 'TRANSPORT_NOT_FOUND')
        consumer.link.checks.push(`optional ${p.path} from ${e.to}: absent`);
      else fail(consumer, err.code, `task ${e.from} consumes ${p.path} from ${e.to}: ${err.message}`);
    }
    progress();
  });
  // every task must be in its decision task's graph
  for (const node of nodes.values()) {
    const parentEdge = edges.find((e) => e.from === node.link.taskId && e.role === 'parent');
    const parent = parentEdge ? nodes.get(parentEdge.to) : undefined;
    if (!parent?.docOk || node.link.decision) continue;
    const graph = await loadGraph(parent);
    if (!graph) continue;
    const entry = obj(obj(graph[node.link.taskId])?.task);
    if (!entry) {
      fail(
        node,
        'CHAIN_NOT_IN_TASK_GRAPH',
        `task ${node.link.taskId} is not in the task-graph.json of its decision task ${parent.link.taskId}`,
      );
      continue;
    }
    const strip = (t: JsonObject) =>
      Object.fromEntries(Object.entries(t).filter(([k]) => !IGNORED_GRAPH_KEYS.has(k)));
    const a = strip(entry);
    const b = strip(node.task);
    if (canonicalize(a) !== canonicalize(b)) {
      fail(
        node,
        'CHAIN_TASK_GRAPH_MISMATCH',
        `task ${node.link.taskId} differs from its task-graph.json entry in ${parent.link.taskId}: ${diffPaths(a, b).join('; ')}`,
      );
    } else node.link.checks.push(`in the task graph of ${parent.link.taskId}`);
  }
  // docker images built by a docker-image task
  for (const node of nodes.values()) {
    const image = obj(obj(node.task.payload)?.image);
    if (
      image?.type !== 'task-image' ||
      typeof image.taskId !== 'string' ||
      typeof image.path !== 'string' ||
      !node.doc
    )
      continue;
    const imageNode = nodes.get(image.taskId);
    if (!imageNode?.doc) {
      fail(
        node,
        'CHAIN_COT_MISSING',
        `task ${node.link.taskId} runs image ${image.path} of ${image.taskId}, whose chain-of-trust document did not verify`,
      );
      continue;
    }
    if (
      policy.dockerImageWorkerTypes.length > 0 &&
      !workerTypeIn(policy.dockerImageWorkerTypes, imageNode.link.provisionerId, imageNode.link.workerType)
    ) {
      fail(
        imageNode,
        'CHAIN_DECISION_WORKER_TYPE',
        `docker-image task ${image.taskId} runs on ${imageNode.link.workerType}, not an allowed docker-image worker type`,
      );
    }
    const listed = imageNode.doc.artifacts[image.path]?.sha256;
    const claimed = obj(node.doc.environment)?.imageArtifactHash;
    if (!listed || claimed !== `sha256:${listed}`) {
      fail(
        node,
        'CHAIN_IMAGE_HASH_MISMATCH',
        `task ${node.link.taskId}: environment.imageArtifactHash is ${JSON.stringify(claimed)}, the docker-image task ${image.taskId} lists ${listed ? `sha256:${listed}` : 'no such image'} for ${image.path}`,
      );
    } else node.link.checks.push(`docker image ${image.path} of ${image.taskId}: hash matches`);
  }
  phases.artifacts = (performance.now() - t2) / 1000;

  const links = [...nodes.values()].map((n) => ({ ...n.link, ok: n.link.errors.length === 0 }));
  return {
    ok: errors.length === 0,
    root: taskId,
    referenceTime: o.at.toISOString(),
    links,
    errors,
    stats: {
      tasks: links.length,
      artifactsChecked,
      bytesHashed,
      seconds: (performance.now() - t0) / 1000,
      phases,
    },
  };
}
