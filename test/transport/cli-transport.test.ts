import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/index.js';
import { DirectoryQueue } from '../../src/queue.js';
import { runCli } from '../helpers/cli.js';
import { REPO, sampleTask, tempDir } from '../helpers/env.js';

// `cot queue serve` as a real process, driven by the CLI through the real taskcluster-client.
const CREDS = { clientId: 'project/cot/worker', accessToken: 'cli-test-token-cli-test-token-cli-test' };
const DECISION = 'KRa-CdtXTda3i7MQ5snK1A';
const BUILD = 'LnshJjNXTfeBlPNrAzyy9w';
const SIGNING = 'Se-5NNn4TB65_9383YGsJA';

let dir: string;
let proc: ChildProcess;
let rootUrl: string;
const env = () => ({
  TASKCLUSTER_ROOT_URL: rootUrl,
  TASKCLUSTER_CLIENT_ID: CREDS.clientId,
  TASKCLUSTER_ACCESS_TOKEN: CREDS.accessToken,
});

async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const old = { ...process.env };
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(vars)) if (old[k] === undefined) delete process.env[k];
    Object.assign(process.env, old);
  }
}

beforeAll(async () => {
  dir = await tempDir();
  const store = new DirectoryQueue(join(dir, 'store'));
  await store.putTask(DECISION, sampleTask({ taskGroupId: DECISION, workerType: 'decision' }));
  await store.ensureRun(DECISION, 0);
  await writeFile(join(dir, 'graph.json'), JSON.stringify({ [BUILD]: { task: sampleTask() } }));
  await store.createArtifact({
    taskId: DECISION,
    runId: 0,
    name: 'public/task-graph.json',
    path: join(dir, 'graph.json'),
    contentType: 'text/plain',
    expires: '2027-01-01T00:00:00Z',
  });
  await store.putTask(BUILD, sampleTask({ taskGroupId: DECISION }));
  await store.ensureRun(BUILD, 0);
  await store.putTask(
    SIGNING,
    sampleTask({
      taskGroupId: DECISION,
      payload: {
        upstreamArtifacts: [{ taskId: BUILD, taskType: 'build', paths: ['public/build/app.tar.gz'] }],
      },
    }),
  );
  await store.ensureRun(SIGNING, 0);
  proc = spawn(
    process.execPath,
    [
      join(REPO, 'bin/cot.js'),
      'queue',
      'serve',
      '--dir',
      join(dir, 'store'),
      '--client-id',
      CREDS.clientId,
      '--access-token',
      CREDS.accessToken,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  rootUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`cot queue serve exited ${code}`)));
  });
});
afterAll(() => {
  proc?.kill('SIGTERM');
});

