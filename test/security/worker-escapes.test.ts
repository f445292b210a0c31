/**
 * Review 2 of the worker side: two remaining ways for a process of the task user to redirect what the worker reads
 * or writes, closed by their whole kind.
 *
 *  1. Explicit artifacts (--artifact NAME=PATH) and the certified log were opened following symlinks anywhere: a
 *     task could leave its artifact as a symlink to the worker's private key, and `cot generate --upload` published
 *     the key. Now every such file is opened with O_NOFOLLOW as a regular file, and (with --task-dir,
 *     --artifact-root) must lie, by its descriptor's real path, inside the task's folders.
 *  2. A symlink swapped in at the output folder (default DIR/public, inside the folder the task writes) while cot
 *     hashed redirected its writes (and its removal of old signatures) into any folder. Now the output folder and its
 *     logs/ are opened once, never through a symlink, and written only through their descriptor.
 *
 * The swaps are made by real child processes: one that waits for the worker to start reading an artifact (its atime
 * moves) and then swaps, as the reviewer's reproduction does, and racers that swap in a loop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmod,
  mkdir,
  readdir,
  readFile,
  realpath,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CotError,
  generateChainOfTrust,
  generateKeyPair,
  loadSigningKey,
  loadVerificationKeys,
  type SigningKey,
  verifyLink,
  workerChainOfTrust,
} from '../../src/index.js';
import { DirectoryQueue } from '../../src/queue.js';
import { generateArgs, runCli } from '../helpers/cli.js';
import { errorOf, sampleTask, TASK_ID, tempDir } from '../helpers/env.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const SECRET = Buffer.from('WORKER-ONLY SECRET: the task user must never see this published\n');
const SECRET_SHA256 = sha256(SECRET);
/** Runs per racing test (COT_RACE_RUNS overrides). */
const RUNS = Number(process.env.COT_RACE_RUNS ?? 60);

let d: string;
let keyPath: string;
let keyBytes: Buffer;
let key: SigningKey;
let secretDir: string;
let taskJson: string;
/** whether reading a file moves its atime here (relatime, atime older than mtime): the swap trigger needs it */
let atimeMoves = false;

beforeAll(async () => {
  d = await realpath(await tempDir('cot-escapes-'));
  await mkdir(join(d, 'worker-secret'));
  keyPath = join(d, 'worker-secret/worker.key');
  await generateKeyPair({ type: 'ed25519', out: keyPath, pubOut: join(d, 'worker.pub'), now: new Date() });
  await chmod(join(d, 'worker-secret'), 0o700);
  keyBytes = await readFile(keyPath);
  key = await loadSigningKey(keyPath);
  secretDir = join(d, 'worker-only');
  await mkdir(secretDir);
  for (const n of ['f0.bin', 'live.log']) await writeFile(join(secretDir, n), SECRET);
  taskJson = join(d, 'task.json');
  await writeFile(taskJson, JSON.stringify(sampleTask()));
  const probe = join(d, 'atime-probe');
  await writeFile(probe, 'probe');
  const st = await stat(probe);
  await utimes(probe, st.mtimeMs / 1000 - 3600, st.mtimeMs / 1000);
  const before = (await stat(probe)).atimeMs;
  await readFile(probe);
  atimeMoves = (await stat(probe)).atimeMs !== before;
  if (!atimeMoves)
    console.warn('[worker-escapes] reads do not move atime here (noatime?): swap-on-read tests skip');
});

/** Every file under `dir`: relative name -> bytes (empty when absent). */
async function tree(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (p: string, prefix: string): Promise<void> => {
    for (const e of await readdir(p, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(p, e.name), `${prefix}${e.name}/`);
      else if (e.isFile()) out.set(`${prefix}${e.name}`, await readFile(join(p, e.name)));
      else out.set(`${prefix}${e.name}`, Buffer.from(`<${e.isSymbolicLink() ? 'symlink' : 'special'}>`));
    }
  };
  await walk(dir, '');
  return out;
}
const asText = (m: Map<string, Buffer>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, v.toString('latin1')]));

