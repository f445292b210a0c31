/**
 * Issue 9, section 3: a process of the task user still running while the worker generates can never make it sign
 * or publish a file outside the artifact folder, nor publish bytes that were not hashed.
 *
 * The racer is a real child process (node) that loops rename/symlink swaps and in-place rewrites in the task's
 * folders while cot generates, signs and uploads, many times over. Stores are real: a DirectoryQueue, and
 * `cot queue serve` (startQueueServer) reached through the real taskcluster-client with storage types s3 and
 * object. Invariants checked on every run:
 *  - the signed document never lists the digest of a file outside the artifact folder;
 *  - every artifact that lands in the store is byte-for-byte what cot hashed (the digest the document lists);
 *  - a run that fails, fails with a coded CotError and uploads nothing of the chain-of-trust document;
 *  - the task's additional data, swapped for a symlink to a worker-only file, is never merged.
 * Deterministic descriptor checks (no racing) follow at the end.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enumerateArtifactDir } from '../../src/hashing/artifacts.js';
import {
  CotError,
  generateChainOfTrust,
  generateKeyPair,
  hashArtifacts,
  loadSigningKey,
  loadVerificationKeys,
  type SigningKey,
  verifyLink,
  workerChainOfTrust,
} from '../../src/index.js';
import {
  type CreateArtifactInput,
  DirectoryQueue,
  type QueueServer,
  startQueueServer,
  TaskclusterQueue,
  type TaskQueue,
  uploadArtifacts,
} from '../../src/queue.js';
import { descriptorPath } from '../../src/util/fs-paths.js';
import { openRegularFile } from '../../src/util/read.js';
import { createStagingDir } from '../../src/util/staging.js';
import { readAdditionalData } from '../../src/worker/worker.js';
import { generateArgs, runCli } from '../helpers/cli.js';
import { codeOf, errorOf, sampleTask, TASK_ID, tempDir } from '../helpers/env.js';

const CREDS = { clientId: 'project/cot/worker', accessToken: 'not-a-real-secret-but-long-enough-for-hawk' };
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const SECRET = Buffer.from('WORKER-ONLY SECRET: the task user must never see this published\n');
const SECRET_SHA256 = sha256(SECRET);
const SECRET_JSON = '{"environment": {"workerSecret": "WORKER-ONLY"}}';
/** Runs per racing test (COT_RACE_RUNS overrides); each is a full generate, and upload where tested. */
const RUNS = Number(process.env.COT_RACE_RUNS ?? 100);
/** Racing tests go on (up to 4 x RUNS) until this many runs succeeded, so that the success path is exercised too. */
const MIN_OK = 5;
const more = (i: number, ok = 0) => i < RUNS || (ok < MIN_OK && i < 4 * RUNS);
const COT_NAMES = ['public/chain-of-trust.json', 'public/chain-of-trust.json.sig'];

/**
 * The racer: swaps folders for symlinks to a worker-only folder and back, files for symlinks to a worker-only
 * file and back (atomic renames from a scratch folder beside the artifact folder), and rewrites files in place
 * through their own inode, forever, holding each state for a random fraction of a millisecond or two.
 */
const RACER = `
const fs = require('node:fs');
const spec = JSON.parse(process.argv[1]);
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const attempt = (f) => { try { f(); } catch {} };
let n = 0;
for (;;) {
  n++;
  for (const s of spec.dirSwaps) {
    if (Math.random() >= spec.chance) continue;
    attempt(() => fs.renameSync(s.dir, s.scratch + '/dir'));
    attempt(() => fs.symlinkSync(s.outside, s.dir));
  }
  for (const s of spec.linkSwaps) {
    if (Math.random() >= spec.chance) continue;
    attempt(() => { fs.rmSync(s.scratch + '/link', { force: true }); fs.symlinkSync(s.outside, s.scratch + '/link'); fs.renameSync(s.scratch + '/link', s.file); });
  }
  pause(Math.random() * spec.badMs);
  for (const s of spec.dirSwaps) {
    attempt(() => fs.unlinkSync(s.dir));
    attempt(() => fs.renameSync(s.scratch + '/dir', s.dir));
  }
  for (const s of spec.linkSwaps) {
    attempt(() => { fs.writeFileSync(s.scratch + '/file', s.content.replace('%N%', String(n))); fs.renameSync(s.scratch + '/file', s.file); });
  }
  for (const f of spec.inPlace) {
    attempt(() => {
      const fd = fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
      try { fs.writeSync(fd, 'rewritten in place ' + n + '\\n', 0); } finally { fs.closeSync(fd); }
    });
  }
  pause(Math.random() * spec.goodMs);
}
`;

