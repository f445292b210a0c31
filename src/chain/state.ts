import type { CotDocument } from '../document/document.js';
import { CotError, type ErrorCode } from '../errors.js';
import { isTrustFailure } from '../failures.js';
import type { JsonDifference } from '../json/differences.js';
import type { JsonObject } from '../json/parse.js';
import type { ArtifactInfo, TaskQueue, TaskStatus } from '../transport/queue.js';
import type { OnlineTreeOptions } from '../tree/online.js';
import type { TrustStore } from '../trust/store.js';
import type { Edge } from './edges.js';
import type { Policy } from './policy.js';

export interface ChainError {
  code: ErrorCode;
  /** the task the failure is recorded on (absent: the chain as a whole: a bound, a cycle, no decision task) */
  taskId?: string;
  message: string;
  /**
   * Structured detail, when the failure has some: the CotError's `details` (e.g. HASH_MISMATCH: artifact, algorithm,
   * expected, found), and for CHAIN_TASK_MISMATCH / CHAIN_TASK_GRAPH_MISMATCH `differences`, one
   * `{path, expected, actual}` per differing leaf (full values; a side absent from its object is omitted).
   */
  details?: Record<string, unknown>;
  /**
   * For a failure about an artifact one task consumes from another (consumed artifacts, docker images): the task
   * that produced it, whose signed document lists it. The failure is recorded on the consumer; the reports mark the
   * producer too.
   */
  producer?: string;
  /** that artifact's name (or the glob pattern that matched nothing) */
  artifact?: string;
}

/** Which docker image a link ran, and whether the chain proves it. */
export interface LinkImage {
  /** task-image: built by a docker-image task of the chain; indexed-image: from the index; prebuilt: a registry
   * name such as ubuntu:24.04; none: the payload names no image */
  type: 'task-image' | 'indexed-image' | 'prebuilt' | 'none' | 'unknown';
  /** the image reference as the payload gives it */
  name?: string;
  /** true only for a task-image whose hash matches the docker-image task's signed document */
  verified: boolean;
  /** a verified task-image: the docker-image task, the artifact and the digest its signed document lists */
  taskId?: string;
  artifact?: string;
  digest?: Record<string, string>;
}

/** The chain-of-trust file a link was verified by: its artifact name and the sha256 (hex) of its bytes. */
export interface LinkDocument {
  /** `public/chain-of-trust.json` (ed25519, its `.sig` beside it) or `public/chainOfTrust.json.asc` */
  name: string;
  sha256: string;
}

/** An artifact a link consumed whose bytes were checked: the producer, the name, the digests checked (hex). */
export interface LinkConsumed {
  taskId: string;
  artifact: string;
  digest: Record<string, string>;
}

/** What tracing a link back to its tree found (a policy with a `tree` section; checks/tree-*.ts). */
export interface LinkTree {
  /** a decision, cron or action link: its rebuild from `.taskcluster.yml` (rebuildParentTask) */
  rebuild?: {
    /** the repository URL (`<PREFIX>_HEAD_REPOSITORY` of its decision task) and the revision rendered */
    repository: string;
    revision: string | null;
    /** the template file (a path of the tree folder) */
    template: string | null;
    tasksFor: string;
    /** the repository's level from `projects.yml` (`"3"`); null for a GitHub repository (not in projects.yml) */
    level: string | null;
    matched: boolean;
    /** not matched: where the closest rendered task (`expected`) and the runtime task (`actual`) differ */
    differences?: JsonDifference[];
  };
  /** the trusted repository path its `metadata.source` lies in (`/releases/mozilla-beta`), null: none */
  repositoryPath?: string | null;
  /** the verified task: each restricted scope it holds, the level that scope needs, the repository paths that
   * level allows, and whether its repository is one */
  scopes?: { scope: string; restricted: string; level: string; trees: string[]; allowed: boolean }[];
}