/** A victim folder outside every task folder, holding files that must never change. */
async function victim(name: string): Promise<string> {
  const v = join(d, name);
  await mkdir(join(v, 'logs'), { recursive: true });
  await writeFile(join(v, 'chain-of-trust.json'), 'ORIGINAL\n');
  await writeFile(join(v, 'chain-of-trust.json.sig'), 'ORIGINAL\n');
  await writeFile(join(v, 'chainOfTrust.json.asc'), 'ORIGINAL\n');
  await writeFile(join(v, 'logs/certified.log'), 'ORIGINAL\n');
  return v;
}
const VICTIM_FILES = {
  'chain-of-trust.json': 'ORIGINAL\n',
  'chain-of-trust.json.sig': 'ORIGINAL\n',
  'chainOfTrust.json.asc': 'ORIGINAL\n',
  'logs/certified.log': 'ORIGINAL\n',
};

async function store(name: string): Promise<DirectoryQueue> {
  const s = new DirectoryQueue(join(d, name));
  await s.putTask(TASK_ID, sampleTask());
  await s.ensureRun(TASK_ID, 0);
  return s;
}

const base = () => ({
  task: sampleTask(),
  taskId: TASK_ID,
  runId: 0,
  workerGroup: 'g',
  workerId: 'w',
  keys: [key],
  format: 'ed25519' as const,
  now: new Date(),
});

