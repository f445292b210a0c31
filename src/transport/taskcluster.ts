import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { CotError, fsError } from '../errors.js';
import type { JsonObject } from '../json/parse.js';
import { assertTaskId, parseTaskStatus } from './dir-store.js';
import { codeForStatus, httpGet, httpPutFile } from './http.js';
import {
  type ArtifactInfo,
  artifactChanged,
  type CreateArtifactInput,
  type DownloadLimits,
  type OpenedArtifact,
  type TaskQueue,
  type TaskStatus,
} from './queue.js';

// biome-ignore lint/suspicious/noExplicitAny: taskcluster-client ships no types
type Tc = any;

export interface TaskclusterQueueOptions {
  rootUrl: string;
  credentials?: { clientId: string; accessToken: string; certificate?: string };
  /** hosts the queue's 303 redirects may lead to (the rootUrl host is always allowed) */
  allowedHosts?: readonly string[];
  /** client retries for 5xx and network errors (default 5) */
  retries?: number;
  /** base backoff in ms (default 100) */
  retryDelayMs?: number;
  /** inactivity timeout of one upload attempt, ms (default 300 000) */
  uploadTimeoutMs?: number;
  /** follow `reference` artifacts (URLs chosen by the task; default: refused) */
  allowReferenceArtifacts?: boolean;
}

function convert(e: unknown, what: string): CotError {
  if (e instanceof CotError) return e;
  const err = e as { statusCode?: number; code?: string; message?: string };
  const s = err.statusCode;
  const code = s ? codeForStatus(s) : 'TRANSPORT_NETWORK';
  return new CotError(code, `${what}: ${err.message ?? String(e)}`, {
    cause: e,
    details: s ? { status: s } : {},
  });
}

/**
 * The Taskcluster queue through the official client (taskcluster-client). Artifact bytes are fetched by following
 * the queue's 303 with cot's bounded, redirect-checked streaming GET.
 */
export class TaskclusterQueue implements TaskQueue {
  readonly description: string;
  private client?: Promise<{ tc: Tc; queue: Tc }>;

  constructor(private readonly o: TaskclusterQueueOptions) {
    this.description = `Taskcluster queue at ${o.rootUrl}`;
  }

  /** Options from the environment: TASKCLUSTER_ROOT_URL (or TASKCLUSTER_PROXY_URL inside a task) and credentials. */
  static optionsFromEnv(env: NodeJS.ProcessEnv, rootUrl?: string): TaskclusterQueueOptions {
    const url = rootUrl ?? env.TASKCLUSTER_PROXY_URL ?? env.TASKCLUSTER_ROOT_URL;
    if (!url)
      throw new CotError(
        'USAGE',
        'give --root-url or set TASKCLUSTER_ROOT_URL (or TASKCLUSTER_PROXY_URL inside a task)',
      );
    const creds =
      env.TASKCLUSTER_CLIENT_ID && env.TASKCLUSTER_ACCESS_TOKEN
        ? {
            clientId: env.TASKCLUSTER_CLIENT_ID,
            accessToken: env.TASKCLUSTER_ACCESS_TOKEN,
            ...(env.TASKCLUSTER_CERTIFICATE ? { certificate: env.TASKCLUSTER_CERTIFICATE } : {}),
          }
        : undefined;
    return { rootUrl: url.replace(/\/+$/, ''), ...(creds ? { credentials: creds } : {}) };
  }

  private async api(): Promise<{ tc: Tc; queue: Tc }> {
    this.client ??= import('taskcluster-client').then((m: Tc) => {
      const tc = m.default ?? m;
      const queue = new tc.Queue({
        rootUrl: this.o.rootUrl,
        ...(this.o.credentials ? { credentials: this.o.credentials } : {}),
        retries: this.o.retries ?? 5,
        delayFactor: this.o.retryDelayMs ?? 100,
      });
      return { tc, queue };
    });
    return this.client;
  }

  async task(taskId: string): Promise<JsonObject> {
    assertTaskId(taskId);
    const { queue } = await this.api();
    try {
      return (await queue.task(taskId)) as JsonObject;
    } catch (e) {
      throw convert(e, `task ${taskId}`);
    }
  }

  async status(taskId: string): Promise<TaskStatus> {
    assertTaskId(taskId);
    const { queue } = await this.api();
    let response: JsonObject;
    try {
      response = (await queue.status(taskId)) as JsonObject;
    } catch (e) {
      throw convert(e, `status of task ${taskId}`);
    }
    return parseTaskStatus(response, taskId, `status of task ${taskId} from ${this.description}`);
  }

  async latestRunId(taskId: string): Promise<number> {
    const n = (await this.status(taskId)).runs.length;
    if (n === 0) throw new CotError('TRANSPORT_NOT_FOUND', `task ${taskId} has no runs`);
    return n - 1;
  }