export interface ChainLink {
  taskId: string;
  /** how the chain reached it first: root, parent, upstream (its taskType), input:<name>, dependency */
  role: string;
  /** every kind the chain gives it (decision, action, the consumers' taskTypes, input names, dependency) */
  kinds: string[];
  /** the task's metadata.name */
  name: string;
  /** a decision or action task (a parent of another link, or the root task being one) */
  decision: boolean;
  depth: number;
  provisionerId: string;
  workerType: string;
  implementation?: string;
  /** the run verified, and why that one */
  runId?: number;
  runReason?: string;
  signatureKind?: string;
  signer?: string;
  certifiedBy?: string;
  /** the chain-of-trust file verified (absent when it was not verified) */
  document?: LinkDocument;
  /** every artifact this link consumes that was downloaded and matched its producer's signed digests */
  consumed?: LinkConsumed[];
  image?: LinkImage;
  /** task ids this link depends on for its chain of trust */
  upstream: string[];
  checks: string[];
  /** what verification accepted but a person should know (a parent link whose tree was not traced); never a
   * failure (verifyChain always sets it, [] when none) */
  warnings?: string[];
  /** the tree trace of this link (policies with a `tree` section) */
  tree?: LinkTree;
  errors: ChainError[];
  ok: boolean;
}

/**
 * What the chain verified about its root task, for attestations (attest/buildProvenance): the root's verified
 * chain-of-trust document (signature, identity and schema checked, its task equal to the queue's) and the queue's
 * status of that run. Never serialised in reports.
 */
export interface RootEvidence {
  document: CotDocument;
  status?: TaskStatus;
}

export interface ChainReport {
  ok: boolean;
  root: string;
  referenceTime: string;
  links: ChainLink[];
  /** the root's verified document and run status; absent when the root's document was not verified */
  rootEvidence?: RootEvidence;
  /**
   * every failure, in discovery order: links breadth first from the root (by depth, then taskId), each link's own in
   * the order its checks recorded them, failures of the chain as a whole last (the same order on every run)
   */
  errors: ChainError[];
  stats: {
    tasks: number;
    /** consumed artifacts downloaded and hash-checked (each once, however many tasks consume it) */
    artifactsChecked: number;
    /** bytes of those artifacts (documents and task graphs are counted apart, in documentBytes) */
    bytesHashed: number;
    /** chain-of-trust documents read to be verified (the .json with its .sig, or the .asc; each format tried) */
    documentsRead: number;
    /** decision and action tasks' task-graph.json read (and checked against their signed hash) */
    taskGraphsRead: number;
    /** bytes of those documents, their signatures and task graphs */
    documentBytes: number;
    seconds: number;
    phases: Record<string, number>;
    /** warnings of all links (ChainLink.warnings); verifyChain always sets it */
    warnings?: number;
  };
}

/** One task of the chain while it is verified. */
export interface LinkState {
  link: ChainLink;
  /** the queue's definition ({} when it could not be fetched) */
  task: JsonObject;
  fetched: boolean;
  status?: TaskStatus;
  /** artifacts of the verified run, by name */
  listing?: Map<string, ArtifactInfo>;
  /** the verified document (signature, identity and schema checked) */
  doc?: CotDocument;
  /** the document verified and its task equals the queue's */
  docOk: boolean;
  /** decision/action links: their parsed, hash-checked task-graph.json (null: could not be used) */
  graph?: JsonObject | null;
}

export interface VerifyChainOptions {
  policy: Policy;
  trust: TrustStore;
  /** reference time of the run: required (the library never reads the clock); OPTIONS_INVALID without it */
  at: Date;
  /** progress callback (links verified, bytes hashed) */
  onProgress?: (p: { linksVerified: number; links: number; bytesHashed: number }) => void;
  /**
   * Fetch tree material online when the policy has a `tree` section without `dir` and the queue is not a directory
   * store (whose `trees/` folder is read instead, and never the network): the fetch function and its host rules
   * (tree/online.ts fetchTreeMaterial). Each repository, revision and `tasks_for` is fetched once per verification.
   * Absent: such parent links are untraced.
   */
  treeFetch?: ChainTreeFetch;
}

/** What verifyChain needs to fetch a parent link's tree material online (tree/online.ts OnlineTreeOptions). */
export type ChainTreeFetch = Pick<
  OnlineTreeOptions,
  'fetch' | 'allowedTreeHosts' | 'projectsUrl' | 'baseUrls'