describe('escape 1: explicit artifacts and the certified log never follow a symlink out', () => {
  it('reproduction: `cot generate --artifact NAME=PATH --upload` with PATH a symlink to the worker key is refused and uploads nothing', async () => {
    const w = join(d, 'g1');
    await mkdir(join(w, 'taskdir'), { recursive: true });
    // the task (running as another user on a real worker) leaves a symlink where its artifact should be
    await symlink(keyPath, join(w, 'taskdir/target.tar.gz'));
    const s = await store('g1-store');
    const r = await runCli(
      new Date(),
      ...generateArgs(
        taskJson,
        '--worker-type',
        'b-linux',
        '--artifact',
        `public/build/target.tar.gz=${join(w, 'taskdir/target.tar.gz')}`,
        '--key',
        keyPath,
        '--out',
        join(w, 'out'),
        '--upload',
        '--queue',
        s.root,
        '--json',
      ),
    );
    expect(r.code, r.out).toBe(4);
    const error = JSON.parse(r.out).error;
    expect(error.code).toBe('ARTIFACT_UNSAFE_FILE');
    expect(error.message).toMatch(/target\.tar\.gz.*is a symlink/);
    const stored = await tree(join(s.root, TASK_ID));
    for (const [name, bytes] of stored) expect(bytes.equals(keyBytes), `${name} is the key`).toBe(false);
    expect([...stored.keys()].filter((n) => n.includes('/artifacts/'))).toEqual([]);
    expect(await readdir(join(w, 'out')).catch(() => [])).toEqual([]);
  });

  it('with a task folder, every explicit artifact must lie inside it or the artifact folder (or an artifact root), by its real path', async () => {
    const w = join(d, 'contain');
    const taskDir = join(w, 'task');
    const art = join(w, 'art');
    const extra = join(w, 'extra-root');
    for (const p of [taskDir, art, extra]) await mkdir(p, { recursive: true });
    await writeFile(join(taskDir, 'in-task.bin'), 'in the task folder\n');
    await writeFile(join(art, 'in-art.bin'), 'in the artifact folder\n');
    await writeFile(join(extra, 'in-extra.bin'), 'in an artifact root\n');
    await writeFile(join(w, 'elsewhere.bin'), 'a worker file outside the task folders\n');
    // a folder of the task that is a symlink to a worker-only folder: only the descriptor shows where it leads
    await symlink(secretDir, join(taskDir, 'sub'));
    // a symlink at the last component that stays inside the task folder is refused too (O_NOFOLLOW)
    await symlink(join(taskDir, 'in-task.bin'), join(taskDir, 'alias.bin'));
    const run = (path: string, o: { artifactRoots?: string[]; taskDir?: string } = {}) =>
      workerChainOfTrust({
        ...base(),
        artifacts: [{ name: 'public/x.bin', path, resolved: false }],
        outDir: join(w, 'out'),
        ...o,
      });
    const withTask = { taskDir };
    const refused = async (path: string, o: typeof withTask | { artifactRoots: string[] }) => {
      const e = await errorOf(run(path, o));
      expect(e.code, path).toBe('ARTIFACT_UNSAFE_FILE');
      return e;
    };
    const through = await refused(join(taskDir, 'sub/f0.bin'), withTask);
    expect(through.details).toMatchObject({ opened: join(secretDir, 'f0.bin') });
    expect(through.message).toMatch(/outside/);
    await refused(join(w, 'elsewhere.bin'), withTask);
    await refused(join(taskDir, 'alias.bin'), withTask);
    await refused(join(art, 'in-art.bin'), withTask); // the artifact folder counts only when it is given
    await refused(join(taskDir, 'in-task.bin'), { artifactRoots: [extra] });
    expect(
      (await run(join(taskDir, 'in-task.bin'), withTask)).document.artifacts['public/x.bin']!.sha256,
    ).toBe(sha256('in the task folder\n'));
    expect(
      (
        await workerChainOfTrust({
          ...base(),
          artifactDir: art,
          artifacts: [{ name: 'public/x.bin', path: join(art, 'in-art.bin'), resolved: false }],
          outDir: join(w, 'out'),
          taskDir,
        })
      ).document.artifacts['public/x.bin'],
    ).toBeDefined();
    await run(join(extra, 'in-extra.bin'), { taskDir, artifactRoots: [extra] });
    await run(join(extra, 'in-extra.bin'), { artifactRoots: [extra] });
    // without any containment folder the path is trusted as given, bar its last component
    expect(await errorOf(run(join(taskDir, 'alias.bin')))).toMatchObject({ code: 'ARTIFACT_UNSAFE_FILE' });
    const trusted = await run(join(taskDir, 'sub/f0.bin'));
    expect(trusted.document.artifacts['public/x.bin']!.sha256).toBe(SECRET_SHA256);
  });

  it('the CLI: --task-dir and --artifact-root hold every --artifact to those folders', async () => {
    const w = join(d, 'contain-cli');
    await mkdir(join(w, 'task'), { recursive: true });
    await mkdir(join(w, 'root'), { recursive: true });
    await writeFile(join(w, 'task/a.bin'), 'a');
    await writeFile(join(w, 'root/b.bin'), 'b');
    await symlink(secretDir, join(w, 'task/sub'));
    const cli = (...extra: string[]) =>
      runCli(new Date(), ...generateArgs(taskJson, '--key', keyPath, '--out', join(w, 'out'), ...extra));
    const leaving = await cli(
      '--task-dir',
      join(w, 'task'),
      '--artifact',
      `public/s.bin=${join(w, 'task/sub/f0.bin')}`,
    );
    expect(leaving.code).toBe(4);
    expect(leaving.err).toMatch(/^cot: ARTIFACT_UNSAFE_FILE: artifact public\/s\.bin .* outside /);
    const outside = await cli(
      '--artifact-root',
      join(w, 'root'),
      '--artifact',
      `public/a.bin=${join(w, 'task/a.bin')}`,
    );
    expect(outside.code).toBe(4);
    const ok = await cli(
      '--task-dir',
      join(w, 'task'),
      '--artifact-root',
      join(w, 'root'),
      '--artifact',
      `public/a.bin=${join(w, 'task/a.bin')}`,
      '--artifact',
      `public/b.bin=${join(w, 'root/b.bin')}`,
    );
    expect(ok.code, ok.err).toBe(0);
  });

  it('the certified log: never a symlink, a regular file, and inside the task folder when its path is', async () => {
    const w = join(d, 'log');
    const taskDir = join(w, 'task');
    await mkdir(taskDir, { recursive: true });
    await mkdir(join(w, 'worker-logs'));
    await writeFile(join(w, 'worker-logs/live.log'), 'the worker log of the task\n');
    await writeFile(join(taskDir, 'live.log'), 'a log in the task folder\n');
    await symlink(join(secretDir, 'live.log'), join(taskDir, 'linked.log'));
    await symlink(secretDir, join(taskDir, 'logs-link'));
    const run = (certifiedLog: string, out: string) =>
      workerChainOfTrust({ ...base(), certifiedLog, outDir: join(w, out), taskDir });
    // a symlink at its name, to a worker-only file: refused, and nothing of it is copied
    const e = await errorOf(run(join(taskDir, 'linked.log'), 'out1'));
    expect(e.code).toBe('ARTIFACT_UNSAFE_FILE');
    expect(e.message).toMatch(/certified log .*linked\.log: is a symlink/);
    expect(asText(await tree(join(w, 'out1')))).toEqual({});
    // a folder of the task on its path that leads out: refused on the descriptor
    const via = await errorOf(run(join(taskDir, 'logs-link/live.log'), 'out2'));
    expect(via.code).toBe('ARTIFACT_UNSAFE_FILE');
    expect(via.details).toMatchObject({ opened: join(secretDir, 'live.log') });
    expect(asText(await tree(join(w, 'out2')))).toEqual({});
    // the worker's own log, outside the task folder, and a plain log inside it
    const own = await run(join(w, 'worker-logs/live.log'), 'out3');
    expect(own.document.artifacts['public/logs/certified.log']!.sha256).toBe(
      sha256('the worker log of the task\n'),
    );
    expect((await readFile(join(w, 'out3/logs/certified.log'))).toString()).toBe(
      'the worker log of the task\n',
    );
    const inTask = await run(join(taskDir, 'live.log'), 'out4');
    expect(inTask.document.artifacts['public/logs/certified.log']!.sha256).toBe(
      sha256('a log in the task folder\n'),
    );
    // also without a task folder: the symlink is still refused
    expect(
      await errorOf(
        generateChainOfTrust({
          ...base(),
          certifiedLog: join(taskDir, 'linked.log'),
          outDir: join(w, 'out5'),
        }),
      ),
    ).toMatchObject({ code: 'ARTIFACT_UNSAFE_FILE' });
  });
});

