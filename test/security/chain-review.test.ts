/**
 * Findings of an adversarial review of the chain verifier (issue 9), each kept as a test: a hang by glob pattern,
 * optional mentions excusing required artifacts, the run of a task verified while it runs, consumers that used
 * different runs, walks that differ between fetch and verify, unsigned documents in a mirror, odd names in a
 * listing, taskgraph's whole-second timestamps, the 2019 two-format runs, patterns reaching the documents
 * themselves, and upstream entries that name nothing.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fnmatch } from '../../src/chain/glob.js';
import { generateChainOfTrust, generateKeyPair, type JsonObject, loadSigningKey } from '../../src/index.js';
import { DirectoryQueue, fetchChain } from '../../src/queue.js';
import {
  buildTestChain,
  changeGraphTask,
  codesOf,
  docEnvironment,
  editGraph,
  type Lab,
  labFrom,
  putListing,
  putSignedTask,
  putStatus,
  resignRun,
  type TestChain,
  verifyLab,
} from '../helpers/chain.js';
import { tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');
let demo: TestChain;
let d: string;
let n = 0;
const lab = async (): Promise<Lab> => labFrom(demo, d, `lab-${n++}`, NOW);
const ids = () => demo.tasks as Record<string, string>;
const at = (minutes: number) => new Date(NOW.getTime() - 3600_000 + minutes * 60_000).toISOString();

beforeAll(async () => {
  d = await tempDir();
  demo = await buildTestChain(join(d, 'demo'), NOW);
});

const ups = (t: JsonObject) => (t.payload as JsonObject).upstreamArtifacts as JsonObject[];

describe('glob patterns cannot hang the verifier', () => {
  it('a pattern made to backtrack matches in linear time (the old regular expression took hours)', () => {
    const name = `public/${'a'.repeat(100_000)}`;
    expect(fnmatch(name, '*a*a*a*a*a*a*a*a*a*a*a*a*b')).toBe(false);
    expect(fnmatch(`${name}b`, '*a*a*a*a*a*a*a*a*a*a*a*a*b')).toBe(true);
  });

  it('end to end: such a pattern against a long artifact name is refused, not hung on', async () => {
    const l = await lab();
    const linux = ids()['build-linux64']!;
    await putSignedTask(
      l,
      linux,
      await l.queue.task(linux),
      { [`public/${'a'.repeat(64)}`]: 'x' },
      'docker-worker',
    );
    await changeGraphTask(l, ids().signing!, 'scriptworker', (t) => {
      ups(t)[0] = { ...ups(t)[0]!, paths: ['*a*a*a*a*a*a*a*a*a*a*a*a*b'] };
    });
    expect(codesOf(await verifyLab(l, demo.taskId))).toBe('ARTIFACT_MISSING');
  });
});

describe('optional mentions never excuse a required one', () => {
  for (const [name, extra] of [
    ['an optional pattern matching a required path', { paths: ['public/build/*.tar.gz'], optional: true }],
    [
      'the same path optional under another taskType',
      { taskType: 'repackage', paths: ['public/build/target.tar.gz'], optional: true },
    ],
  ] as const) {
    it(name, async () => {
      const l = await lab();
      const linux = ids()['build-linux64']!;
      await changeGraphTask(l, ids().signing!, 'scriptworker', (t) => {
        ups(t).unshift({
          taskId: linux,
          taskType: 'build',
          formats: [],
          ...(extra as unknown as JsonObject),
        });
      });
      const listing = (await l.queue.listArtifacts(linux, 0)).map((a) => ({ ...a }) as unknown as JsonObject);
      await putListing(
        l,
        linux,
        0,
        listing.map((a) => (a.name === 'public/build/target.tar.gz' ? { ...a, storageType: 'error' } : a)),
      );
      expect(codesOf(await verifyLab(l, demo.taskId))).toBe('ARTIFACT_MISSING');
    });
  }
});

describe('which run', () => {
  it('a task verified while it runs (verifyRootTask: false) is its newest run, and its inputs are judged by it', async () => {
    const l = await lab();
    const linux = ids()['build-linux64']!;
    const signing = ids().signing!;
    // the build's rerun resolved after signing run 0 but before signing run 1 (running now) started; its bytes do
    // not match its own signed document
    await putSignedTask(
      l,
      linux,
      await l.queue.task(linux),
      {
        'public/build/target.tar.gz': 'rerun bytes',
        'public/build/target.checksums': 'c',
      },
      'docker-worker',
      { runId: 1, environment: (await docEnvironment(l, linux, 0))! },
    );
    await writeFile(l.queue.artifactPath(linux, 1, 'public/build/target.tar.gz'), 'NOT WHAT WAS SIGNED');
    await putStatus(l, linux, [
      { runId: 0, state: 'completed', started: at(2), resolved: at(10) },
      { runId: 1, state: 'completed', started: at(20), resolved: at(30) },
    ]);
    await putStatus(l, signing, [
      { runId: 0, state: 'completed', started: at(12), resolved: at(15) },
      { runId: 1, state: 'running', started: at(40) },
    ]);
    await l.queue.ensureRun(signing, 1);
    const r = await verifyLab(l, signing, (p) => `${p}verifyRootTask: false\n`);
    expect(codesOf(r)).toBe('HASH_MISMATCH');
    expect(r.links.find((x) => x.taskId === signing)!.runId).toBe(1);
    expect(r.links.find((x) => x.taskId === linux)!.runId).toBe(1);
  });

  it('two consumers that could only have used different runs of a task: refused, whatever their order', async () => {
    for (const first of [true, false]) {
      const l = await lab();
      const linux = ids()['build-linux64']!;
      await putSignedTask(l, linux, await l.queue.task(linux), {}, 'docker-worker', {
        runId: 1,
        environment: (await docEnvironment(l, linux, 0))!,
      });
      // the beetmover also consumes the build directly, after a rerun the signing task never saw
      const entry = { taskId: linux, taskType: 'build', paths: ['public/build/target.checksums'] };
      await changeGraphTask(l, demo.taskId, 'scriptworker', (t) => {
        if (first) ups(t).unshift(entry);
        else ups(t).push(entry);
      });
      await putStatus(l, linux, [
        { runId: 0, state: 'completed', started: at(2), resolved: at(10) },
        { runId: 1, state: 'completed', started: at(20), resolved: at(30) },
      ]);
      await putStatus(l, ids().signing!, [
        { runId: 0, state: 'completed', started: at(12), resolved: at(15) },
      ]);
      await putStatus(l, demo.taskId, [{ runId: 0, state: 'completed', started: at(50), resolved: at(55) }]);
      const r = await verifyLab(l, demo.taskId);
      expect(codesOf(r)).toContain('CHAIN_RUN_AMBIGUOUS');
      expect(r.errors.find((e) => e.code === 'CHAIN_RUN_AMBIGUOUS')!.message).toMatch(
        /run 0.*run 1|run 1.*run 0/,
      );
    }
  });
});

describe('followDependencies: the same walk for fetch and verify, and no false image refusal', () => {
  it('the demo verifies with followDependencies (dependency is how a task was reached, not its kind)', async () => {
    const l = await lab();
    expect(codesOf(await verifyLab(l, demo.taskId, (p) => `${p}followDependencies: true\n`))).toBe(
      'ACCEPTED',
    );
  });

  it('cot fetch follows dependencies when asked, so the mirror verifies offline as the queue does', async () => {
    const l = await lab();
    const TEST = 'TestaaaaQaCaaaaaaaaaaA';
    const linux = ids()['build-linux64']!;
    // a test task in the graph that the beetmover depends on but consumes nothing from
    const t = structuredClone(await l.queue.task(ids()['build-win64']!));
    (t.metadata as JsonObject).name = 'test-win64';
    t.dependencies = [linux];
    await putSignedTask(l, TEST, t, { 'public/logs/live.log': 'ok' }, 'generic-worker');
    await editGraph(l, (g) => {
      const e = structuredClone(g[ids()['build-win64']!]!);
      (e.task as JsonObject).metadata = {
        ...((e.task as JsonObject).metadata as JsonObject),
        name: 'test-win64',
      };
      (e.task as JsonObject).dependencies = [linux];
      g[TEST] = e;
    });
    await changeGraphTask(l, demo.taskId, 'scriptworker', (b) => {
      (b.dependencies as string[]).push(TEST);
    });
    const follow = (p: string) => `${p}followDependencies: true\n`;
    expect(codesOf(await verifyLab(l, demo.taskId, follow))).toBe('ACCEPTED');
    const mirror = join(l.dir, 'mirror');
    const f = await fetchChain(l.queue, demo.taskId, mirror, { followDependencies: true });
    expect(f.complete).toBe(true);
    expect(f.tasks.map((x) => x.taskId)).toContain(TEST);
    expect(codesOf(await verifyLab({ ...l, queue: new DirectoryQueue(mirror) }, demo.taskId))).toBe(
      'ACCEPTED',
    );
  });
});

describe('the mirror never holds unsigned bytes', () => {
  it('a decision run with a lone chain-of-trust.json (no .sig): neither it nor task-graph.json is mirrored', async () => {
    const l = await lab();
    const decision = ids().decision!;
    const asc = l.queue.artifactPath(decision, 0, 'public/chainOfTrust.json.asc');
    const text = (await readFile(asc, 'utf8'))
      .split('\n\n')
      .slice(1)
      .join('\n\n')
      .split('\n-----BEGIN PGP SIGNATURE')[0]!;
    await writeFile(l.queue.artifactPath(decision, 0, 'public/chain-of-trust.json'), text);
    await rm(asc);
    const mirror = join(l.dir, 'mirror');
    const f = await fetchChain(l.queue, demo.taskId, mirror);
    expect(f.complete).toBe(false);
    expect(f.missing).toEqual([expect.objectContaining({ taskId: decision, code: 'CHAIN_COT_MISSING' })]);
    const m = new DirectoryQueue(mirror);
    for (const name of ['public/chain-of-trust.json', 'public/task-graph.json'])
      await expect(readFile(m.artifactPath(decision, 0, name))).rejects.toThrow(/ENOENT/);
  });
});

describe('listings and graph shapes from production', () => {
  it('an odd name in a listing that nothing consumes does not break offline verification', async () => {
    const l = await lab();
    const linux = ids()['build-linux64']!;
    const listing = (await l.queue.listArtifacts(linux, 0)).map((a) => ({ ...a }) as unknown as JsonObject);
    await putListing(l, linux, 0, [
      ...listing,
      { name: 'public/build//config.log', storageType: 's3', contentType: 'text/plain', expires: '' },
    ]);
    expect(codesOf(await verifyLab(l, demo.taskId))).toBe('ACCEPTED');
  });

  it('a datestamp taskgraph wrote without a fraction on a whole second is the same instant', async () => {
    const l = await lab();
    const image = ids()['docker-image']!;
    const t = await l.queue.task(image);
    const created = new Date('2026-11-25T11:05:38.000Z');
    t.created = created.toISOString();
    const artifacts = (t.payload as JsonObject).artifacts as Record<string, JsonObject>;
    // taskgraph versions wrote isoformat()[:23] + "Z": no fraction when the microsecond is 0
    artifacts['public/image.tar.zst']!.expires = new Date(created.getTime() + 365 * 86400_000)
      .toISOString()
      .replace('.000Z', 'Z');
    await l.queue.putTask(image, t);
    await resignRun(l, image, 'docker-worker');
    expect(codesOf(await verifyLab(l, demo.taskId))).toBe('ACCEPTED');
    // a different instant is still a difference
    artifacts['public/image.tar.zst']!.expires = '2027-11-25T11:05:39Z';
    await l.queue.putTask(image, t);
    await resignRun(l, image, 'docker-worker');
    expect(codesOf(await verifyLab(l, demo.taskId))).toBe('CHAIN_TASK_GRAPH_MISMATCH');
  });

  it('glob patterns never reach the chain-of-trust files themselves', async () => {
    const l = await lab();
    await changeGraphTask(l, ids().signing!, 'scriptworker', (t) => {
      ups(t)[0] = { ...ups(t)[0]!, paths: ['public/*'] };
    });
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('ACCEPTED');
    expect(r.links.find((x) => x.taskId === ids().signing)!.checks.join('\n')).not.toMatch(
      /chainOfTrust\.json\.asc/,
    );
  });

  it('upstream entries that name no task or no artifact are refused, never dropped', async () => {
    const l = await lab();
    await changeGraphTask(l, ids().signing!, 'scriptworker', (t) => {
      ups(t).push(
        { taskId: 'not-a-task-id', taskType: 'build', paths: ['public/x'] },
        { taskId: { 'task-reference': '<build>' }, taskType: 'build', paths: ['public/x'] },
        { taskId: ids()['build-linux64']!, taskType: 'build', paths: ['../../etc/passwd', 7] },
      );
    });
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('CHAIN_UPSTREAM_INVALID');
    const messages = r.errors.map((e) => e.message).join('\n');
    expect(messages).toMatch(/upstreamArtifacts\[3\]\.taskId is "not-a-task-id"/);
    expect(messages).toMatch(/upstreamArtifacts\[4\]\.taskId is \{"task-reference":"<build>"\}/);
    expect(messages).toMatch(/paths\[0\] "\.\.\/\.\.\/etc\/passwd" has a "\.\."/);
    expect(messages).toMatch(/paths\[1\] is 7, not a string/);
  });
});

describe('runs carrying both formats (the 2019 transition), signatureFormat: either', () => {
  async function bothFormats(l: Lab) {
    const linux = ids()['build-linux64']!;
    // the worker's ed25519 key of that time is not in the verifier's trust file; its OpenPGP key is
    await generateKeyPair({
      type: 'ed25519',
      out: join(l.dir, 'keys/dw-ed.key'),
      pubOut: join(l.dir, 'keys/dw-ed.pub'),
      now: NOW,
    });
    const runDir = join(l.queue.runDir(linux, 0), 'artifacts');
    const environment = (await docEnvironment(l, linux))!;
    await rm(join(runDir, 'public/chainOfTrust.json.asc'));
    await generateChainOfTrust({
      task: await l.queue.task(linux),
      taskId: linux,
      runId: 0,
      workerGroup: 'us-east-1',
      workerId: 'dw-1',
      environment,
      artifactDir: runDir,
      outDir: join(runDir, 'public'),
      now: NOW,
      format: 'both',
      keys: [
        await loadSigningKey(join(l.dir, 'keys/docker-worker.key')),
        await loadSigningKey(join(l.dir, 'keys/dw-ed.key')),
      ],
    });
    return { linux, json: join(runDir, 'public/chain-of-trust.json') };
  }

  it('an ed25519 failure falls back to the OpenPGP document, as the reference does', async () => {
    const l = await lab();
    const { linux } = await bothFormats(l);
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('ACCEPTED');
    const link = r.links.find((x) => x.taskId === linux)!;
    expect(link.signatureKind).toBe('openpgp-cleartext');
    expect(link.checks.join('\n')).toMatch(
      /the ed25519 document was refused \(KEY_NOT_FOUND|SIGNATURE_INVALID/,
    );
  });

  it('but the unsigned chain-of-trust.json must then say what the signed .asc says', async () => {
    const l = await lab();
    const { json } = await bothFormats(l);
    const doc = JSON.parse(await readFile(json, 'utf8'));
    doc.environment.imageArtifactHash = `sha256:${'0'.repeat(64)}`;
    await writeFile(json, JSON.stringify(doc));
    // and the build's consumers share its failure: a document cot cannot use is bad input (exit 4), and a consumer
    // whose producer could not be verified for that reason fails with the producer's code, not a trust code
    // (before issue 10 they failed with CHAIN_COT_MISSING, and every chain failure exited 1)
    expect(codesOf(await verifyLab(l, demo.taskId))).toBe('DOCUMENT_INVALID');
  });
});
