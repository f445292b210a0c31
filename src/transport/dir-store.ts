import { closeSync, createReadStream, type Dirent, readdirSync, statSync } from 'node:fs';
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { CotError, fsError } from '../errors.js';
import { assertArtifactName } from '../hashing/artifacts.js';
import { digestFile } from '../hashing/digest.js';
import { isJsonObject, type JsonObject, parseJsonBytes } from '../json/parse.js';
import { isTempName, stagedWriteAt, writeFileAtomic } from '../util/atomic.js';
import { fsReason } from '../util/fs-paths.js';
import { checkOption } from '../util/options.js';
import { openRegularFileSync, readBoundedSync, readFileBoundedSync } from '../util/read.js';
import { assertRunId, assertTaskId } from '../util/task-id.js';
import { contentTypeFor } from './content-type.js';
import {
  type ArtifactInfo,
  artifactChanged,
  type CreateArtifactInput,
  type DownloadLimits,
  type OpenedArtifact,
  type RunStatus,
  type TaskQueue,
  type TaskStatus,
} from './queue.js';

const MAX_TASK_BYTES = 16 * 1024 * 1024;

/**
 * The embedded queue: a folder, no server. Layout (documented in the README):
 *   DIR/<taskId>/task.json                                 the task definition, as the queue serves it
 *   DIR/<taskId>/status.json                               optional: the queue's status response ({"status": ...})
 *   DIR/<taskId>/runs/<runId>/artifacts/<artifact name>    the artifact's bytes (names keep their "/" folders)
 *   DIR/<taskId>/runs/<runId>/artifacts.json               optional: the queue's listArtifacts response
 *                                                          ({"artifacts": [...]}), authoritative for the listing
 * A run exists when its folder exists. Without status.json every run folder is a completed run with no times;
 * without artifacts.json every file is an s3 artifact. Artifact names are checked (no "..", absolute, backslash,
 * NUL), so no name can reach outside its run folder. A task, run or artifact the store does not have is
 * QUEUE_NOT_FOUND; a store folder that does not exist is FILE_NOT_FOUND (bad input either way, exit 4); a malformed
 * task id or run id is OPTIONS_INVALID.
 */
export class DirectoryQueue implements TaskQueue {
  readonly root: string;
  readonly description: string;

  constructor(dir: string) {
    checkOption('DirectoryQueue', 'dir', dir, { kind: 'string', hint: 'the store folder' });
    this.root = resolve(dir);
    this.description = `directory store ${this.root}`;
  }

  taskDir(taskId: string): string {
    assertTaskId(taskId);
    return join(this.root, taskId);
  }

  runDir(taskId: string, runId: number): string {
    assertRunId(runId);
    return join(this.taskDir(taskId), 'runs', String(runId));
  }

  artifactPath(taskId: string, runId: number, name: string): string {
    assertArtifactName(name);
    return join(this.runDir(taskId, runId), 'artifacts', ...name.split('/'));
  }