>;

/** The run state every chain check reads and records into. */
export class ChainRun {
  readonly nodes = new Map<string, LinkState>();
  readonly edges: Edge[] = [];
  readonly errors: ChainError[] = [];
  artifactsChecked = 0;
  /** bytes of consumed artifacts hashed (ChainReport stats) */
  bytesHashed = 0;
  documentsRead = 0;
  taskGraphsRead = 0;
  /** bytes of documents, signatures and task graphs read */
  documentBytes = 0;
  linksVerified = 0;

  constructor(
    readonly queue: TaskQueue,
    readonly root: string,
    readonly o: VerifyChainOptions,
  ) {}

  get policy(): Policy {
    return this.o.policy;
  }

  /** Record a failure, on a link or on the chain as a whole. */
  fail(
    node: LinkState | undefined,
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
  ): void {
    const e: ChainError = {
      code,
      ...(node ? { taskId: node.link.taskId } : {}),
      message,
      ...(details && Object.keys(details).length > 0 ? { details } : {}),
    };
    if (node) node.link.errors.push(e);
    this.errors.push(e);
  }

  /** Record a warning on a link (ChainLink.warnings): accepted, but shown in every report. */
  warn(node: LinkState, message: string): void {
    node.link.warnings ??= [];
    node.link.warnings.push(message);
  }

  /** Record a CotError as a failure (its code, message and details). */
  failWith(node: LinkState | undefined, e: CotError, prefix = ''): void {
    this.fail(node, e.code, `${prefix}${e.message}`, e.details);
  }

  /** Record a failure of `consumer` about an artifact of `about.producer` (ChainError `producer`, `artifact`). */
  failArtifact(
    consumer: LinkState,
    about: { producer: string; artifact: string },
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
  ): void {
    const e: ChainError = {
      code,
      taskId: consumer.link.taskId,
      message,
      ...(details && Object.keys(details).length > 0 ? { details } : {}),
      ...about,
    };
    consumer.link.errors.push(e);
    this.errors.push(e);
  }

  /**
   * Run `fn`; a CotError it throws becomes a failure of `node`; anything else is a bug and propagates. Errors of the
   * queue name their task (and run, artifact) themselves: `prefix` is context the queue cannot know.
   */
  async guard(node: LinkState | undefined, fn: () => Promise<void> | void, prefix = ''): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof CotError)) throw e;
      this.failWith(node, e, prefix);
    }
  }

  /**
   * The code for a failure of a link caused by another link `cause` it relies on (a producer whose document did not
   * verify, a docker-image task): `code` (a trust failure) when `cause` failed a trust check or has no failure of its
   * own; else the code of `cause`'s first failure (a task that does not exist, a network error...), so that a link
   * that could not be checked never turns an unverifiable chain into an untrustworthy one (see failureOutcome).
   */
  consequence(cause: LinkState | undefined, code: ErrorCode): ErrorCode {
    const errs = cause?.link.errors ?? [];
    if (errs.length === 0 || errs.some((e) => isTrustFailure(e.code))) return code;
    return errs[0]!.code;
  }

  private readonly byFrom = new Map<string, Edge[]>();
  private readonly byTo = new Map<string, Edge[]>();

  addEdge(e: Edge): void {
    this.edges.push(e);
    const f = this.byFrom.get(e.from);
    if (f) f.push(e);
    else this.byFrom.set(e.from, [e]);
    const t = this.byTo.get(e.to);
    if (t) t.push(e);
    else this.byTo.set(e.to, [e]);
  }

  edgesFrom(taskId: string): readonly Edge[] {
    return this.byFrom.get(taskId) ?? [];
  }

  edgesTo(taskId: string): readonly Edge[] {
    return this.byTo.get(taskId) ?? [];
  }

  progress(): void {
    this.o.onProgress?.({
      linksVerified: this.linksVerified,
      links: this.nodes.size,
      bytesHashed: this.bytesHashed,
    });
  }
}

/** One named step of chain verification: it reads the run state and records its checks and failures. */
export interface ChainCheck {
  /** short name, used for the per-phase timings */
  name: string;
  run(state: ChainRun): Promise<void>;
}