interface RacerSpec {
  dirSwaps: { dir: string; outside: string; scratch: string }[];
  linkSwaps: { file: string; outside: string; scratch: string; content: string }[];
  inPlace: string[];
  /** probability that each folder or file is swapped for a symlink in a cycle */
  chance: number;
  badMs: number;
  goodMs: number;
}

let racer: ChildProcess | undefined;
async function startRacer(spec: RacerSpec): Promise<void> {
  for (const s of [...spec.dirSwaps, ...spec.linkSwaps]) await mkdir(s.scratch, { recursive: true });
  racer = spawn(process.execPath, ['-e', RACER, JSON.stringify(spec)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await new Promise((r) => setTimeout(r, 50));
}
async function stopRacer(): Promise<void> {
  const p = racer;
  racer = undefined;
  if (!p || p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL'); // the racer never returns to its event loop: no handler could run
  await exited;
}
afterEach(stopRacer);

let d: string;
afterAll(async () => {
  await stopRacer();
  await rm(d, { recursive: true, force: true }); // tempDir() called in a hook is never removed
});
let key: SigningKey;
let secretDir: string;
beforeAll(async () => {
  d = await mkdtemp(join(tmpdir(), 'cot-races-'));
  await generateKeyPair({ type: 'ed25519', out: join(d, 'k'), pubOut: join(d, 'k.pub'), now: new Date() });
  key = await loadSigningKey(join(d, 'k'));
  // the worker-only folder: same file names as the task's, so a swapped folder lists identically
  secretDir = join(d, 'worker-only');
  await mkdir(secretDir);
  for (const n of ['f0.bin', 'f1.bin', 'f2.bin', 'f3.bin']) await writeFile(join(secretDir, n), SECRET);
  await writeFile(join(d, 'worker-only.json'), SECRET_JSON);
  await writeFile(join(d, 'task.json'), JSON.stringify(sampleTask()));
});

/** A fresh artifact folder: public/a.bin, public/b.bin and two files in each of public/sub0..sub2. */
async function artifactTree(name: string): Promise<string> {
  const art = join(d, name);
  for (let s = 0; s < 3; s++) {
    await mkdir(join(art, `public/sub${s}`), { recursive: true });
    for (let f = 0; f < 2; f++)
      await writeFile(join(art, `public/sub${s}/f${f}.bin`), `task file ${s}/${f}\n`);
  }
  await writeFile(join(art, 'public/a.bin'), 'task artifact a\n');
  await writeFile(join(art, 'public/b.bin'), 'task artifact b\n');
  return art;
}

function racerFor(
  art: string,
  o: { files: boolean; chance?: number; badMs?: number; goodMs?: number },
): RacerSpec {
  const scratch = join(art, '..', `${art.split('/').pop()}-scratch`);
  return {
    dirSwaps: [0, 1, 2].map((s) => ({
      dir: join(art, `public/sub${s}`),
      outside: secretDir,
      scratch: join(scratch, `sub${s}`),
    })),
    linkSwaps: o.files
      ? [
          {
            file: join(art, 'public/a.bin'),
            outside: join(secretDir, 'f0.bin'),
            scratch: join(scratch, 'a'),
            content: 'task artifact a, version %N%\n',
          },
        ]
      : [],
    inPlace: o.files
      ? [
          join(art, 'public/b.bin'),
          join(art, 'public/chain-of-trust.json'),
          join(art, 'public/chain-of-trust.json.sig'),
        ]
      : [],
    chance: o.chance ?? 1,
    badMs: o.badMs ?? 1,
    goodMs: o.goodMs ?? 2,
  };
}

/** Every digest a signed document lists. */
const listedDigests = (artifacts: Record<string, Record<string, string>>) =>
  Object.values(artifacts).flatMap((a) => Object.values(a));

describe('race 1: a folder swapped for a symlink between listing and hashing', () => {
  it('`cot generate` (no upload): the signed document never lists a file outside the artifact folder', async () => {
    const art = await artifactTree('race1');
    const keys = await loadVerificationKeys([join(d, 'k.pub')]);
    await startRacer(racerFor(art, { files: false, badMs: 0.5, goodMs: 1 }));
    const outcomes: Record<string, number> = {};
    for (let i = 0; more(i, outcomes.ok); i++) {
      const out = join(d, 'race1-out', String(i));
      const r = await runCli(
        new Date(),
        ...generateArgs(
          join(d, 'task.json'),
          '--key',
          join(d, 'k'),
          '--artifacts',
          art,
          '--out',
          out,
          '--json',
        ),
      );
      if (r.code === 0) {
        const data = await readFile(join(out, 'chain-of-trust.json'));
        const link = await verifyLink({
          data,
          signature: await readFile(join(out, 'chain-of-trust.json.sig')),
          keys,
          at: new Date(),
        });
        expect(listedDigests(link.document.artifacts)).not.toContain(SECRET_SHA256);
        outcomes.ok = (outcomes.ok ?? 0) + 1;
      } else {
        const code = JSON.parse(r.out).error.code as string;
        expect(code, r.out).toMatch(/^(ARTIFACT_UNSAFE_FILE|FILE_NOT_FOUND|FILE_UNREADABLE)$/);
        outcomes[code] = (outcomes[code] ?? 0) + 1;
        expect(await readdir(out).catch(() => [])).toEqual([]); // a failed run writes nothing
      }
    }
    console.info('race 1 outcomes', outcomes);
    expect(outcomes.ok).toBeGreaterThanOrEqual(MIN_OK);
  });
});

/** A queue that records, per artifact, the digest cot said it hashed; everything else goes to the real queue. */
class Recording implements TaskQueue {
  readonly expected = new Map<string, string | undefined>();
  readonly description: string;
  constructor(readonly inner: TaskQueue) {
    this.description = inner.description;
  }
  task(taskId: string) {
    return this.inner.task(taskId);
  }
  latestRunId(taskId: string) {
    return this.inner.latestRunId(taskId);
  }
  status(taskId: string) {
    return this.inner.status(taskId);
  }
  listArtifacts(taskId: string, runId: number) {
    return this.inner.listArtifacts(taskId, runId);
  }
  openArtifact(...a: Parameters<TaskQueue['openArtifact']>) {
    return this.inner.openArtifact(...a);
  }
  createArtifact(input: CreateArtifactInput) {
    this.expected.set(input.name, input.expectedSha256);
    return this.inner.createArtifact(input);
  }
}

/** The files of one run in a directory store: name -> bytes. */
async function storedRun(store: DirectoryQueue, runId: number): Promise<Map<string, Buffer>> {
  const base = join(store.runDir(TASK_ID, runId), 'artifacts');
  const out = new Map<string, Buffer>();
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(dir, e.name), `${prefix}${e.name}/`);
      else if (!e.name.endsWith('.tmp')) out.set(`${prefix}${e.name}`, await readFile(join(dir, e.name)));
    }
  };
  await walk(base, '');
  return out;
}