  /**
   * The store's own folder must exist: a store that does not exist is FILE_NOT_FOUND (bad input), never a task
   * that does not exist in it (QUEUE_NOT_FOUND); a file there is FILE_UNREADABLE.
   */
  private async assertRoot(): Promise<void> {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(this.root);
    } catch (e) {
      const err = fsError(e, this.root, 'directory store');
      throw err.code === 'FILE_NOT_FOUND'
        ? new CotError('FILE_NOT_FOUND', `directory store ${this.root} does not exist`, { cause: e })
        : err;
    }
    if (!st.isDirectory())
      throw new CotError('FILE_UNREADABLE', `directory store ${this.root} is not a directory`);
  }

  async task(taskId: string): Promise<JsonObject> {
    const p = join(this.taskDir(taskId), 'task.json');
    let bytes: Buffer;
    try {
      bytes = readFileBoundedSync(
        p,
        MAX_TASK_BYTES,
        () => new CotError('FILE_UNREADABLE', `${p} is too large for a task definition`),
      );
    } catch (e) {
      const err = fsError(e, p, `task ${taskId} in ${this.description}`);
      if (err.code === 'FILE_NOT_FOUND') {
        await this.assertRoot();
        throw new CotError('QUEUE_NOT_FOUND', `task ${taskId} not found in ${this.description}`, {
          cause: e,
        });
      }
      throw err;
    }
    const v = parseJsonBytes(bytes, { source: p });
    if (!isJsonObject(v)) throw new CotError('JSON_INVALID', `${p} must hold a JSON object`);
    return v;
  }

  async latestRunId(taskId: string): Promise<number> {
    let names: string[];
    try {
      names = readdirSync(join(this.taskDir(taskId), 'runs'));
    } catch (e) {
      await this.assertRoot();
      throw new CotError('QUEUE_NOT_FOUND', `task ${taskId} has no runs in ${this.description}`, {
        cause: e,
      });
    }
    const runs = names.filter((n) => /^(0|[1-9][0-9]*)$/.test(n)).map(Number);
    if (runs.length === 0)
      throw new CotError('QUEUE_NOT_FOUND', `task ${taskId} has no runs in ${this.description}`);
    return Math.max(...runs);
  }

  /** Read a small JSON object file of the store, or undefined when it does not exist. */
  private async readJsonFile(p: string, what: string): Promise<JsonObject | undefined> {
    let bytes: Buffer;
    try {
      bytes = readFileBoundedSync(
        p,
        MAX_TASK_BYTES,
        () => new CotError('FILE_UNREADABLE', `${p} is too large for ${what}`),
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(e, p, what);
    }
    const v = parseJsonBytes(bytes, { source: p });
    if (!isJsonObject(v)) throw new CotError('JSON_INVALID', `${p} must hold a JSON object`);
    return v;
  }

  async status(taskId: string): Promise<TaskStatus> {
    const p = join(this.taskDir(taskId), 'status.json');
    const stored = await this.readJsonFile(p, `status of task ${taskId}`);
    if (stored) return parseTaskStatus(stored, taskId, p);
    let runs: RunStatus[] = [];
    try {
      const latest = await this.latestRunId(taskId);
      runs = Array.from({ length: latest + 1 }, (_, runId) => ({ runId, state: 'completed' }));
    } catch (e) {
      if (!(e instanceof CotError && e.code === 'QUEUE_NOT_FOUND')) throw e;
      await this.task(taskId); // a task without runs exists; an unknown task is QUEUE_NOT_FOUND
    }
    return { taskId, state: runs.length ? 'completed' : 'unscheduled', runs };
  }

  async listArtifacts(taskId: string, runId: number): Promise<ArtifactInfo[]> {
    const base = join(this.runDir(taskId, runId), 'artifacts');
    try {
      statSync(this.runDir(taskId, runId));
    } catch (e) {
      await this.assertRoot();
      throw new CotError('QUEUE_NOT_FOUND', `task ${taskId} run ${runId} not found in ${this.description}`, {
        cause: e,
      });
    }
    const listing = join(this.runDir(taskId, runId), 'artifacts.json');
    const stored = await this.readJsonFile(listing, `artifacts of task ${taskId} run ${runId}`);
    if (stored) return parseArtifactList(stored, listing);
    const out: ArtifactInfo[] = [];
    const expires = await this.task(taskId).then(
      (t) => (typeof t.expires === 'string' ? t.expires : ''),
      () => '',
    );
    const walk = (dir: string, prefix: string): void => {
      let ents: Dirent[];
      try {
        ents = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of ents) {
        if (isTempName(e.name)) continue;
        if (e.isDirectory()) walk(join(dir, e.name), `${prefix}${e.name}/`);
        else if (e.isFile())
          out.push({
            name: `${prefix}${e.name}`,
            storageType: 's3',
            contentType: contentTypeFor(e.name),
            expires,
          });
      }
    };
    walk(base, '');
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The stored listing entry of one artifact, when the run has an artifacts.json. */
  async artifactInfo(taskId: string, runId: number, name: string): Promise<ArtifactInfo | undefined> {
    const listing = join(this.runDir(taskId, runId), 'artifacts.json');
    const stored = await this.readJsonFile(listing, `artifacts of task ${taskId} run ${runId}`);
    if (!stored) return undefined;
    return parseArtifactList(stored, listing).find((a) => a.name === name);
  }

  async openArtifact(
    taskId: string,
    runId: number | undefined,
    name: string,
    limits: DownloadLimits = {},
  ): Promise<OpenedArtifact> {
    const run = runId ?? (await this.latestRunId(taskId));
    const p = this.artifactPath(taskId, run, name);
    const info = await this.artifactInfo(taskId, run, name);
    if (info?.storageType === 'error')
      throw new CotError(
        'QUEUE_NOT_FOUND',
        `artifact ${name} of task ${taskId} run ${run} is an error artifact: the worker never produced it`,
        { details: { storageType: info.storageType } },
      );
    if (info?.storageType === 'reference')
      throw new CotError(
        'TRANSPORT_REDIRECT_REFUSED',
        `artifact ${name} of task ${taskId} run ${run} is a reference artifact: its bytes come from a URL the task chose, which a directory store does not follow`,
        { details: { storageType: info.storageType } },
      );
    let opened: ReturnType<typeof openRegularFileSync>;
    try {
      opened = openRegularFileSync(p, { name });
    } catch (e) {
      if (e instanceof CotError && e.code === 'FILE_NOT_FOUND') {
        await this.assertRoot();
        throw new CotError(
          'QUEUE_NOT_FOUND',
          `artifact ${name} of task ${taskId} run ${run} not found in ${this.description}`,
          { cause: e },
        );
      }
      throw e;
    }
    const max = limits.maxBytes ?? DEFAULT_MAX_BYTES;
    const tooLarge = (size: number) =>
      new CotError(
        'TRANSPORT_TOO_LARGE',
        `artifact ${name} of task ${taskId} is ${size} bytes, over the limit of ${max}`,
      );
    const { fd, stats } = opened;
    const size = stats.size;
    let bytes: Buffer | undefined;
    try {
      if (size > max) throw tooLarge(size);
      // a small artifact in one read: no stream buffer to allocate and collect (see openRegularFileSync)
      if (size <= WHOLE_READ_BYTES) bytes = readBoundedSync(fd, max, tooLarge, stats);
    } catch (e) {
      closeSync(fd);
      throw e instanceof CotError ? e : fsError(e, p, `cannot read artifact ${name}`);
    }
    let stream: Readable;
    if (bytes === undefined) stream = createReadStream(p, { fd, highWaterMark: STREAM_CHUNK_BYTES });
    else {
      closeSync(fd);
      stream = Readable.from([bytes], { objectMode: false });
    }
    return { stream, size: bytes?.length ?? size, contentType: contentTypeFor(name), runId: run };
  }

  /** Write the task definition (atomically). */
  async putTask(taskId: string, task: JsonObject | Buffer): Promise<void> {
    const p = join(this.taskDir(taskId), 'task.json');
    await mkdir(dirname(p), { recursive: true });
    await writeFileAtomic(
      p,
      Buffer.isBuffer(task) ? task : Buffer.from(`${JSON.stringify(task, null, 2)}\n`),
    );
  }

  /** Create a run folder (a run exists when its folder exists). */
  async ensureRun(taskId: string, runId: number): Promise<void> {
    await mkdir(join(this.runDir(taskId, runId), 'artifacts'), { recursive: true });
  }

  async createArtifact(input: CreateArtifactInput): Promise<void> {
    const dest = this.artifactPath(input.taskId, input.runId, input.name);
    try {
      await stat(this.runDir(input.taskId, input.runId));
    } catch (e) {
      await this.assertRoot();
      throw new CotError(
        'QUEUE_NOT_FOUND',
        `task ${input.taskId} run ${input.runId} does not exist in ${this.description}`,
        { cause: e },
      );
    }
    await mkdir(dirname(dest), { recursive: true });
    const staged = stagedWriteAt(dest);
    try {
      await copyFile(input.path, staged.temp);
      if (input.expectedSha256 !== undefined) {
        const found = (await digestFile(staged.temp, ['sha256'])).digests.sha256!;
        if (found !== input.expectedSha256) throw artifactChanged(input, found);
      }
      await staged.commit();
    } catch (e) {
      await staged.discard();
      if (e instanceof CotError) throw e;
      // the reason without Node's paths: they would name the hidden temp file
      throw fsError(
        Object.assign(new Error(fsReason(e)), { code: (e as NodeJS.ErrnoException).code }),
        input.path,
        `cannot store artifact ${input.name}`,
      );
    }
  }

  /** Store bytes from a stream at an artifact name, atomically (used by the server and by fetch). */
  async writeArtifactStream(
    taskId: string,
    runId: number,
    name: string,
    source: NodeJS.ReadableStream,
  ): Promise<void> {
    const dest = this.artifactPath(taskId, runId, name);
    await mkdir(dirname(dest), { recursive: true });
    await atomicWriteStream(dest, source);
  }
}

const DEFAULT_MAX_BYTES = 8 * 1024 ** 3;
/** Artifacts up to this size are read whole at open (most chain-of-trust documents and signatures, small files). */
const WHOLE_READ_BYTES = 1024 * 1024;
/** Read size of a larger artifact's stream. */
const STREAM_CHUNK_BYTES = 2 * 1024 * 1024;

const optString = (o: JsonObject, k: string) => (typeof o[k] === 'string' ? { [k]: o[k] as string } : {});

/** Check a stored status response ({"status": {"runs": [...]}}) and keep what the verifier uses. */
export function parseTaskStatus(v: JsonObject, taskId: string, source: string): TaskStatus {
  const status = v.status;
  const bad = (why: string): never => {
    throw new CotError('JSON_INVALID', `${source}: not a queue status response: ${why}`);
  };
  if (!status || typeof status !== 'object' || Array.isArray(status)) return bad('no "status" object');
  if (!Array.isArray(status.runs)) return bad('status.runs is not a list');
  const runs = status.runs.map((r, i): RunStatus => {
    if (!r || typeof r !== 'object' || Array.isArray(r)) return bad(`runs[${i}] is not an object`);
    if (r.runId !== i) return bad(`runs[${i}].runId is ${JSON.stringify(r.runId)}, expected ${i}`);
    if (typeof r.state !== 'string') return bad(`runs[${i}].state is not a string`);
    return {
      runId: i,
      state: r.state,
      ...optString(r, 'reasonCreated'),
      ...optString(r, 'reasonResolved'),
      ...optString(r, 'workerGroup'),
      ...optString(r, 'workerId'),
      ...optString(r, 'scheduled'),
      ...optString(r, 'started'),
      ...optString(r, 'resolved'),
    };
  });
  return { taskId, ...optString(status, 'state'), runs };
}

/**
 * Check a listArtifacts response ({"artifacts": [...]}), from the queue or stored, and keep what the verifier uses.
 * Names are not judged here (a name the store cannot hold is refused where it becomes a path; only consumed names
 * matter to a chain).
 */
export function parseArtifactList(v: JsonObject, source: string): ArtifactInfo[] {
  const bad = (why: string): never => {
    throw new CotError('JSON_INVALID', `${source}: not a queue artifact listing: ${why}`);
  };
  if (!Array.isArray(v.artifacts)) return bad('no "artifacts" list');
  return v.artifacts.map((a, i) => {
    if (!a || typeof a !== 'object' || Array.isArray(a)) return bad(`artifacts[${i}] is not an object`);
    if (typeof a.name !== 'string') return bad(`artifacts[${i}].name is not a string`);
    if (typeof a.storageType !== 'string') return bad(`artifacts[${i}].storageType is not a string`);
    return {
      name: a.name,
      storageType: a.storageType,
      contentType: typeof a.contentType === 'string' ? a.contentType : contentTypeFor(a.name),
      expires: typeof a.expires === 'string' ? a.expires : '',
    };
  });
}

/** Stream into a temp file in the destination folder, fsync, rename (stagedWriteAt): readers never see a partial file. */
async function atomicWriteStream(dest: string, source: NodeJS.ReadableStream): Promise<number> {
  const staged = stagedWriteAt(dest);
  const bytes = await staged.pipeFrom(source);
  await staged.commit();
  return bytes;
}