describe('generate --upload, fetch, verify-link offline', () => {
  it('a worker generates, signs and uploads to the local queue; a verifier mirrors and verifies offline', async () => {
    await generateKeyPair({
      type: 'ed25519',
      out: join(dir, 'ed.key'),
      pubOut: join(dir, 'ed.pub'),
      now: new Date(),
    });
    await mkdir(join(dir, 'art/public/build'), { recursive: true });
    await writeFile(join(dir, 'art/public/build/app.tar.gz'), Buffer.alloc(200_000, 7));
    await writeFile(join(dir, 'art/public/build/notes.txt'), 'notes\n');
    await writeFile(join(dir, 'task.json'), await readFile(join(dir, 'store', BUILD, 'task.json')));
    const g = await withEnv(env(), () =>
      runCli(
        new Date(),
        'generate',
        '--task',
        join(dir, 'task.json'),
        '--task-id',
        BUILD,
        '--run-id',
        '0',
        '--worker-group',
        'g',
        '--worker-id',
        'w',
        '--artifacts',
        join(dir, 'art'),
        '--key',
        join(dir, 'ed.key'),
        '--upload',
      ),
    );
    expect(g.code, g.err).toBe(0);
    expect(g.out).toContain('uploaded 4 artifacts');
    const stored = await readdir(join(dir, 'store', BUILD, 'runs/0/artifacts/public'));
    expect(stored.sort()).toEqual(['build', 'chain-of-trust.json', 'chain-of-trust.json.sig']);

    const f = await withEnv(env(), () => runCli(new Date(), 'fetch', SIGNING, '--out', join(dir, 'mirror')));
    // the decision task has no chain-of-trust document: its task-graph.json is not mirrored (never unsigned bytes),
    // and the mirror says it is incomplete
    expect(f.code, f.err).toBe(1);
    expect(f.err).toMatch(/^cot: FETCH_INCOMPLETE: /);
    expect(f.out).toMatch(new RegExp(`missing: ${DECISION}: CHAIN_COT_MISSING: `));
    expect(f.out).toMatch(/mirrored 3 tasks/);
    const mirror = new DirectoryQueue(join(dir, 'mirror'));
    const b = mirror.artifactPath(BUILD, 0, 'public/build/app.tar.gz');
    expect((await readFile(b)).length).toBe(200_000);
    expect(await mirror.task(DECISION)).toMatchObject({ workerType: 'decision' });
    await expect(readFile(mirror.artifactPath(DECISION, 0, 'public/task-graph.json'))).rejects.toThrow(
      /ENOENT/,
    );

    const v = await runCli(
      new Date(),
      'verify-link',
      mirror.artifactPath(BUILD, 0, 'public/chain-of-trust.json'),
      '--key',
      join(dir, 'ed.pub'),
      '--task-id',
      BUILD,
      '--artifact',
      `public/build/app.tar.gz=${b}`,
    );
    expect(v.code, v.err).toBe(0);
  });

  it('upload without credentials is refused (exit 4), naming the variables to set; `cot upload` to a directory store works', async () => {
    const u = await withEnv(
      { TASKCLUSTER_ROOT_URL: rootUrl, TASKCLUSTER_CLIENT_ID: '', TASKCLUSTER_ACCESS_TOKEN: '' },
      () =>
        runCli(
          new Date(),
          'upload',
          '--task-id',
          SIGNING,
          '--run-id',
          '0',
          `public/x.txt=${join(dir, 'art/public/build/notes.txt')}`,
        ),
    );
    // refused credentials are not fixed by a retry: exit 4 (was 3 before issue 10), and the message says what to set
    expect(u.code).toBe(4);
    expect(u.err).toMatch(/^cot: TRANSPORT_AUTH: /);
    expect(u.err).toMatch(
      /no Taskcluster credentials were given: set TASKCLUSTER_CLIENT_ID and TASKCLUSTER_ACCESS_TOKEN/,
    );
    expect(u.err.trim().split('\n')).toHaveLength(1);
    // one of the two alone is a usage error, before any request
    const half = await withEnv(
      { TASKCLUSTER_ROOT_URL: rootUrl, TASKCLUSTER_CLIENT_ID: CREDS.clientId, TASKCLUSTER_ACCESS_TOKEN: '' },
      () =>
        runCli(
          new Date(),
          'upload',
          '--task-id',
          SIGNING,
          '--run-id',
          '0',
          `public/x.txt=${join(dir, 'art/public/build/notes.txt')}`,
        ),
    );
    expect(half.code, half.err).toBe(2);
    expect(half.err).toMatch(/^cot: USAGE: TASKCLUSTER_CLIENT_ID is set but TASKCLUSTER_ACCESS_TOKEN is not/);
    const d = await runCli(
      new Date(),
      'upload',
      '--queue',
      join(dir, 'store'),
      '--task-id',
      SIGNING,
      '--run-id',
      '0',
      `public/x.txt=${join(dir, 'art/public/build/notes.txt')}`,
    );
    expect(d.code, d.err).toBe(0);
    expect(await readFile(join(dir, 'store', SIGNING, 'runs/0/artifacts/public/x.txt'), 'utf8')).toBe(
      'notes\n',
    );
  });
});