type Kind = 'directory store' | 'queue server, s3' | 'queue server, object';

describe('race 2: artifacts swapped or rewritten after hashing, before upload (and race 1 at the same time)', () => {
  let server: QueueServer | undefined;
  afterAll(async () => {
    await server?.close();
  });

  const kinds: Kind[] = ['directory store', 'queue server, s3', 'queue server, object'];
  for (const kind of kinds) {
    it(`${kind}: the store holds exactly what was hashed, or the run fails with a code and no document is uploaded`, async () => {
      const slug = kind.replace(/[^a-z0-9]+/g, '-');
      const art = await artifactTree(`race2-${slug}`);
      const store = new DirectoryQueue(join(d, `store-${slug}`));
      await store.putTask(TASK_ID, sampleTask());
      let queue: TaskQueue = store;
      if (kind !== 'directory store') {
        server = await startQueueServer({ dir: store.root, credentials: CREDS });
        queue = new TaskclusterQueue({
          rootUrl: server.rootUrl,
          credentials: CREDS,
          retries: 5, // transient network errors are not what this test is about
          retryDelayMs: 5,
        });
      }
      const storageType = kind === 'queue server, object' ? 'object' : 's3';
      const keys = await loadVerificationKeys([join(d, 'k.pub')]);
      await startRacer(racerFor(art, { files: true, chance: 0.5 }));
      const outcomes: Record<string, number> = {};
      for (let runId = 0; more(runId, outcomes.ok); runId++) {
        await store.ensureRun(TASK_ID, runId);
        const recording = new Recording(queue);
        let failure: CotError | undefined;
        try {
          const r = await workerChainOfTrust({
            task: sampleTask(),
            taskId: TASK_ID,
            runId,
            workerGroup: 'g',
            workerId: 'w',
            artifactDir: art,
            keys: [key],
            format: 'ed25519',
            outDir: join(art, 'public'),
            now: new Date(),
            upload: { queue: recording, storageType },
          });
          expect(listedDigests(r.document.artifacts)).not.toContain(SECRET_SHA256);
          outcomes.ok = (outcomes.ok ?? 0) + 1;
        } catch (e) {
          if (!(e instanceof CotError)) throw e;
          failure = e;
          outcomes[e.code] = (outcomes[e.code] ?? 0) + 1;
        }
        const stored = await storedRun(store, runId);
        // nothing was uploaded that cot did not hash: every stored byte hashes to the digest the document lists
        for (const [name, bytes] of stored) {
          expect(recording.expected.has(name), `${kind} run ${runId}: ${name} stored but never sent`).toBe(
            true,
          );
          expect(sha256(bytes), `${kind} run ${runId}: ${name} differs from what was hashed`).toBe(
            recording.expected.get(name),
          );
          expect(sha256(bytes)).not.toBe(SECRET_SHA256);
        }
        for (const digest of recording.expected.values()) expect(digest).not.toBe(SECRET_SHA256);
        const doc = stored.get('public/chain-of-trust.json');
        if (failure) {
          // a failed run uploads nothing of the document
          for (const n of COT_NAMES)
            expect(stored.has(n), `${kind} run ${runId}: ${n} after ${failure.code}`).toBe(false);
        } else {
          // a successful run: the stored document verifies and lists exactly the stored payload
          expect(doc).toBeDefined();
          const link = await verifyLink({
            data: doc!,
            signature: stored.get('public/chain-of-trust.json.sig')!,
            keys,
            at: new Date(),
          });
          const payload = [...stored.keys()].filter((n) => !COT_NAMES.includes(n)).sort();
          expect(Object.keys(link.document.artifacts).sort()).toEqual(payload);
          for (const n of payload) expect(link.document.artifacts[n]!.sha256).toBe(sha256(stored.get(n)!));
        }
      }
      await stopRacer();
      console.info(`race 2 (${kind}) outcomes`, outcomes);
      expect(outcomes.ok).toBeGreaterThanOrEqual(MIN_OK);
      await server?.close();
      server = undefined;
    });
  }
});

