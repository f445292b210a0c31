import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { CotError, fsError, optionRef } from '../errors.js';
import { Digester } from '../hashing/digest.js';
import { isJsonObject, type JsonObject, parseJsonBytes } from '../json/parse.js';
import { checkOptions } from '../util/options.js';
import { assertTaskId, isTaskId } from '../util/task-id.js';
import { parseArtifactList, parseTaskStatus } from './dir-store.js';
import { codeForStatus, type HttpBody, httpGet, httpPostJson, httpPutFile } from './http.js';
import { hashedReadStream } from './http-body.js';
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
  /**
   * inactivity timeout of one request, ms (default 30 s): API requests (task, status, a page of listArtifacts),
   * and artifact downloads whose limits do not set one
   */
  timeoutMs?: number;
  /** overall deadline of one API request, retries included, ms (default 60 s) */
  requestDeadlineMs?: number;
  /** overall deadline of one artifact download whose limits do not set one, ms (default 1 h; see httpGet) */
  downloadDeadlineMs?: number;
  /**
   * minimum body rate, bytes per second (default 1024; 0: none; see httpGet): API responses, and artifact
   * downloads whose limits do not set one
   */
  minBytesPerSecond?: number;
  /** largest API response (a task definition, a status, one listArtifacts page), bytes (default 16 MiB) */
  maxJsonBytes?: number;
  /** most listArtifacts pages for one run (default 200) */
  maxListPages?: number;
  /** most artifacts listed for one run, all pages together (default 100 000) */
  maxListEntries?: number;
  /** overall deadline of listing one run's artifacts, all pages together, ms (default 5 min) */
  listDeadlineMs?: number;
}

/** Defaults of the API bounds (see TaskclusterQueueOptions). */
export const QUEUE_API_DEFAULTS = {
  timeoutMs: 30_000,
  requestDeadlineMs: 60_000,
  maxJsonBytes: 16 * 1024 * 1024,
  maxListPages: 200,
  maxListEntries: 100_000,
  listDeadlineMs: 5 * 60_000,
} as const;

/** The longest continuation token followed (real ones are a few hundred characters). */
const MAX_CONTINUATION_TOKEN = 8192;

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

/** What signs a Hawk request header (the `hawk` package, loaded when first needed). */
interface HawkClient {
  header(
    uri: string,
    method: string,
    options: { credentials: { id: string; key: string; algorithm: string }; ext?: string },
  ): { header: string };
}
let hawkClient: HawkClient | undefined;

/** The queue's batch reads: the method, the list its answer holds, and each entry's member. */
const BATCH = {
  tasks: { list: 'tasks', member: 'task', words: 'definitions' },
  statuses: { list: 'statuses', member: 'status', words: 'statuses' },
} as const;
type BatchMethod = keyof typeof BATCH;

/** A CotError with `what` in front of its message (same code, details and cause chain). */
function within(e: CotError, what: string): CotError {
  return new CotError(e.code, `${what}: ${e.message}`, { cause: e, details: e.details });
}

/**
 * The Taskcluster queue through the official client (taskcluster-client). The client builds (and, with
 * credentials, Hawk-signs as a bewit) the URLs of the read calls and makes the write calls; the reads themselves —
 * task definitions, status, artifact listings and artifact bytes — go through cot's bounded, redirect-checked
 * streaming GET, and their JSON through cot's strict bounded parser (parseJsonBytes): a response deeper than 256
 * levels, larger than `maxJsonBytes` or with a duplicate key is JSON_INVALID, never a crash. Listings are bounded in
 * pages, entries and time (TRANSPORT_LIST_TOO_LONG).
 */
export class TaskclusterQueue implements TaskQueue {
  readonly description: string;
  private client?: Promise<{ tc: Tc; queue: Tc }>;
  /** batch reads this deployment does not have (it answered 404): asked task by task from then on */
  private readonly noBatch = new Set<BatchMethod>();