/** Run bin/cot.js; its exit code (null when it had to be killed after `ms`), stdout and stderr. */
function runBin(args: string[], ms = 15_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(REPO, 'bin/cot.js'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    p.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

describe('issue 10: transport errors keep the README promise', () => {
  it('generate --upload that fails says the local files were written, and where', async () => {
    await mkdir(join(dir, 'art2/public/build'), { recursive: true });
    await writeFile(join(dir, 'art2/public/build/app.tar.gz'), Buffer.alloc(1000, 7));
    const g = await withEnv(
      { TASKCLUSTER_ROOT_URL: rootUrl, TASKCLUSTER_CLIENT_ID: '', TASKCLUSTER_ACCESS_TOKEN: '' },
      () =>
        runCli(
          new Date(),
          'generate',
          '--task',
          join(dir, 'task.json'),
          '--task-id',
          BUILD,
          '--run-id',
          '0',
          '--worker-group',
          'g',
          '--worker-id',
          'w',
          '--artifacts',
          join(dir, 'art2'),
          '--key',
          join(dir, 'ed.key'),
          '--upload',
        ),
    );
    expect(g.code, g.err).toBe(4);
    expect(g.err.trim().split('\n')).toHaveLength(1);
    expect(g.err).toMatch(/^cot: TRANSPORT_AUTH: .*TASKCLUSTER_CLIENT_ID/);
    const written = join(dir, 'art2/public/chain-of-trust.json');
    expect(g.err).toContain(`the chain-of-trust files were written locally: ${written}, ${written}.sig`);
    expect((await readdir(join(dir, 'art2/public'))).sort()).toEqual([
      'build',
      'chain-of-trust.json',
      'chain-of-trust.json.sig',
    ]);
  });

  it('cot queue serve refuses a store folder that does not exist, at start (exit 4)', async () => {
    const r = await runBin(['queue', 'serve', '--dir', join(dir, 'no-such-store')]);
    // before: it started and served 404s for every task (and never exited: killed here)
    expect(r.code, r.out + r.err).toBe(4);
    expect(r.err).toMatch(/^cot: FILE_NOT_FOUND: directory store .*no-such-store does not exist/);
    expect(r.out).toBe('');
  });

  it("404 bodies use the queue's error names and never show the server's paths", async () => {
    const unknown = 'AAAAAAAAQAaAAAAAAAAAAA';
    for (const path of [
      `/api/queue/v1/task/${unknown}`,
      `/api/queue/v1/task/${unknown}/status`,
      `/api/queue/v1/task/${BUILD}/runs/7/artifacts`,
      `/api/queue/v1/task/${unknown}/artifacts`,
    ]) {
      const r = await fetch(`${rootUrl}${path}`);
      const body = (await r.json()) as { code: string; message: string };
      expect(r.status, path).toBe(404);
      expect(body.code, path).toBe('ResourceNotFound');
      expect(body.message, path).not.toContain(dir);
      expect(body.message, path).not.toMatch(/\/tmp\/|directory store/);
    }
    const bad = await fetch(`${rootUrl}/api/queue/v1/task/not-a-task-id`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('InputError');
  });

  it('a task the queue does not have: cot verify and cot fetch agree, QUEUE_NOT_FOUND, exit 4', async () => {
    const unknown = 'AAAAAAAAQAaAAAAAAAAAAA';
    const policy = join(dir, 'policy-ed.yml');
    await writeFile(join(dir, 'trust-ed.json'), JSON.stringify({ 'docker-worker': [] }));
    await writeFile(
      policy,
      'ed25519Keys: trust-ed.json\nworkerTypes: { "*": docker-worker }\ndecisionWorkerTypes: [proj-releng/decision]\n',
    );
    const v = await withEnv(env(), () => runCli(new Date(), 'verify', unknown, '--policy', policy));
    const f = await withEnv(env(), () => runCli(new Date(), 'fetch', unknown, '--out', join(dir, 'm404')));
    for (const r of [v, f]) {
      expect(r.code, r.err).toBe(4);
      expect(r.err).toMatch(/^cot: QUEUE_NOT_FOUND: /);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    // and with --json, the same code in the result
    const j = await withEnv(env(), () => runCli(new Date(), 'verify', unknown, '--policy', policy, '--json'));
    expect(JSON.parse(j.out)).toMatchObject({ ok: false, error: { code: 'QUEUE_NOT_FOUND' } });
  });
});