describe('race 3: the additional data swapped for a symlink to a worker-only file', () => {
  async function additionalDataRacer(taskDir: string): Promise<void> {
    await mkdir(taskDir, { recursive: true });
    const file = join(taskDir, 'chain-of-trust-additional-data.json');
    await writeFile(file, '{"environment": {"fromTask": "ok"}}');
    await startRacer({
      dirSwaps: [],
      linkSwaps: [
        {
          file,
          outside: join(d, 'worker-only.json'),
          scratch: `${taskDir}-scratch`,
          content: '{"environment": {"fromTask": "ok"}, "version": %N%}',
        },
      ],
      inPlace: [],
      chance: 1,
      badMs: 0.2,
      goodMs: 0.2,
    });
  }

  it('readAdditionalData never returns the worker-only file', async () => {
    const t = join(d, 'race3-read');
    await additionalDataRacer(t);
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 3000; i++) {
      try {
        const v = await readAdditionalData(t);
        expect(JSON.stringify(v)).not.toContain('WORKER-ONLY');
        outcomes.read = (outcomes.read ?? 0) + 1;
      } catch (e) {
        if (!(e instanceof CotError)) throw e;
        outcomes[e.code] = (outcomes[e.code] ?? 0) + 1;
      }
    }
    console.info('race 3 outcomes', outcomes);
    expect(outcomes.read).toBeGreaterThan(0);
  });

  it('workerChainOfTrust never merges it into the signed document', async () => {
    const t = join(d, 'race3-worker');
    const art = join(t, 'art');
    await mkdir(join(art, 'public'), { recursive: true });
    await writeFile(join(art, 'public/a.bin'), 'a');
    await additionalDataRacer(t);
    for (let i = 0; i < 150; i++) {
      try {
        const r = await workerChainOfTrust({
          task: sampleTask(),
          taskId: TASK_ID,
          runId: 0,
          workerGroup: 'g',
          workerId: 'w',
          artifactDir: art,
          keys: [key],
          format: 'ed25519',
          outDir: join(d, 'race3-out'),
          now: new Date(),
          taskDir: t,
        });
        expect(r.canonical).not.toContain('WORKER-ONLY');
      } catch (e) {
        if (!(e instanceof CotError)) throw e;
      }
    }
  });
});