  constructor(private readonly o: TaskclusterQueueOptions) {
    checkOptions('TaskclusterQueue', o, {
      rootUrl: {
        kind: 'string',
        hint: 'TaskclusterQueue.optionsFromEnv(process.env) reads TASKCLUSTER_ROOT_URL',
      },
      credentials: { kind: 'object', optional: true },
      allowedHosts: { kind: 'array', optional: true },
    });
    if (o.credentials !== undefined)
      checkOptions(
        'TaskclusterQueue',
        o.credentials,
        { clientId: { kind: 'string' }, accessToken: { kind: 'string' } },
        'options.credentials',
      );
    this.description = `Taskcluster queue at ${o.rootUrl}`;
  }

  /** Options from the environment: TASKCLUSTER_ROOT_URL (or TASKCLUSTER_PROXY_URL inside a task) and credentials. */
  static optionsFromEnv(env: NodeJS.ProcessEnv, rootUrl?: string): TaskclusterQueueOptions {
    const url = rootUrl ?? env.TASKCLUSTER_PROXY_URL ?? env.TASKCLUSTER_ROOT_URL;
    if (!url)
      throw new CotError(
        'OPTIONS_INVALID',
        `give ${optionRef('rootUrl')} or set TASKCLUSTER_ROOT_URL (or TASKCLUSTER_PROXY_URL inside a task)`,
        { details: { options: ['rootUrl'] } },
      );
    if (Boolean(env.TASKCLUSTER_CLIENT_ID) !== Boolean(env.TASKCLUSTER_ACCESS_TOKEN))
      throw new CotError(
        'OPTIONS_INVALID',
        `${env.TASKCLUSTER_CLIENT_ID ? 'TASKCLUSTER_CLIENT_ID' : 'TASKCLUSTER_ACCESS_TOKEN'} is set but ${env.TASKCLUSTER_CLIENT_ID ? 'TASKCLUSTER_ACCESS_TOKEN' : 'TASKCLUSTER_CLIENT_ID'} is not: set both, or neither`,
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

  /**
   * A refusal (401/403) of a client that has no credentials says how to give some: an upload (or a private
   * artifact) needs them, and without them the queue's own message only names the missing scopes.
   */
  private withAuthHint(e: CotError): CotError {
    if (e.code !== 'TRANSPORT_AUTH' || this.o.credentials) return e;
    return new CotError(
      e.code,
      `${e.message} (no Taskcluster credentials were given: set TASKCLUSTER_CLIENT_ID and TASKCLUSTER_ACCESS_TOKEN, plus TASKCLUSTER_CERTIFICATE for temporary credentials; inside a task, use TASKCLUSTER_PROXY_URL)`,
      { cause: e, details: { ...e.details, credentials: false } },
    );
  }

  private async api(): Promise<{ tc: Tc; queue: Tc }> {
    this.client ??= import('taskcluster-client').then((m: Tc) => {
      const tc = m.default ?? m;
      const queue = new tc.Queue({
        rootUrl: this.o.rootUrl,
        ...(this.o.credentials ? { credentials: this.o.credentials } : {}),
        retries: this.o.retries ?? 5,
        delayFactor: this.o.retryDelayMs ?? 100,
        // the client's own calls (createArtifact, finishArtifact) keep their connection too (its default agents
        // open one per call); idle ones close after 4 s, as cot's own (http.ts)
        agent: { keepAlive: true, maxSockets: 50, timeout: 4000 },
      });
      return { tc, queue };
    });
    return this.client;
  }

  /**
   * GET one read endpoint of the queue at the URL the client builds for `method` (a signed URL with a Hawk bewit
   * when there are credentials, as for private artifacts) and parse its JSON object strictly (readJson).
   */
  private async getJson(
    what: string,
    method: 'task' | 'status' | 'listArtifacts',
    args: unknown[],
    deadlineMs?: number,
  ): Promise<JsonObject> {
    const { queue } = await this.api();
    const url: string = this.o.credentials
      ? queue.buildSignedUrl(queue[method], ...args, { expiration: 15 * 60 })
      : queue.buildUrl(queue[method], ...args);
    return this.readJson(what, (o) => httpGet(url, { ...o, maxRedirects: 0 }), deadlineMs);
  }

  /**
   * POST one batch read of the queue (`tasks`, `statuses`: read-only, so retried as a GET is) at the URL the client
   * builds, Hawk-signed (a header, made for each attempt) when there are credentials, and parse its JSON object
   * strictly (readJson).
   */
  private async postJson(
    what: string,
    method: BatchMethod,
    taskIds: readonly string[],
    token: string | undefined,
    deadlineMs: number,
  ): Promise<JsonObject> {
    const { queue } = await this.api();
    const url: string = queue.buildUrl(
      queue[method],
      token === undefined ? {} : { continuationToken: token },
    );
    const body = Buffer.from(JSON.stringify({ taskIds }));
    return this.readJson(
      what,
      (o) =>
        httpPostJson(url, body, { ...o, headers: () => ({ ...o.headers, ...this.hawkHeader(url, 'POST') }) }),
      deadlineMs,
    );
  }

  /**
   * A Hawk Authorization header for one request, as taskcluster-client makes it (with the certificate of temporary
   * credentials); none without credentials.
   */
  private hawkHeader(url: string, method: string): Record<string, string> {
    const c = this.o.credentials;
    if (!c) return {};
    hawkClient ??= (createRequire(import.meta.url)('hawk') as { client: HawkClient }).client;
    const ext = c.certificate
      ? Buffer.from(JSON.stringify({ certificate: JSON.parse(c.certificate) })).toString('base64')
      : undefined;
    const { header } = hawkClient.header(url, method, {
      credentials: { id: c.clientId, key: c.accessToken, algorithm: 'sha256' },
      ...(ext ? { ext } : {}),
    });
    return { authorization: header };
  }

  /**
   * The JSON object answer of one API request (`start` makes it with the given bounds: httpGet or httpPostJson),
   * parsed strictly (parseJsonBytes). Throws TRANSPORT_* (see httpGet; no redirect is followed) and JSON_INVALID
   * (not strict JSON, deeper than 256, larger than maxJsonBytes — then caused by TRANSPORT_TOO_LARGE —, not an
   * object).
   */
  private async readJson(
    what: string,
    start: (o: {
      headers: Record<string, string>;
      maxBytes: number;
      timeoutMs: number;
      deadlineMs: number;
      minBytesPerSecond: number | undefined;
      retries: number;
      retryDelayMs: number;
    }) => Promise<HttpBody>,
    deadlineMs?: number,
  ): Promise<JsonObject> {
    const max = this.o.maxJsonBytes ?? QUEUE_API_DEFAULTS.maxJsonBytes;
    let bytes: Buffer;
    try {
      const body = await start({
        headers: { accept: 'application/json' },
        maxBytes: max,
        timeoutMs: this.o.timeoutMs ?? QUEUE_API_DEFAULTS.timeoutMs,
        deadlineMs: deadlineMs ?? this.o.requestDeadlineMs ?? QUEUE_API_DEFAULTS.requestDeadlineMs,
        minBytesPerSecond: this.o.minBytesPerSecond,
        retries: this.o.retries ?? 5,
        retryDelayMs: this.o.retryDelayMs ?? 100,
      });
      const chunks: Buffer[] = [];
      for await (const c of body.stream as AsyncIterable<Buffer>) chunks.push(c);
      bytes = Buffer.concat(chunks);
    } catch (e) {
      if (e instanceof CotError && e.code === 'TRANSPORT_TOO_LARGE' && e.details.maxBytes !== undefined)
        throw new CotError(
          'JSON_INVALID',
          `${what} from ${this.description}: the response exceeds ${max} bytes`,
          { cause: e },
        );
      throw this.withAuthHint(e instanceof CotError ? within(e, what) : convert(e, what));
    }
    const v = parseJsonBytes(bytes, { source: `${what} from ${this.description}`, maxLength: max });
    if (!v || typeof v !== 'object' || Array.isArray(v))
      throw new CotError(
        'JSON_INVALID',
        `${what} from ${this.description}: the response is not a JSON object`,
      );
    return v;
  }

  async task(taskId: string): Promise<JsonObject> {
    assertTaskId(taskId);
    return this.getJson(`task ${taskId}`, 'task', [taskId]);
  }

  async status(taskId: string): Promise<TaskStatus> {
    assertTaskId(taskId);
    const what = `status of task ${taskId}`;
    const response = await this.getJson(what, 'status', [taskId]);
    return parseTaskStatus(response, taskId, `${what} from ${this.description}`);
  }

  /**
   * The definitions of many tasks by the queue's batch `tasks` call (see TaskQueue.tasks): ids that are no task id
   * are not sent; the answer's pages are followed (continuation tokens, bounded as listArtifacts' are). Undefined —
   * ask task by task — when the deployment has no such route (404, remembered), when the client may not read every
   * task of the batch (401, 403), when it refuses the request (another 4xx), or when one page is larger than
   * maxJsonBytes (each task alone may not be). Throws TRANSPORT_* and JSON_INVALID (a malformed answer, a task not
   * asked for, one task twice), TRANSPORT_LIST_TOO_LONG (pages without end).
   */
  async tasks(taskIds: readonly string[]): Promise<Map<string, JsonObject> | undefined> {
    return this.batch('tasks', taskIds);
  }

  /** The statuses of many tasks by the queue's batch `statuses` call: as `tasks` (see there). */
  async statuses(taskIds: readonly string[]): Promise<Map<string, TaskStatus> | undefined> {
    const raw = await this.batch('statuses', taskIds);
    if (!raw) return undefined;
    const out = new Map<string, TaskStatus>();
    for (const [taskId, status] of raw) {
      const source = `status of task ${taskId} in the statuses answer from ${this.description}`;
      if (status.taskId !== undefined && status.taskId !== taskId)
        throw new CotError('JSON_INVALID', `${source}: it is the status of ${JSON.stringify(status.taskId)}`);
      out.set(taskId, parseTaskStatus({ status }, taskId, source));
    }
    return out;
  }

  /** One batch read with its fallbacks (see tasks): the answer's member (`task`, `status`) per task id. */
  private async batch(
    method: BatchMethod,
    taskIds: readonly string[],
  ): Promise<Map<string, JsonObject> | undefined> {
    if (this.noBatch.has(method)) return undefined;
    const asked = [...new Set(taskIds.filter(isTaskId))];
    if (asked.length === 0) return new Map();
    try {
      return await this.batchPages(method, asked);
    } catch (e) {
      if (!(e instanceof CotError)) throw e;
      if (e.code === 'QUEUE_NOT_FOUND') {
        this.noBatch.add(method);
        return undefined;
      }
      if (e.code === 'TRANSPORT_AUTH' || e.code === 'QUEUE_REQUEST_REFUSED') return undefined;
      if (e.code === 'JSON_INVALID' && e.cause instanceof CotError && e.cause.code === 'TRANSPORT_TOO_LARGE')
        return undefined;
      throw e;
    }
  }

  /**
   * The pages of one batch read of `asked` (distinct task ids), each entry checked: `{taskId, <member>}` with an
   * object member, a task asked for, never twice (JSON_INVALID). Pages follow continuation tokens: never one seen
   * before, at most one page more than tasks asked and maxListPages, all within listDeadlineMs
   * (TRANSPORT_LIST_TOO_LONG).
   */
  private async batchPages(method: BatchMethod, asked: readonly string[]): Promise<Map<string, JsonObject>> {
    const { list, member, words } = BATCH[method];
    const what = `${words} of ${asked.length} task${asked.length === 1 ? '' : 's'}`;
    const maxListPages = Math.min(asked.length + 1, this.o.maxListPages ?? QUEUE_API_DEFAULTS.maxListPages);
    const listDeadlineMs = this.o.listDeadlineMs ?? QUEUE_API_DEFAULTS.listDeadlineMs;
    const requestDeadlineMs = this.o.requestDeadlineMs ?? QUEUE_API_DEFAULTS.requestDeadlineMs;
    const wanted = new Set(asked);
    const out = new Map<string, JsonObject>();
    const tokens = new Set<string>();
    const started = Date.now();
    const tooLong = (why: string) =>
      new CotError('TRANSPORT_LIST_TOO_LONG', `${what} from ${this.description}: ${why}`, {
        details: { maxListPages, listDeadlineMs, entries: out.size },
      });
    let token: string | undefined;
    for (let page = 1; ; page++) {
      const left = listDeadlineMs - (Date.now() - started);
      if (left <= 0) throw tooLong(`not complete within ${listDeadlineMs} ms (${page - 1} page(s))`);
      const at = `${what} (page ${page})`;
      const r = await this.postJson(at, method, asked, token, Math.min(left, requestDeadlineMs));
      const bad = (why: string) =>
        new CotError('JSON_INVALID', `${at} from ${this.description}: not a queue ${method} answer: ${why}`);
      const entries = r[list];
      if (!Array.isArray(entries)) throw bad(`no "${list}" list`);
      for (const [i, e] of entries.entries()) {
        if (!isJsonObject(e) || typeof e.taskId !== 'string' || !isJsonObject(e[member]))
          throw bad(`${list}[${i}] is not {"taskId": string, "${member}": object}`);
        if (!wanted.has(e.taskId))
          throw bad(`${list}[${i}] is task ${JSON.stringify(e.taskId)}, not asked for`);
        if (out.has(e.taskId)) throw bad(`task ${e.taskId} is answered twice`);
        out.set(e.taskId, e[member] as JsonObject);
      }
      const next = r.continuationToken;
      if (next === undefined || next === null || next === '') return out;
      if (typeof next !== 'string' || next.length > MAX_CONTINUATION_TOKEN)
        throw bad(`continuationToken is not a string of at most ${MAX_CONTINUATION_TOKEN} characters`);
      if (tokens.has(next)) throw tooLong(`page ${page} repeats an earlier continuation token (a loop)`);
      if (page >= maxListPages) throw tooLong(`more than ${maxListPages} pages`);
      tokens.add(next);
      token = next;
    }
  }

  async latestRunId(taskId: string): Promise<number> {
    const n = (await this.status(taskId)).runs.length;
    if (n === 0) throw new CotError('QUEUE_NOT_FOUND', `task ${taskId} has no runs`);
    return n - 1;
  }

  /**
   * Every artifact of a run, following continuation tokens within bounds: at most `maxListPages` pages,
   * `maxListEntries` entries and `listDeadlineMs` in all, and never the same token twice; past any of them,
   * TRANSPORT_LIST_TOO_LONG. A page that is not a listing is JSON_INVALID.
   */
  async listArtifacts(taskId: string, runId: number): Promise<ArtifactInfo[]> {
    assertTaskId(taskId);
    const maxPages = this.o.maxListPages ?? QUEUE_API_DEFAULTS.maxListPages;
    const maxEntries = this.o.maxListEntries ?? QUEUE_API_DEFAULTS.maxListEntries;
    const listDeadlineMs = this.o.listDeadlineMs ?? QUEUE_API_DEFAULTS.listDeadlineMs;
    const requestDeadlineMs = this.o.requestDeadlineMs ?? QUEUE_API_DEFAULTS.requestDeadlineMs;
    const what = `artifacts of task ${taskId} run ${runId}`;
    const started = Date.now();
    const out: ArtifactInfo[] = [];
    const tooLong = (why: string, cause?: unknown) =>
      new CotError('TRANSPORT_LIST_TOO_LONG', `${what} from ${this.description}: ${why}`, {
        ...(cause === undefined ? {} : { cause }),
        details: { maxListPages: maxPages, maxListEntries: maxEntries, listDeadlineMs, entries: out.length },
      });
    const late = (pages: number) =>
      `not complete within ${listDeadlineMs} ms (${pages} page(s), ${out.length} entries so far)`;
    const tokens = new Set<string>();
    let token: string | undefined;
    for (let page = 1; ; page++) {
      const left = listDeadlineMs - (Date.now() - started);
      if (left <= 0) throw tooLong(late(page - 1));
      let r: JsonObject;
      try {
        r = await this.getJson(
          `${what} (page ${page})`,
          'listArtifacts',
          [taskId, runId, token === undefined ? {} : { continuationToken: token }],
          Math.min(left, requestDeadlineMs),
        );
      } catch (e) {
        if (Date.now() - started >= listDeadlineMs) throw tooLong(late(page - 1), e);
        throw e;
      }
      out.push(...parseArtifactList(r, `${what} (page ${page}) from ${this.description}`));
      if (out.length > maxEntries) throw tooLong(`more than ${maxEntries} entries`);
      const next = r.continuationToken;
      if (next === undefined || next === null || next === '') return out;
      if (typeof next !== 'string' || next.length > MAX_CONTINUATION_TOKEN)
        throw new CotError(
          'JSON_INVALID',
          `${what} (page ${page}) from ${this.description}: continuationToken is not a string of at most ${MAX_CONTINUATION_TOKEN} characters`,
        );
      if (tokens.has(next)) throw tooLong(`page ${page} repeats an earlier continuation token (a loop)`);
      if (page >= maxPages) throw tooLong(`more than ${maxPages} pages`);
      tokens.add(next);
      token = next;
    }
  }

  /** The plain URL of an artifact of a run (the queue's getArtifact), as openArtifact asks it for a public one. */
  async artifactUrl(taskId: string, runId: number, name: string): Promise<string> {
    assertTaskId(taskId);
    const { queue } = await this.api();
    return queue.buildUrl(queue.getArtifact, taskId, runId, name);
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
        ? await this.artifactUrl(taskId, run, name)
        : queue.buildSignedUrl(queue.getArtifact, taskId, run, name, { expiration: 15 * 60 });
    // undefined options take httpGet's defaults
    const body = await httpGet(url, {
      allowedHosts: this.o.allowedHosts,
      maxBytes: limits.maxBytes,
      timeoutMs: limits.timeoutMs ?? this.o.timeoutMs,
      deadlineMs: limits.deadlineMs ?? this.o.downloadDeadlineMs,
      minBytesPerSecond: limits.minBytesPerSecond ?? this.o.minBytesPerSecond,
      rateWindowMs: limits.rateWindowMs,
      retries: this.o.retries ?? 5,
      retryDelayMs: this.o.retryDelayMs ?? 100,
      ...(this.o.allowReferenceArtifacts ? {} : { refuseStorageTypes: ['reference'] }),
    }).catch((e: unknown) => {
      // every error names its artifact, task and run, as the directory store's do
      const what = `artifact ${name} of task ${taskId} run ${run}`;
      throw this.withAuthHint(e instanceof CotError ? within(e, what) : convert(e, what));
    });
    return {
      stream: body.stream,
      ...(body.length !== undefined ? { size: body.length } : {}),
      ...(body.headers['content-type'] ? { contentType: body.headers['content-type'] } : {}),
      runId: run,
    };
  }

  /**
   * Create an artifact: the queue's createArtifact, then the bytes (s3: a PUT to the putUrl through httpPutFile;
   * object: the object service's upload, then finishArtifact). With `expectedSha256`, bytes that hash otherwise are
   * ARTIFACT_CHANGED (an object artifact is then never finished, so never visible). Throws FILE_* for an unreadable
   * file, and the code of the queue's or the upload's error (see codeForStatus; TRANSPORT_AUTH with a hint when no
   * credentials were given).
   */
  async createArtifact(a: CreateArtifactInput): Promise<void> {
    const { queue } = await this.api();
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
      throw this.withAuthHint(convert(e, `createArtifact ${a.name} for task ${a.taskId} run ${a.runId}`));
    }
    if (storageType === 's3') await this.putS3(a, res.putUrl);
    else await this.uploadObject(a, size, res);
  }

  /** The bytes of an s3 artifact to the queue's putUrl (httpPutFile: retried, gzipped on the wire when asked). */
  private async putS3(a: CreateArtifactInput, putUrl: string): Promise<void> {
    const put = await httpPutFile(putUrl, a.path, {
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
  }

  /**
   * The bytes of an object artifact through the object service (taskcluster-client's upload, which retries with
   * the client's own backoff), then finishArtifact, unless the bytes read were not the expected ones.
   */
  private async uploadObject(a: CreateArtifactInput, size: number, res: Tc): Promise<void> {
    const { tc, queue } = await this.api();
    let lastHash: Digester | undefined;
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
          lastHash = new Digester(['sha256']);
          return hashedReadStream(a.path, lastHash);
        },
        retries: this.o.retries ?? 5,
        delayFactor: this.o.retryDelayMs ?? 100,
      });
      // the object is not visible until finishArtifact: stop there if the bytes were not the hashed ones
      const found = lastHash?.result().digests.sha256;
      if (a.expectedSha256 !== undefined && found !== a.expectedSha256)
        throw artifactChanged(a, found ?? '(nothing read)');
      await queue.finishArtifact(a.taskId, a.runId, a.name, { uploadId: res.uploadId });
    } catch (e) {
      throw convert(e, `object upload of ${a.name}`);
    }
  }
}
