/**
 * Attacks on the chain logic (issue 9 §2, §6 "which run", §7 glob patterns): each builds a chain an attacker of a
 * release pipeline could make (tasks honestly signed by real worker keys, but arranged to escape a check) or a
 * real-world shape that must verify, on a copy of the demo, and asserts the exact outcome.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/index.js';
import { DirectoryQueue, fetchChain, startQueueServer, TaskclusterQueue } from '../../src/queue.js';
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

beforeAll(async () => {
  d = await tempDir();
  demo = await buildTestChain(join(d, 'demo'), NOW);
  expect(demo.report.ok).toBe(true);
});

// fresh task ids for the attacker's tasks (valid slugids)
const R1 = 'Rg1aaaaaQaCaaaaaaaaaaA';
const R2 = 'Rg2aaaaaQaCaaaaaaaaaaA';

const rogue = (over: JsonObject): JsonObject => ({
  provisionerId: 'releng-3',
  workerType: 'b-linux',
  taskQueueId: 'releng-3/b-linux',
  projectId: 'none',
  schedulerId: 'demo-level-3',
  dependencies: [],
  requires: 'all-completed',
  routes: [],
  priority: 'lowest',
  retries: 5,
  created: '2026-11-25T11:00:00.000Z',
  deadline: '2026-11-26T11:00:00.000Z',
  expires: '2027-11-25T11:00:00.000Z',
  scopes: [],
  payload: { command: ['make', 'evil'], maxRunTime: 600 },
  metadata: {
    name: 'rogue',
    description: 'rogue',
    owner: 'attacker@example.com',
    source: 'https://evil.example.com',
  },
  tags: {},
  extra: {},
  ...over,
});

describe('every link must trace to a verified decision task', () => {
  it('two honestly signed tasks that are their own task groups, and no decision task: refused', async () => {
    const l = await lab();
    await putSignedTask(
      l,
      R1,
      rogue({ taskGroupId: R1 }),
      { 'public/build/evil.tar.gz': 'evil bytes' },
      'docker-worker',
    );
    await putSignedTask(
      l,
      R2,
      rogue({
        provisionerId: 'scriptworker-k8s',
        workerType: 'signing-3',
        taskQueueId: 'scriptworker-k8s/signing-3',
        taskGroupId: R2,
        payload: {
          upstreamArtifacts: [{ taskId: R1, taskType: 'build', paths: ['public/build/evil.tar.gz'] }],
        },
      }),
      { 'public/build/evil.tar.gz': 'evil bytes, signed' },
      'scriptworker',
    );
    const r = await verifyLab(l, R2);
    expect(codesOf(r)).toBe('CHAIN_NO_DECISION,CHAIN_PARENT_INVALID');
    expect(
      r.errors
        .filter((e) => e.code === 'CHAIN_PARENT_INVALID')
        .map((e) => e.taskId)
        .sort(),
    ).toEqual([R1, R2].sort());
    // the artifact itself checked out: the refusal is the missing decision task, not a hash
    expect(r.stats.artifactsChecked).toBe(1);
  });

  it('extra.parent naming the task itself escapes nothing either', async () => {
    const l = await lab();
    await putSignedTask(
      l,
      R1,
      rogue({ taskGroupId: ids().decision!, extra: { parent: R1 } }),
      { 'public/x': 'x' },
      'docker-worker',
    );
    expect(codesOf(await verifyLab(l, R1))).toBe('CHAIN_NO_DECISION,CHAIN_PARENT_INVALID');
  });

  it('an empty or malformed extra.parent is no parent (taskgraph writes "" outside a decision task)', async () => {
    const l = await lab();
    await putSignedTask(
      l,
      R1,
      rogue({ taskGroupId: ids().decision!, extra: { parent: '' } }),
      { 'public/x': 'x' },
      'docker-worker',
    );
    const r = await verifyLab(l, R1);
    expect(codesOf(r)).toBe('CHAIN_NO_DECISION,CHAIN_PARENT_INVALID');
    expect(r.errors[0]!.message).toMatch(/extra\.parent is ""/);
  });

  it('a self-parented task on a decision worker type is a decision task and must meet their rules', async () => {
    const l = await lab();
    await putSignedTask(
      l,
      R1,
      rogue({
        provisionerId: 'releng-3',
        workerType: 'decision',
        taskQueueId: 'releng-3/decision',
        taskGroupId: R1,
      }),
      { 'public/x': 'x' },
      'docker-worker',
    );
    const r = await verifyLab(l, R1);
    // it is accepted as a decision task: proving a decision task came from the tree is the tree-trace check's job
    expect(codesOf(r)).toBe('ACCEPTED');
    expect(r.links[0]).toMatchObject({ decision: true, kinds: ['decision'] });
  });
});

describe('verifyRootTask: false waives only the root document', () => {
  const waive = (p: string) => `${p}verifyRootTask: false\n`;

  it('the root still needs a worker implementation from the policy', async () => {
    const l = await lab();
    await putSignedTask(
      l,
      R1,
      rogue({
        provisionerId: 'elsewhere',
        workerType: 'anything',
        taskQueueId: 'elsewhere/anything',
        taskGroupId: ids().decision!,
        extra: { parent: ids().decision! },
      }),
      {},
      'docker-worker',
      { unsigned: true },
    );
    const task = await l.queue.task(R1);
    await editGraph(l, (g) => {
      g[R1] = { task };
    });
    const r = await verifyLab(l, R1, waive);
    expect(codesOf(r)).toBe('CHAIN_UNKNOWN_WORKER_TYPE');
  });

  it('a root that claims to be its own decision task off a decision worker type is refused', async () => {
    const l = await lab();
    await putSignedTask(l, R1, rogue({ taskGroupId: R1 }), {}, 'docker-worker', { unsigned: true });
    expect(codesOf(await verifyLab(l, R1, waive))).toBe('CHAIN_NO_DECISION,CHAIN_PARENT_INVALID');
  });

  it('a root that is not in its decision task graph is refused (no document needed to see it)', async () => {
    const l = await lab();
    await putSignedTask(
      l,
      R1,
      rogue({ taskGroupId: ids().decision!, extra: { parent: ids().decision! } }),
      {},
      'docker-worker',
      { unsigned: true },
    );
    expect(codesOf(await verifyLab(l, R1, waive))).toBe('CHAIN_NOT_IN_TASK_GRAPH');
  });
});

describe('optional artifacts and storage types', () => {
  it('optional excuses only absence: present in the queue but not in the signed document is ARTIFACT_NOT_LISTED', async () => {
    const l = await lab();
    // the Windows build leaves an extra file in its artifacts after signing: the queue has it, the document does not
    await putSignedTask(
      l,
      ids()['build-win64']!,
      await l.queue.task(ids()['build-win64']!),
      { 'public/build/optional-symbols.zip': 'unsigned' },
      'generic-worker',
      { unsigned: true },
    );
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('ARTIFACT_NOT_LISTED');
    expect(r.errors[0]!.message).toMatch(/optional excuses only absence/);
  });

  it('an error artifact counts as absent: fine when optional, ARTIFACT_MISSING when not', async () => {
    const l = await lab();
    const win = ids()['build-win64']!;
    const listing = (await l.queue.listArtifacts(win, 0)).map((a) => ({ ...a }) as unknown as JsonObject);
    await putListing(l, win, 0, [
      ...listing,
      {
        name: 'public/build/optional-symbols.zip',
        storageType: 'error',
        contentType: 'text/plain',
        expires: '',
      },
    ]);
    expect(codesOf(await verifyLab(l, demo.taskId))).toBe('ACCEPTED');
    await putListing(
      l,
      win,
      0,
      listing.map((a) => (a.name === 'public/build/target.zip' ? { ...a, storageType: 'error' } : a)),
    );
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('ARTIFACT_MISSING');
    expect(r.errors[0]!.message).toMatch(/error artifact/);
  });

  it('a link or reference artifact is a download like any other: listed and hash-checked, optional or not', async () => {
    const l = await lab();
    const win = ids()['build-win64']!;
    const listing = (await l.queue.listArtifacts(win, 0)).map((a) => ({ ...a }) as unknown as JsonObject);
    const as = async (name: string, storageType: string) =>
      putListing(l, win, 0, [
        ...listing.filter((a) => a.name !== name),
        { name, storageType, contentType: 'application/octet-stream', expires: '' },
      ]);
    // a link serving exactly the signed bytes verifies (the queue follows it to them)
    await as('public/build/target.zip', 'link');
    expect(codesOf(await verifyLab(l, demo.taskId))).toBe('ACCEPTED');
    // a reference: bytes from a URL the task chose, which the queue refuses to follow by default
    await as('public/build/target.zip', 'reference');
    expect(codesOf(await verifyLab(l, demo.taskId))).toBe('TRANSPORT_REDIRECT_REFUSED');
    // an optional link the signed document does not list: the consumer would get unsigned bytes
    await as('public/build/optional-symbols.zip', 'link');
    await putSignedTask(
      l,
      win,
      await l.queue.task(win),
      { 'public/build/optional-symbols.zip': 'any' },
      'generic-worker',
      {
        unsigned: true,
      },
    );
    expect(codesOf(await verifyLab(l, demo.taskId))).toBe('ARTIFACT_NOT_LISTED');
  });

  it('cot fetch never mirrors unsigned bytes, says what is missing, and the mirror verifies as the queue does', async () => {
    const l = await lab();
    await putSignedTask(
      l,
      ids()['build-win64']!,
      await l.queue.task(ids()['build-win64']!),
      { 'public/build/optional-symbols.zip': 'unsigned' },
      'generic-worker',
      { unsigned: true },
    );
    const server = await startQueueServer({ dir: join(l.dir, 'queue') });
    try {
      const mirror = join(l.dir, 'mirror');
      const f = await fetchChain(new TaskclusterQueue({ rootUrl: server.rootUrl }), demo.taskId, mirror);
      expect(f.complete).toBe(false);
      expect(f.missing).toEqual([
        expect.objectContaining({
          artifact: 'public/build/optional-symbols.zip',
          code: 'ARTIFACT_NOT_LISTED',
        }),
      ]);
      const m = new DirectoryQueue(mirror);
      expect(
        await m
          .openArtifact(ids()['build-win64']!, 0, 'public/build/optional-symbols.zip')
          .catch((e) => e.code),
      ).toBe('QUEUE_NOT_FOUND');
      const offline = await verifyLab({ ...l, queue: m }, demo.taskId);
      expect(codesOf(offline)).toBe('ARTIFACT_NOT_LISTED');
    } finally {
      await server.close();
    }
  });
});

describe('docker images', () => {
  it('a build task running a prebuilt image is refused when the policy allows them only for decision, action and docker-image tasks', async () => {
    const l = await lab();
    await changeGraphTask(l, ids()['build-linux64']!, 'docker-worker', (t) => {
      (t.payload as JsonObject).image = 'ubuntu:24.04';
    });
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('CHAIN_PREBUILT_IMAGE');
    expect(r.errors[0]!.message).toMatch(/\(build\) runs the prebuilt image ubuntu:24\.04/);
    // a policy that says nothing allows it, and the report marks the image unverified
    const open = await verifyLab(l, demo.taskId, (p) => p.replace(/^prebuiltDockerImageTaskTypes:.*$/m, ''));
    expect(codesOf(open)).toBe('ACCEPTED');
    expect(open.links.find((x) => x.taskId === ids()['build-linux64'])!.image).toEqual({
      type: 'prebuilt',
      name: 'ubuntu:24.04',
      verified: false,
    });
  });

  it('an indexed image is never allowed in a chain whose task uses a restricted scope', async () => {
    const l = await lab();
    const indexed = {
      type: 'indexed-image',
      namespace: 'docker.images.v2.level-3.base.latest',
      path: 'public/image.tar.zst',
    };
    await changeGraphTask(l, ids()['docker-image']!, 'docker-worker', (t) => {
      (t.payload as JsonObject).image = indexed;
    });
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('CHAIN_PREBUILT_IMAGE');
    expect(r.errors[0]!.message).toMatch(/restricted scope \(project:releng:beetmover:bucket:release\)/);
    // without the restricted scope rule, a docker-image task may use it (its kind is allowed)
    expect(codesOf(await verifyLab(l, demo.taskId, (p) => p.replace(/^restrictedScopes:.*$/m, '')))).toBe(
      'ACCEPTED',
    );
  });

  it('a task-image whose chainOfTrust input names another task is refused', async () => {
    const l = await lab();
    await changeGraphTask(l, ids()['build-linux64']!, 'docker-worker', (t) => {
      ((t.extra as JsonObject).chainOfTrust as JsonObject).inputs = { 'docker-image': ids()['build-win64']! };
    });
    expect(codesOf(await verifyLab(l, demo.taskId))).toBe('CHAIN_IMAGE_HASH_MISMATCH');
  });

  it('the report says which image each link ran and whether it is verified', async () => {
    const links = Object.fromEntries(demo.report.links.map((x) => [x.taskId, x.image]));
    expect(links[ids()['build-linux64']!]).toMatchObject({ type: 'task-image', verified: true });
    expect(links[ids().decision!]).toMatchObject({ type: 'prebuilt', verified: false });
    expect(links[ids()['build-win64']!]).toEqual({ type: 'none', verified: false });
  });
});

describe('interactive tasks are refused, by payload shape', () => {
  const cases: [string, string, 'docker-worker' | 'generic-worker', (t: JsonObject) => void][] = [
    [
      'docker-worker features.interactive',
      'build-linux64',
      'docker-worker',
      (t) => {
        ((t.payload as JsonObject).features as JsonObject).interactive = true;
      },
    ],
    [
      'docker-worker TASKCLUSTER_INTERACTIVE',
      'build-linux64',
      'docker-worker',
      (t) => {
        (t.payload as JsonObject).env = { TASKCLUSTER_INTERACTIVE: 'true' };
      },
    ],
    [
      'generic-worker rdpInfo',
      'build-win64',
      'generic-worker',
      (t) => {
        (t.payload as JsonObject).rdpInfo = 'public/rdp.json';
      },
    ],
    [
      'generic-worker allow-rdp scope',
      'build-win64',
      'generic-worker',
      (t) => {
        t.scopes = ['generic-worker:allow-rdp:releng-3/b-win2022'];
      },
    ],
    [
      'a docker-worker payload run by generic-worker (d2g)',
      'build-win64',
      'generic-worker',
      (t) => {
        (t.payload as JsonObject).features = { interactive: true };
      },
    ],
  ];
  for (const [name, task, impl, change] of cases) {
    it(name, async () => {
      const l = await lab();
      await changeGraphTask(l, ids()[task]!, impl, change);
      expect(codesOf(await verifyLab(l, demo.taskId))).toBe('CHAIN_INTERACTIVE_TASK');
    });
  }
});

describe('which run is verified', () => {
  it('a rerun made after the consumer started is not the run the consumer used', async () => {
    const l = await lab();
    const linux = ids()['build-linux64']!;
    const signing = ids().signing!;
    // run 1 of the build: a rerun after signing started, still running (no document yet)
    await putSignedTask(
      l,
      linux,
      await l.queue.task(linux),
      { 'public/build/target.tar.gz': 'rerun bytes' },
      'docker-worker',
      { runId: 1, unsigned: true },
    );
    await putStatus(l, linux, [
      {
        runId: 0,
        state: 'completed',
        started: '2026-11-25T11:05:00.000Z',
        resolved: '2026-11-25T11:20:00.000Z',
      },
      { runId: 1, state: 'running', reasonCreated: 'rerun', started: '2026-11-25T11:40:00.000Z' },
    ]);
    await putStatus(l, signing, [
      {
        runId: 0,
        state: 'completed',
        started: '2026-11-25T11:30:00.000Z',
        resolved: '2026-11-25T11:35:00.000Z',
      },
    ]);
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('ACCEPTED');
    const link = r.links.find((x) => x.taskId === linux)!;
    expect(link.runId).toBe(0);
    expect(link.runReason).toMatch(/latest run resolved \(2026-11-25T11:20:00\.000Z\) before .* started/);
  });

  it('a retry that resolved before the consumer started is the run verified, with its own document', async () => {
    const l = await lab();
    const linux = ids()['build-linux64']!;
    const signing = ids().signing!;
    const bytes = await (await import('node:fs/promises')).readFile(
      l.queue.artifactPath(linux, 0, 'public/build/target.tar.gz'),
    );
    // run 0 died (worker-shutdown), run 1 produced the bytes the signing task consumed
    await putSignedTask(
      l,
      linux,
      await l.queue.task(linux),
      {
        'public/build/target.tar.gz': bytes,
        'public/build/target.checksums': 'sha512 …\n',
      },
      'docker-worker',
      { runId: 1, environment: (await docEnvironment(l, linux, 0))! },
    );
    await (await import('node:fs/promises')).writeFile(
      l.queue.artifactPath(linux, 0, 'public/build/target.tar.gz'),
      'partial',
    );
    await putStatus(l, linux, [
      {
        runId: 0,
        state: 'exception',
        reasonResolved: 'worker-shutdown',
        started: '2026-11-25T11:05:00.000Z',
        resolved: '2026-11-25T11:10:00.000Z',
      },
      {
        runId: 1,
        state: 'completed',
        reasonCreated: 'retry',
        started: '2026-11-25T11:11:00.000Z',
        resolved: '2026-11-25T11:20:00.000Z',
      },
    ]);
    await putStatus(l, signing, [
      {
        runId: 0,
        state: 'completed',
        started: '2026-11-25T11:30:00.000Z',
        resolved: '2026-11-25T11:35:00.000Z',
      },
    ]);
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('ACCEPTED');
    expect(r.links.find((x) => x.taskId === linux)!.runId).toBe(1);
  });
});

describe('glob patterns in upstreamArtifacts', () => {
  const useGlob =
    (paths: string[], optional = false) =>
    async (l: Lab) =>
      changeGraphTask(l, ids().signing!, 'scriptworker', (t) => {
        const ups = (t.payload as JsonObject).upstreamArtifacts as JsonObject[];
        ups[0] = { ...ups[0]!, paths, ...(optional ? { optional: true } : {}) };
      });

  it('every match is hash-checked against the signed document', async () => {
    const l = await lab();
    await useGlob(['public/build/target.*'])(l);
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('ACCEPTED');
    const checks = r.links.find((x) => x.taskId === ids().signing)!.checks.join('\n');
    expect(checks).toMatch(
      /public\/build\/target\.tar\.gz \(matched by public\/build\/target\.\*\).*hash matches/,
    );
    expect(checks).toMatch(
      /public\/build\/target\.checksums \(matched by public\/build\/target\.\*\).*hash matches/,
    );
  });

  it('* also matches "/" (fnmatch), and an unsigned match is refused: a consumer would download it', async () => {
    const l = await lab();
    await useGlob(['public/*.gz'])(l);
    const linux = ids()['build-linux64']!;
    await putSignedTask(
      l,
      linux,
      await l.queue.task(linux),
      { 'public/logs/smuggled.gz': 'not signed' },
      'docker-worker',
      { unsigned: true },
    );
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('ARTIFACT_NOT_LISTED');
    expect(r.errors[0]!.message).toMatch(/public\/logs\/smuggled\.gz \(matched by public\/\*\.gz\)/);
  });

  it('a pattern that matches nothing is refused, unless optional', async () => {
    const l = await lab();
    await useGlob(['public/nothing/*'])(l);
    expect(codesOf(await verifyLab(l, demo.taskId))).toBe('ARTIFACT_MISSING');
    const m = await lab();
    await useGlob(['public/nothing/*'], true)(m);
    expect(codesOf(await verifyLab(m, demo.taskId))).toBe('ACCEPTED');
  });

  it('cot fetch mirrors every match, and the mirror verifies offline', async () => {
    const l = await lab();
    await useGlob(['public/build/target.*'])(l);
    const server = await startQueueServer({ dir: join(l.dir, 'queue') });
    try {
      const mirror = join(l.dir, 'mirror');
      const f = await fetchChain(new TaskclusterQueue({ rootUrl: server.rootUrl }), demo.taskId, mirror);
      expect(f.complete).toBe(true);
      expect(f.tasks.find((t) => t.taskId === ids()['build-linux64'])!.artifacts).toEqual(
        expect.arrayContaining(['public/build/target.tar.gz', 'public/build/target.checksums']),
      );
      expect(codesOf(await verifyLab({ ...l, queue: new DirectoryQueue(mirror) }, demo.taskId))).toBe(
        'ACCEPTED',
      );
    } finally {
      await server.close();
    }
  });
});

describe('the signed task and the queue', () => {
  it('priority changed in the queue after signing (changeTaskPriority) is not a mismatch, and the report says so', async () => {
    const l = await lab();
    const linux = ids()['build-linux64']!;
    await l.queue.putTask(linux, { ...(await l.queue.task(linux)), priority: 'highest' });
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('ACCEPTED');
    expect(r.links.find((x) => x.taskId === linux)!.checks).toContain(
      "signed task definition equals the queue's (priority not compared: it carries no trust)",
    );
    // any other change still is
    await l.queue.putTask(linux, { ...(await l.queue.task(linux)), retries: 0 });
    expect(codesOf(await verifyLab(l, demo.taskId))).toBe('CHAIN_TASK_GRAPH_MISMATCH,CHAIN_TASK_MISMATCH');
  });
});

describe('signatures in the chain', () => {
  it('signatureFormat ed25519 accepts only a raw 64-byte .sig: an OpenPGP signature there is refused', async () => {
    const l = await lab();
    const win = ids()['build-win64']!;
    // a detached OpenPGP signature by the (allowed) docker-worker key, put where the ed25519 .sig belongs
    const { loadSigningKey } = await import('../../src/index.js');
    const { readFile, writeFile } = await import('node:fs/promises');
    const key = await loadSigningKey(join(l.dir, 'keys', 'docker-worker.key'));
    if (key.kind !== 'openpgp') throw new Error('expected an OpenPGP key');
    const doc = await readFile(l.queue.artifactPath(win, 0, 'public/chain-of-trust.json'));
    const openpgp = await import('openpgp');
    const sig = await openpgp.sign({
      message: await openpgp.createMessage({ binary: doc }),
      signingKeys: key.key,
      detached: true,
      format: 'binary',
      date: NOW,
    });
    await writeFile(l.queue.artifactPath(win, 0, 'public/chain-of-trust.json.sig'), sig as Uint8Array);
    // even with the docker-worker key allowed for generic-worker, the kind is refused before any cryptography
    const r = await verifyLab(l, demo.taskId, (p) =>
      p.replace(
        'ed25519Keys: ed25519-keys.json\n',
        'ed25519Keys: ed25519-keys.json\nkeys:\n  generic-worker: [keys/docker-worker.pub]\n',
      ),
    );
    expect(codesOf(r)).toBe('CHAIN_COT_MISSING,SIGNATURE_KIND_REFUSED');
    expect(r.errors.find((e) => e.code === 'SIGNATURE_KIND_REFUSED')!.taskId).toBe(win);
  });

  it("a document signed before the queue created the task is refused (the queue's created, not the document's)", async () => {
    const l = await lab();
    const beetmover = demo.taskId;
    // the signature says 10:30, half an hour before the queue created the task (11:02)
    await resignRun({ ...l, now: new Date('2026-11-25T10:30:00Z') }, beetmover, 'scriptworker');
    expect(codesOf(await verifyLab(l, beetmover))).toBe('SIGNATURE_BEFORE_TASK');
  });

  it('one ed25519 key serving docker-worker and generic-worker (d2g) verifies a docker-worker link', async () => {
    const l = await lab();
    const { readFile, writeFile } = await import('node:fs/promises');
    const trust = JSON.parse(await readFile(join(l.dir, 'ed25519-keys.json'), 'utf8'));
    trust['docker-worker'] = trust['generic-worker'];
    await writeFile(join(l.dir, 'ed25519-keys.json'), JSON.stringify(trust));
    // the Linux build, a docker-worker task, signed by the shared (generic-worker) ed25519 key
    await resignRun(l, ids()['build-linux64']!, 'generic-worker');
    const r = await verifyLab(l, demo.taskId);
    expect(codesOf(r)).toBe('ACCEPTED');
    expect(r.links.find((x) => x.taskId === ids()['build-linux64'])).toMatchObject({
      implementation: 'docker-worker',
      signatureKind: 'ed25519',
    });
  });
});