describe('descriptor checks and private copies (deterministic)', () => {
  it('a listed file whose folder became a symlink to a worker-only folder is refused when hashed', async () => {
    const art = await artifactTree('swap-once');
    const sources = await enumerateArtifactDir(art);
    await rename(join(art, 'public/sub1'), join(d, 'swap-once-sub1'));
    await symlink(secretDir, join(art, 'public/sub1'));
    expect(await codeOf(hashArtifacts(sources))).toBe('ARTIFACT_UNSAFE_FILE');
  });

  it('a symlink swapped in two folders above a listed file is refused too', async () => {
    const art = await artifactTree('swap-deep');
    await mkdir(join(art, 'public/deep/er'), { recursive: true });
    await writeFile(join(art, 'public/deep/er/f0.bin'), 'deep');
    const sources = await enumerateArtifactDir(art);
    await rm(join(art, 'public/deep'), { recursive: true });
    await mkdir(join(art, 'public/deep'));
    await symlink(secretDir, join(art, 'public/deep/er'));
    expect(await codeOf(hashArtifacts(sources))).toBe('ARTIFACT_UNSAFE_FILE');
  });

  it('O_NOFOLLOW alone follows a symlinked intermediate folder; the descriptor check refuses it', async () => {
    const art = join(d, 'intermediate');
    await mkdir(art);
    await symlink(secretDir, join(art, 'sub'));
    const path = join(art, 'sub/f0.bin');
    const fh = await openRegularFile(path, { noFollow: true }); // the last component is a regular file
    await fh.close();
    const err = await errorOf(openRegularFile(path, { noFollow: true, within: await realpath(art) }));
    expect(err.code).toBe('ARTIFACT_UNSAFE_FILE');
    expect(err.details).toMatchObject({ opened: join(await realpath(secretDir), 'f0.bin') });
    // inside: the descriptor's path is the file's real path
    await writeFile(join(art, 'in.bin'), 'x');
    const ok = await openRegularFile(join(art, 'in.bin'), { noFollow: true, within: await realpath(art) });
    expect(await descriptorPath(ok, join(art, 'in.bin'))).toBe(join(await realpath(art), 'in.bin'));
    await ok.close();
  });

  it('additional data: a FIFO, a folder or an oversized file is refused without blocking', async () => {
    const t = join(d, 'adata');
    await mkdir(t);
    const file = join(t, 'chain-of-trust-additional-data.json');
    execFileSync('mkfifo', [file]);
    expect(await codeOf(readAdditionalData(t))).toBe('ARTIFACT_UNSAFE_FILE');
    await rm(file);
    await mkdir(file);
    expect(await codeOf(readAdditionalData(t))).toBe('ARTIFACT_UNSAFE_FILE');
    await rm(file, { recursive: true });
    await writeFile(file, `{"a": "${'x'.repeat(1024 * 1024)}"}`);
    expect(await codeOf(readAdditionalData(t))).toBe('JSON_INVALID');
    await writeFile(file, '{"environment": {"fromTask": "ok"}}');
    expect(await readAdditionalData(t)).toEqual({ environment: { fromTask: 'ok' } });
    expect(await readAdditionalData(join(d, 'no-such-task-dir'))).toBeUndefined();
  });

  it('staged copies are the hashed bytes: rewriting an artifact after hashing changes nothing uploaded', async () => {
    const art = await artifactTree('staged');
    await writeFile(join(d, 'staged.log'), 'task log\n');
    const staging = await createStagingDir(join(d), [art]);
    try {
      expect((await stat(staging.dir)).mode & 0o777).toBe(0o700);
      const r = await generateChainOfTrust({
        task: sampleTask(),
        taskId: TASK_ID,
        runId: 0,
        workerGroup: 'g',
        workerId: 'w',
        artifactDir: art,
        keys: [key],
        format: 'ed25519',
        outDir: join(art, 'public'),
        now: new Date(),
        certifiedLog: join(d, 'staged.log'),
        stageDir: staging.dir,
      });
      const staged = r.staged!;
      expect(staged.map((f) => f.name)).toEqual([
        ...Object.keys(r.document.artifacts).sort(),
        'public/chain-of-trust.json',
        'public/chain-of-trust.json.sig',
      ]);
      for (const f of staged) {
        expect(f.path.startsWith(`${staging.dir}/`)).toBe(true);
        expect(sha256(await readFile(f.path)), f.name).toBe(f.sha256);
        const listed = r.document.artifacts[f.name];
        if (listed) expect(f.sha256).toBe(listed.sha256);
      }
      // the task rewrites an artifact and its signed document in place after generation
      await writeFile(join(art, 'public/a.bin'), 'rewritten after hashing');
      await writeFile(join(art, 'public/chain-of-trust.json'), 'forged');
      const store = new DirectoryQueue(join(d, 'staged-store'));
      await store.putTask(TASK_ID, sampleTask());
      await store.ensureRun(TASK_ID, 0);
      await uploadArtifacts(store, staged, { taskId: TASK_ID, runId: 0 });
      const stored = await storedRun(store, 0);
      expect(stored.get('public/a.bin')!.toString()).toBe('task artifact a\n');
      expect(stored.get('public/chain-of-trust.json')!.toString('latin1')).toBe(r.canonical);
      expect(stored.get('public/logs/certified.log')!.toString()).toBe('task log\n');
    } finally {
      await staging.remove();
    }
    await expect(stat(staging.dir)).rejects.toThrow();
  });

  it("the staging folder: never inside the task's folders, removed after every run, stale ones of dead generators swept", async () => {
    const art = await artifactTree('staging-rules');
    expect(await codeOf(createStagingDir(join(art, 'public'), [art]))).toBe('OPTIONS_INVALID');
    const parent = join(d, 'staging-parent');
    await mkdir(parent);
    // a generator killed mid-upload left its folder; a live one (pid 1) keeps its own
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    await mkdir(join(parent, `cot-stage-${dead}-abc123`));
    await writeFile(join(parent, `cot-stage-${dead}-abc123/artifact-0`), 'left over');
    await mkdir(join(parent, 'cot-stage-1-live00'));
    const store = new DirectoryQueue(join(d, 'staging-store'));
    await store.putTask(TASK_ID, sampleTask());
    await store.ensureRun(TASK_ID, 0);
    const run = (o: { upload: object; artifactDir?: string }) =>
      workerChainOfTrust({
        task: sampleTask(),
        taskId: TASK_ID,
        runId: 0,
        workerGroup: 'g',
        workerId: 'w',
        artifactDir: o.artifactDir ?? art,
        keys: [key],
        format: 'ed25519',
        outDir: join(art, 'public'),
        now: new Date(),
        upload: { queue: store, stagingDir: parent, ...o.upload },
      });
    const r = await run({ upload: {} });
    expect(r.uploaded.map((u) => u.name)).toContain('public/a.bin');
    expect(r.uploaded.find((u) => u.name === 'public/a.bin')!.path).toBe(join(art, 'public/a.bin'));
    expect(r.artifacts.every((a) => !('staged' in a))).toBe(true);
    expect(await readdir(parent)).toEqual(['cot-stage-1-live00']);
    // a failed run (the run does not exist in the store) removes its staging folder too
    await mkdir(join(d, 'empty-store'), { recursive: true });
    expect(await codeOf(run({ upload: { queue: new DirectoryQueue(join(d, 'empty-store')) } }))).toBe(
      'QUEUE_NOT_FOUND',
    );
    // so does one whose store folder does not exist (FILE_NOT_FOUND: bad input, not a missing run)
    expect(await codeOf(run({ upload: { queue: new DirectoryQueue(join(d, 'no-such-store')) } }))).toBe(
      'FILE_NOT_FOUND',
    );
    expect(await readdir(parent)).toEqual(['cot-stage-1-live00']);
    // the CLI: --staging-dir inside the artifact folder, or without --upload, is a usage error
    const cli = (...extra: string[]) =>
      runCli(
        new Date(),
        ...generateArgs(join(d, 'task.json'), '--key', join(d, 'k'), '--artifacts', art, ...extra),
      );
    const inside = await cli('--upload', '--queue', store.root, '--staging-dir', join(art, 'public'));
    expect(inside.code).toBe(2);
    expect(inside.err).toMatch(/^cot: USAGE: the staging folder/);
    expect((await cli('--staging-dir', parent)).code).toBe(2);
    const ok = await cli('--upload', '--queue', store.root, '--staging-dir', parent, '--json');
    expect(ok.code, ok.err).toBe(0);
    expect(await readdir(parent)).toEqual(['cot-stage-1-live00']);
  });
});