/** A child process that swaps files and folders for symlinks and back, in a loop, until killed. */
const RACER = `
const fs = require('node:fs');
const spec = JSON.parse(process.argv[1]);
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const attempt = (f) => { try { f(); } catch {} };
for (;;) {
  for (const s of spec.dirs) if (Math.random() < spec.chance) {
    attempt(() => fs.renameSync(s.path, s.scratch));
    attempt(() => fs.symlinkSync(s.outside, s.path));
  }
  for (const s of spec.files) if (Math.random() < spec.chance) {
    attempt(() => { fs.rmSync(s.scratch, { force: true }); fs.symlinkSync(s.outside, s.scratch); fs.renameSync(s.scratch, s.path); });
  }
  pause(Math.random() * spec.badMs);
  for (const s of spec.dirs) { attempt(() => fs.unlinkSync(s.path)); attempt(() => fs.renameSync(s.scratch, s.path)); }
  for (const s of spec.files) attempt(() => { fs.writeFileSync(s.scratch, s.content); fs.renameSync(s.scratch, s.path); });
  pause(Math.random() * spec.goodMs);
}
`;
interface RacerSpec {
  dirs: { path: string; outside: string; scratch: string }[];
  files: { path: string; outside: string; scratch: string; content: string }[];
  chance: number;
  badMs: number;
  goodMs: number;
}
let children: ChildProcess[] = [];
async function spawnNode(script: string, args: string[]): Promise<ChildProcess> {
  const p = spawn(process.execPath, ['-e', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(p);
  return p;
}
async function stopChildren(): Promise<void> {
  const ps = children;
  children = [];
  await Promise.all(
    ps.map(async (p) => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    }),
  );
}
afterEach(stopChildren);

describe('escape 1, racing: explicit artifacts in the task folder swapped for symlinks while cot hashes and uploads', () => {
  it('the worker-only file is never listed nor uploaded; every failure is coded', async () => {
    const w = join(d, 'race-explicit');
    const taskDir = join(w, 'task');
    await mkdir(join(taskDir, 'sub'), { recursive: true });
    await writeFile(join(taskDir, 'target.bin'), 'task target\n');
    await writeFile(join(taskDir, 'sub/f0.bin'), 'task sub file\n');
    const racer = await spawnNode(RACER, [
      JSON.stringify({
        dirs: [{ path: join(taskDir, 'sub'), outside: secretDir, scratch: join(w, 'scratch-sub') }],
        files: [
          {
            path: join(taskDir, 'target.bin'),
            outside: join(secretDir, 'f0.bin'),
            scratch: join(w, 'scratch-file'),
            content: 'task target\n',
          },
        ],
        chance: 0.5,
        badMs: 1,
        goodMs: 1,
      } satisfies RacerSpec),
    ]);
    expect(racer.pid).toBeDefined();
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < RUNS; i++) {
      const s = new DirectoryQueue(join(w, `store-${i}`));
      await s.putTask(TASK_ID, sampleTask());
      await s.ensureRun(TASK_ID, 0);
      try {
        const r = await workerChainOfTrust({
          ...base(),
          artifacts: [
            { name: 'public/target.bin', path: join(taskDir, 'target.bin'), resolved: false },
            { name: 'public/sub.bin', path: join(taskDir, 'sub/f0.bin'), resolved: false },
          ],
          outDir: join(w, 'out'),
          taskDir,
          upload: { queue: s },
        });
        expect(JSON.stringify(r.document.artifacts)).not.toContain(SECRET_SHA256);
        outcomes.ok = (outcomes.ok ?? 0) + 1;
      } catch (e) {
        if (!(e instanceof CotError)) throw e;
        expect(e.code).toMatch(/^(ARTIFACT_UNSAFE_FILE|FILE_NOT_FOUND)$/);
        outcomes[e.code] = (outcomes[e.code] ?? 0) + 1;
      }
      for (const [name, bytes] of await tree(s.root)) expect(sha256(bytes), name).not.toBe(SECRET_SHA256);
    }
    console.info('explicit-artifact race outcomes', outcomes);
    expect(Object.keys(outcomes).length).toBeGreaterThan(0);
  });
});

