import type { Readable } from 'node:stream';
import { CotError } from '../errors.js';
import type { JsonObject } from '../json/parse.js';

/** One artifact of a run, as the queue lists it (`listArtifacts`). */
export interface ArtifactInfo {
  name: string;
  /** s3, object: bytes stored by the queue; reference: a URL the task chose; link: another artifact of the task;
   * error: a declared output the worker could not produce (no bytes; getArtifact answers 424) */
  storageType: string;
  contentType: string;
  expires: string;
}

/** Storage types whose bytes the queue itself holds (what a chain-of-trust document or task graph must be). */
export const STORED_STORAGE_TYPES: ReadonlySet<string> = new Set(['s3', 'object']);

/**
 * Whether a consumer asking for this artifact gets bytes: every listed artifact but an `error` one (a declared
 * output never produced; getArtifact answers 424). A `link` serves another artifact's bytes and a `reference` the
 * bytes of a URL the task chose: both are downloads, so both must be listed in the signed document and
 * hash-checked (the queue implementation decides whether to follow a reference at all).
 */
export function servesBytes(info: ArtifactInfo | undefined): boolean {
  return info !== undefined && info.storageType !== 'error';
}

/** One run of a task, as the queue's `status` reports it (queue schema task-run.yml). */
export interface RunStatus {
  runId: number;
  /** pending, running, completed, failed, exception */
  state: string;
  reasonCreated?: string;
  reasonResolved?: string;
  workerGroup?: string;
  workerId?: string;
  /** ISO 8601 times, when the queue has them */
  scheduled?: string;
  started?: string;
  resolved?: string;
}

/** A task's status (the queue's `status` response, `status` member). */
export interface TaskStatus {
  taskId: string;
  state?: string;
  runs: RunStatus[];
}

export interface OpenedArtifact {
  /** the artifact's bytes (content-encoding already removed) */
  stream: Readable;
  /** size in bytes when known in advance */
  size?: number;
  contentType?: string;
  /** the run the bytes came from (resolved when the latest run was asked for) */
  runId: number;
}

export interface DownloadLimits {
  /** maximum decoded bytes of one artifact (default 8 GiB) */
  maxBytes?: number;
  /** per-request inactivity timeout in ms (default 30 s) */
  timeoutMs?: number;
  /** overall deadline of one download (connection, redirects, retries and body), ms (default 1 h) */
  deadlineMs?: number;
  /**
   * minimum body rate, bytes per second, judged over each `rateWindowMs` the body was being read (default 1024;
   * 0: none). See httpGet.
   */
  minBytesPerSecond?: number;
  /** window of the rate check, ms; the first window is the grace period (default 30 s) */
  rateWindowMs?: number;
}

export interface CreateArtifactInput {
  taskId: string;
  runId: number;
  name: string;
  /** the file holding the bytes (read again on every attempt) */
  path: string;
  contentType: string;
  /** ISO time; the task's own expiry */
  expires: string;
  storageType?: 's3' | 'object';
  /** gzip the bytes on the wire (the stored artifact is the original bytes) */
  gzip?: boolean;
  /** the sha256 the signed document lists: the bytes uploaded must be these (ARTIFACT_CHANGED otherwise) */
  expectedSha256?: string;
}

export function artifactChanged(a: CreateArtifactInput, found: string): CotError {
  return new CotError(
    'ARTIFACT_CHANGED',
    `artifact ${a.name} (${a.path}) changed after it was hashed: its bytes now hash to ${found}, the document lists ${a.expectedSha256}`,
    { details: { artifact: a.name, expected: a.expectedSha256, found } },
  );
}

/**
 * Everything above the transport talks to a queue through this interface and never knows which implementation
 * it has: a directory store, the Taskcluster queue (through taskcluster-client), or `cot queue serve`.
 */
export interface TaskQueue {
  /** where this queue is, for messages */
  readonly description: string;
  task(taskId: string): Promise<JsonObject>;
  /**
   * Optional batch read (the queue's `tasks`): the definitions of many tasks in one call, by task id, each exactly
   * what `task` would give. A task the answer leaves out (the queue omits tasks it does not have; an id that is no
   * task id is never sent) is absent: ask `task` for it, to learn why. Undefined when this queue cannot answer the
   * batch (a deployment without the route, a client not allowed every task): ask `task` for each. Throws when the
   * call failed as a whole (TRANSPORT_*, JSON_INVALID for a malformed answer: one that holds a task not asked for,
   * or one task twice). See readTasks (src/transport/batch.ts), which every caller uses.
   */
  tasks?(taskIds: readonly string[]): Promise<Map<string, JsonObject> | undefined>;
  /** Optional batch read (the queue's `statuses`): the statuses of many tasks in one call, as `tasks` (see there). */
  statuses?(taskIds: readonly string[]): Promise<Map<string, TaskStatus> | undefined>;
  /** the highest run id of a task */
  latestRunId(taskId: string): Promise<number>;
  /** the task's runs with their states and times (queue.status) */
  status(taskId: string): Promise<TaskStatus>;
  listArtifacts(taskId: string, runId: number): Promise<ArtifactInfo[]>;
  /** open an artifact of a run (or of the latest run when runId is undefined) as a stream */
  openArtifact(
    taskId: string,
    runId: number | undefined,
    name: string,
    limits?: DownloadLimits,
  ): Promise<OpenedArtifact>;
  createArtifact(input: CreateArtifactInput): Promise<void>;
}