describe("the task's additional data cannot write the worker's facts", () => {
  it('an artifact entry, or an identity field the worker did not set, in the additional data is refused', async () => {
    const d = await tempDir();
    await generateKeyPair({ type: 'ed25519', out: join(d, 'k'), pubOut: join(d, 'k.pub'), now: new Date() });
    const key = await loadSigningKey(join(d, 'k'));
    await mkdir(join(d, 'task/art/public'), { recursive: true });
    await writeFile(join(d, 'task/art/public/a.txt'), 'a');
    const forged: Record<string, unknown>[] = [
      // a digest the worker never computed, for bytes the task could upload itself with its own credentials
      { artifacts: { 'public/evil.bin': { sha256: 'e'.repeat(64) } } },
      // the worker sets no workerType here: the task must not be able to claim one
      { workerType: 'signing-3' },
      // the image a task ran is the worker's to report: cot verify checks it against the docker-image task
      { environment: { imageArtifactHash: `sha256:${'0'.repeat(64)}` } },
    ];
    for (const extra of forged) {
      await writeFile(join(d, 'task/chain-of-trust-additional-data.json'), JSON.stringify(extra));
      const e = await errorOf(
        workerChainOfTrust({
          task: sampleTask(),
          taskId: TASK_ID,
          runId: 0,
          workerGroup: 'g',
          workerId: 'w',
          artifactDir: join(d, 'task/art'),
          keys: [key],
          format: 'ed25519',
          outDir: join(d, 'task/art/public'),
          now: new Date(),
          taskDir: join(d, 'task'),
        }),
      );
      expect(e.code).toBe('DOCUMENT_INVALID');
      expect(e.message).toMatch(/only the worker may write/);
      await expect(readFile(join(d, 'task/art/public/chain-of-trust.json'))).rejects.toThrow(/ENOENT/);
    }
  });
});