/**
 * The reviewer's task process: wait until the worker starts reading `artifact` (its atime, set older than its mtime,
 * moves on the first read under relatime), then optionally move `link` (a real folder) to `movedTo`, and put a
 * symlink to `target` at `link`. Prints "ready" once watching, then "placed" or "failed CODE".
 */
const ON_READ = `
const fs = require('node:fs');
const [artifact, link, target, movedTo] = process.argv.slice(1);
const st = fs.statSync(artifact);
fs.utimesSync(artifact, st.mtimeMs / 1000 - 3600, st.mtimeMs / 1000);
const before = fs.statSync(artifact).atimeMs;
process.stdout.write('ready\\n');
const deadline = Date.now() + 60000;
while (fs.statSync(artifact).atimeMs === before) {
  if (Date.now() > deadline) { process.stdout.write('timeout\\n'); process.exit(1); }
}
try {
  if (movedTo) fs.renameSync(link, movedTo);
  fs.symlinkSync(target, link);
  process.stdout.write('placed\\n');
} catch (e) {
  process.stdout.write('failed ' + e.code + '\\n');
}
`;

/** Start ON_READ and resolve once it watches; `done` resolves with everything it printed when it exits. */
async function swapOnRead(
  artifact: string,
  link: string,
  target: string,
  movedTo?: string,
): Promise<{ done: Promise<string> }> {
  const p = await spawnNode(ON_READ, [artifact, link, target, ...(movedTo ? [movedTo] : [])]);
  let out = '';
  const done = new Promise<string>((resolve) => p.once('exit', () => resolve(out)));
  await new Promise<void>((resolve, reject) => {
    p.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready')) resolve();
    });
    p.once('exit', () => reject(new Error(`the task process exited early: ${out}`)));
  });
  return { done };
}