  async listArtifacts(taskId: string, runId: number): Promise<ArtifactInfo[]> {
    const { queue } = await this.api();
    const out: ArtifactInfo[] = [];
    let continuationToken: string | undefined;
    try {
      do {
        const r = await queue.listArtifacts(taskId, runId, continuationToken ? { continuationToken } : {});
        out.push(...(r.artifacts as ArtifactInfo[]));
        continuationToken = r.continuationToken;
      } while (continuationToken);
    } catch (e) {
      throw convert(e, `artifacts of task ${taskId} run ${runId}`);
    }
    return out;
  }

  async openArtifact(
    taskId: string,
    runId: number | undefined,
    name: string,
    limits: DownloadLimits = {},
  ): Promise<OpenedArtifact> {
    assertTaskId(taskId);
    const run = runId ?? (await this.latestRunId(taskId));
    const { queue } = await this.api();
    // public artifacts (and everything, without credentials) by plain URL; others by a signed URL (Hawk bewit)
    const url =
      name.startsWith('public/') || !this.o.credentials
        ? queue.buildUrl(queue.getArtifact, taskId, run, name)
        : queue.buildSignedUrl(queue.getArtifact, taskId, run, name, { expiration: 15 * 60 });
    const body = await httpGet(url, {
      ...(this.o.allowedHosts ? { allowedHosts: this.o.allowedHosts } : {}),
      ...(limits.maxBytes !== undefined ? { maxBytes: limits.maxBytes } : {}),
      ...(limits.timeoutMs !== undefined ? { timeoutMs: limits.timeoutMs } : {}),
      retries: this.o.retries ?? 5,
      retryDelayMs: this.o.retryDelayMs ?? 100,
      ...(this.o.allowReferenceArtifacts ? {} : { refuseStorageTypes: ['reference'] }),
    }).catch((e: unknown) => {
      throw convert(e, `artifact ${name} of task ${taskId} run ${run}`);
    });
    return {
      stream: body.stream,
      ...(body.length !== undefined ? { size: body.length } : {}),
      ...(body.headers['content-type'] ? { contentType: body.headers['content-type'] } : {}),
      runId: run,
    };
  }

  async createArtifact(a: CreateArtifactInput): Promise<void> {
    const { tc, queue } = await this.api();
    const storageType = a.storageType ?? 's3';
    const size = (
      await stat(a.path).catch((e: unknown) => {
        throw fsError(e, a.path, `cannot upload artifact ${a.name}`);
      })
    ).size;
    let res: Tc;
    try {
      res = await queue.createArtifact(a.taskId, a.runId, a.name, {
        storageType,
        expires: a.expires,
        contentType: a.contentType,
        contentLength: size,
      });
    } catch (e) {
      throw convert(e, `createArtifact ${a.name} for task ${a.taskId} run ${a.runId}`);
    }
    if (storageType === 's3') {
      const put = await httpPutFile(res.putUrl, a.path, {
        contentType: a.contentType,
        ...(a.gzip ? { gzip: true } : {}),
        ...(this.o.uploadTimeoutMs !== undefined ? { timeoutMs: this.o.uploadTimeoutMs } : {}),
        retries: this.o.retries ?? 5,
        retryDelayMs: this.o.retryDelayMs ?? 100,
      }).catch((e: unknown) => {
        throw convert(e, `upload of ${a.name}`);
      });
      if (a.expectedSha256 !== undefined && put.sha256 !== a.expectedSha256)
        throw artifactChanged(a, put.sha256);
      return;
    }
    let lastHash: ReturnType<typeof createHash> | undefined;
    try {
      const object = new tc.Object({
        rootUrl: this.o.rootUrl,
        credentials: res.credentials,
        retries: this.o.retries ?? 5,
        delayFactor: this.o.retryDelayMs ?? 100,
      });
      await tc.upload({
        projectId: res.projectId,
        name: res.name,
        contentType: a.contentType,
        contentLength: size,
        expires: new Date(res.expires),
        uploadId: res.uploadId,
        object,
        streamFactory: async () => {
          const h = createHash('sha256');
          lastHash = h;
          const t = new Transform({
            transform(c: Buffer, _e, cb) {
              h.update(c);
              cb(null, c);
            },
          });
          const s = createReadStream(a.path);
          s.on('error', (e) => t.destroy(e)); // pipe() does not forward a read error
          return s.pipe(t);
        },
        retries: this.o.retries ?? 5,
        delayFactor: this.o.retryDelayMs ?? 100,
      });
      // the object is not visible until finishArtifact: stop there if the bytes were not the hashed ones
      const found = lastHash?.digest('hex');
      if (a.expectedSha256 !== undefined && found !== a.expectedSha256)
        throw artifactChanged(a, found ?? '(nothing read)');
      await queue.finishArtifact(a.taskId, a.runId, a.name, { uploadId: res.uploadId });
    } catch (e) {
      throw convert(e, `object upload of ${a.name}`);
    }
  }
}
