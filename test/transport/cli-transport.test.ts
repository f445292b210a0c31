import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryQueue, generateKeyPair } from '../../src/index.js';
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
    expect(g.out).toContain('uploaded 4 artifact(s)');
    const stored = await readdir(join(dir, 'store', BUILD, 'runs/0/artifacts/public'));
    expect(stored.sort()).toEqual(['build', 'chain-of-trust.json', 'chain-of-trust.json.sig']);

    const f = await withEnv(env(), () => runCli(new Date(), 'fetch', SIGNING, '--out', join(dir, 'mirror')));
    // the decision task has no chain-of-trust document: its task-graph.json is not mirrored (never unsigned bytes),
    // and the mirror says it is incomplete
    expect(f.code, f.err).toBe(1);
    expect(f.err).toMatch(/^cot: FETCH_INCOMPLETE: /);
    expect(f.out).toMatch(new RegExp(`missing: ${DECISION}: CHAIN_COT_MISSING: `));
    expect(f.out).toMatch(/mirrored 3 task\(s\)/);
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

  it('upload without credentials is refused (exit 3) and `cot upload` to a directory store works', async () => {
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
    expect(u.code).toBe(3);
    expect(u.err).toMatch(/^cot: TRANSPORT_AUTH: /);
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