/** A fresh artifact folder holding one large file, so that hashing it outlasts the task process's reaction. */
async function bigArtifacts(name: string, withPublic: boolean): Promise<string> {
  const art = join(d, name);
  await mkdir(art, { recursive: true });
  await writeFile(join(art, 'big.bin'), Buffer.alloc(64 << 20, 7));
  if (withPublic) {
    await mkdir(join(art, 'public'));
    await writeFile(join(art, 'public/report.txt'), 'a task artifact in public/\n');
  }
  return art;
}

describe('escape 2: a symlink swapped in at the output folder never redirects the worker', () => {
  it('reproduction: DIR/public, absent when listed, made a symlink to a victim folder while cot hashes: refused, the victim untouched', async (ctx) => {
    if (!atimeMoves) ctx.skip();
    const v = await victim('victim-repro');
    let placed = 0;
    for (let attempt = 0; attempt < 5 && placed === 0; attempt++) {
      const art = await bigArtifacts(`outlink-${attempt}`, false);
      const task = await swapOnRead(join(art, 'big.bin'), join(art, 'public'), v);
      const r = await runCli(
        new Date(),
        ...generateArgs(taskJson, '--key', keyPath, '--artifacts', art, '--json'),
      );
      const said = await task.done;
      expect(asText(await tree(v))).toEqual(VICTIM_FILES);
      if (!said.includes('placed')) continue; // the task process was too slow this time: cot wrote first
      placed++;
      expect(r.code, r.out).toBe(5);
      expect(JSON.parse(r.out).error.code).toBe('OUTPUT_UNSAFE_FOLDER');
    }
    expect(placed, 'the task process never placed its symlink in time').toBeGreaterThan(0);
  });

  it('DIR/public existing, moved away and replaced by a symlink while cot hashes: cot writes into the folder it opened', async (ctx) => {
    if (!atimeMoves) ctx.skip();
    const v = await victim('victim-moved');
    const keys = await loadVerificationKeys([join(d, 'worker.pub')]);
    await writeFile(join(d, 'moved-task.log'), 'the task log\n');
    let placed = 0;
    for (let attempt = 0; attempt < 5 && placed === 0; attempt++) {
      const art = await bigArtifacts(`moved-${attempt}`, true);
      // an old signature in the folder: the one removed must be this one, never the victim's
      await writeFile(join(art, 'public/chain-of-trust.json.sig'), 'OLD');
      const task = await swapOnRead(join(art, 'big.bin'), join(art, 'public'), v, join(art, 'public-moved'));
      const r = await runCli(
        new Date(),
        ...generateArgs(
          taskJson,
          '--key',
          keyPath,
          '--artifacts',
          art,
          '--certified-log',
          join(d, 'moved-task.log'),
          '--json',
        ),
      );
      const said = await task.done;
      expect(asText(await tree(v))).toEqual(VICTIM_FILES);
      if (!said.includes('placed')) continue;
      placed++;
      expect(r.code, r.out).toBe(0);
      const moved = join(art, 'public-moved');
      const link = await verifyLink({
        data: await readFile(join(moved, 'chain-of-trust.json')),
        signature: await readFile(join(moved, 'chain-of-trust.json.sig')),
        keys,
        at: new Date(),
      });
      expect(Object.keys(link.document.artifacts).sort()).toEqual([
        'big.bin',
        'public/logs/certified.log',
        'public/report.txt',
      ]);
      expect((await readFile(join(moved, 'logs/certified.log'))).toString()).toBe('the task log\n');
      expect((await readdir(moved)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    }
    expect(placed, 'the task process never placed its symlink in time').toBeGreaterThan(0);
  });

  it('a symlink already at the output folder or at its logs/ is refused before anything is copied there', async () => {
    const v = await victim('victim-static');
    await writeFile(join(d, 'static-task.log'), 'the task log\n');
    // DIR/public is a symlink to the victim
    const a1 = join(d, 'static-out');
    await mkdir(a1);
    await writeFile(join(a1, 'a.bin'), 'a');
    await symlink(v, join(a1, 'public'));
    const e1 = await errorOf(
      generateChainOfTrust({
        ...base(),
        artifactDir: a1,
        outDir: join(a1, 'public'),
        certifiedLog: join(d, 'static-task.log'),
      }),
    );
    expect(e1.code).toBe('OUTPUT_UNSAFE_FOLDER');
    // TASK/public/logs is a symlink to the victim's logs/ (the task folder holds the output folder; not listed)
    const a2 = join(d, 'static-logs');
    await mkdir(join(a2, 'public'), { recursive: true });
    await writeFile(join(a2, 'a.bin'), 'a');
    await symlink(join(v, 'logs'), join(a2, 'public/logs'));
    const e2 = await errorOf(
      workerChainOfTrust({
        ...base(),
        artifacts: [{ name: 'public/a.bin', path: join(a2, 'a.bin'), resolved: false }],
        taskDir: a2,
        outDir: join(a2, 'public'),
        certifiedLog: join(d, 'static-task.log'),
      }),
    );
    expect(e2.code).toBe('OUTPUT_UNSAFE_FOLDER');
    expect(e2.message).toMatch(/public\/logs: is a symlink/);
    // a folder of the artifact folder on the way to --out that is a symlink (DIR/x -> victim, --out DIR/x/y)
    const a3 = join(d, 'static-deep');
    await mkdir(a3);
    await writeFile(join(a3, 'a.bin'), 'a');
    await symlink(v, join(a3, 'x'));
    const e3 = await errorOf(
      generateChainOfTrust({ ...base(), artifacts: [], artifactDir: a3, outDir: join(a3, 'x/y') }),
    );
    expect(e3.code).toBe('OUTPUT_UNSAFE_FOLDER');
    expect(asText(await tree(v))).toEqual(VICTIM_FILES);
    expect(await readdir(v)).not.toContain('y');
  });

  it('racing: DIR/public swapped for a symlink to a victim folder and back, in a loop, while cot generates', async () => {
    const v = await victim('victim-race');
    const w = join(d, 'race-out');
    const art = join(w, 'art');
    await mkdir(join(art, 'public'), { recursive: true });
    await writeFile(join(art, 'a.bin'), Buffer.alloc(1 << 20, 1));
    await writeFile(join(art, 'public/b.txt'), 'b');
    await writeFile(join(w, 'task.log'), 'the task log\n');
    await spawnNode(RACER, [
      JSON.stringify({
        dirs: [{ path: join(art, 'public'), outside: v, scratch: join(w, 'scratch-public') }],
        files: [],
        chance: 0.5,
        badMs: 2,
        goodMs: 2,
      } satisfies RacerSpec),
    ]);
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < RUNS; i++) {
      const r = await runCli(
        new Date(),
        ...generateArgs(
          taskJson,
          '--key',
          keyPath,
          '--artifacts',
          art,
          '--certified-log',
          join(w, 'task.log'),
          '--json',
        ),
      );
      const code = r.code === 0 ? 'ok' : (JSON.parse(r.out).error.code as string);
      if (r.code !== 0)
        expect(code, r.out).toMatch(/^(OUTPUT_UNSAFE_FOLDER|ARTIFACT_UNSAFE_FILE|FILE_NOT_FOUND)$/);
      outcomes[code] = (outcomes[code] ?? 0) + 1;
      expect(asText(await tree(v)), `run ${i}`).toEqual(VICTIM_FILES);
    }
    await stopChildren();
    console.info('output-folder race outcomes', outcomes);
  });
});
