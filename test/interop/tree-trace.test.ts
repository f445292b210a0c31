/**
 * Issue 12 §2: `cot verify` traces a chain back to its tree, offline. The chain's decision task is the real
 * Firefox maple decision task of 2018 (../shared/interop/scriptworker-cot/cotv2/decision_hg-push.json, read in
 * place), its tree material (`.taskcluster.yml`, `pushlog.json`, `projects.yml`, `actions.json`, `parameters.yml`)
 * laid out in the policy's `tree.dir` as `<host>/<repository path>/<revision>/`; a build and a nightly signing task
 * hang below it. With `tree: {preset: firefox}` it verifies and traces to /projects/maple; forged variants are
 * refused with their codes; a policy without `tree` still verifies, with the warning on the decision link.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/index.js';
import { canonicalize } from '../../src/json/canonical.js';
import {
  buildTestChain,
  codesOf,
  type Impl,
  type Lab,
  labFrom,
  putSignedTask,
  type TestChain,
  verifyLab,
} from '../helpers/chain.js';
import { HAVE_SHARED, SHARED_INTEROP, tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const DECISION = 'VQU9QMO4Teq7zr91FhBusg';
const BUILD = 'Bu1ldaaaQaCaaaaaaaaaaA';
const SIGNING = 'S1gnaaaaQaCaaaaaaaaaaA';
const REPO = 'https://hg.mozilla.org/projects/maple';
const REV = '054fe08d229f064a71bae9bb793e7ab8d95eff61';
const CREATED = '2018-01-09T19:15:02.118Z';

/** A graph entry with absolute times, and the task the queue holds for it (taskgraph create.py + createTask). */
function graphTask(
  taskId: string,
  kind: string,
  task: JsonObject,
  deps: string[],
  schedulerId: string,
): { entry: JsonObject; created: JsonObject } {
  const t: JsonObject = {
    created: CREATED,
    deadline: '2018-01-10T19:15:02.118Z',
    expires: '2019-01-09T19:15:02.118Z',
    extra: { parent: DECISION },
    metadata: {
      description: kind,
      name: `${kind}-win64/opt`,
      owner: 'asasaki@mozilla.com',
      source: `${REPO}/file/${REV}/taskcluster/ci`,
    },
    priority: 'highest',
    routes: [],
    scopes: [],
    tags: { kind, label: `${kind}-win64/opt` },
    ...task,
    ...(deps.length ? { dependencies: deps } : {}),
  };
  const created: JsonObject = {
    projectId: 'none',
    requires: 'all-completed',
    retries: 5,
    ...structuredClone(t),
    dependencies: deps.length ? deps : [DECISION],
    taskGroupId: DECISION,
    schedulerId,
    taskQueueId: `${String(t.provisionerId)}/${String(t.workerType)}`,
  };
  const entry: JsonObject = {
    attributes: { kind },
    dependencies: {},
    kind,
    label: `${kind}-win64/opt`,
    optimization: null,
    task: t,
    task_id: taskId,
  };
  return { entry, created };
}

interface Variant {
  decision?: (t: JsonObject) => void;
  build?: (t: JsonObject) => void;
  signing?: (t: JsonObject) => void;
  signingImpl?: Impl;
}

let demo: TestChain;
let d: string;
const real = join(SHARED_INTEROP, 'scriptworker-cot/cotv2');

/** Lay the real tree material out as the policy's tree.dir expects it. */
async function writeTrees(dir: string): Promise<void> {
  const folder = join(dir, 'trees', 'hg.mozilla.org', 'projects', 'maple', REV);
  await mkdir(folder, { recursive: true });
  for (const f of ['.taskcluster.yml', 'pushlog.json', 'actions.json', 'parameters.yml'])
    await copyFile(join(real, f), join(folder, f));
  // projects.yml is shared by every repository: at the top of tree.dir
  await copyFile(join(real, 'projects.yml'), join(dir, 'trees', 'projects.yml'));
}

async function makeChain(name: string, v: Variant = {}): Promise<Lab> {
  const l = await labFrom(demo, d, name, NOW);
  const decision = JSON.parse(await readFile(join(real, 'decision_hg-push.json'), 'utf8')) as JsonObject;
  const served: JsonObject = {
    ...decision,
    projectId: 'none',
    taskQueueId: 'aws-provisioner-v1/gecko-3-decision',
  };
  v.decision?.(served);
  const schedulerId = String(decision.schedulerId);
  const buildTask: JsonObject = {
    provisionerId: 'releng-3',
    workerType: 'b-win2022',
    payload: {
      command: [['mach.bat', 'build']],
      env: { GECKO_HEAD_REPOSITORY: REPO, GECKO_HEAD_REV: REV },
      maxRunTime: 7200,
      osGroups: [],
      mounts: [],
      artifacts: [
        {
          name: 'public/build',
          path: 'public/build',
          type: 'directory',
          expires: '2019-01-09T19:15:02.118Z',
        },
      ],
      features: { chainOfTrust: true },
    },
  };
  v.build?.(buildTask);
  const signingTask: JsonObject = {
    provisionerId: 'scriptworker-k8s',
    workerType: 'signing-3',
    scopes: ['project:releng:signing:cert:nightly-signing'],
    payload: {
      maxRunTime: 3600,
      upstreamArtifacts: [
        { taskId: BUILD, taskType: 'build', paths: ['public/build/target.zip'], formats: ['authenticode'] },
      ],
    },
  };
  v.signing?.(signingTask);
  const build = graphTask(BUILD, 'build', buildTask, [], schedulerId);
  const signing = graphTask(SIGNING, 'signing', signingTask, [BUILD], schedulerId);
  const graph = { [BUILD]: build.entry, [SIGNING]: signing.entry };
  await putSignedTask(
    l,
    DECISION,
    served,
    {
      'public/task-graph.json': canonicalize(graph as never),
      'public/parameters.yml': await readFile(join(real, 'parameters.yml')),
      'public/actions.json': await readFile(join(real, 'actions.json')),
    },
    'docker-worker',
  );
  await putSignedTask(
    l,
    BUILD,
    build.created,
    { 'public/build/target.zip': 'a windows build' },
    'generic-worker',
  );
  await putSignedTask(
    l,
    SIGNING,
    signing.created,
    { 'public/build/target.zip': 'signed' },
    v.signingImpl ?? 'scriptworker',
  );
  await writeTrees(l.dir);
  await writeFile(
    join(l.dir, 'policy.yml'),
    (await readFile(join(l.dir, 'policy.yml'), 'utf8'))
      .replace(
        'workerTypes:\n',
        'workerTypes:\n  aws-provisioner-v1/gecko-3-decision: docker-worker\n  releng-3/b-win2022-signing: generic-worker\n',
      )
      .replace(
        'decisionWorkerTypes: [releng-3/decision]',
        'decisionWorkerTypes: [releng-3/decision, aws-provisioner-v1/gecko-3-decision]',
      ),
  );
  return l;
}

const withTree =
  (extra = '') =>
  (p: string) =>
    `${p}\ntree:\n  preset: firefox\n  dir: trees\n${extra}`;

beforeAll(async () => {
  d = await tempDir();
  demo = await buildTestChain(join(d, 'demo'), NOW);
});

describe.skipIf(!HAVE_SHARED)(
  'cot verify traces a chain back to its tree (real 2018 decision task, offline)',
  () => {
    it('with tree: {preset: firefox}: the decision task is rebuilt from its .taskcluster.yml and the scope traced', async () => {
      const l = await makeChain('honest');
      const r = await verifyLab(l, SIGNING, withTree());
      expect(codesOf(r)).toBe('ACCEPTED');
      const decision = r.links.find((x) => x.taskId === DECISION)!;
      expect(decision.checks).toContain(
        `rebuilt from ${REPO}@${REV} .taskcluster.yml (tasks_for hg-push, level 3): match (tasks[0] of 1)`,
      );
      expect(decision.tree?.rebuild).toMatchObject({
        repository: REPO,
        revision: REV,
        matched: true,
        level: '3',
      });
      expect(decision.warnings?.some((w) => w.startsWith('tree not traced'))).toBe(false);
      const signing = r.links.find((x) => x.taskId === SIGNING)!;
      expect(signing.checks).toContain(
        'tree trace: repository /projects/maple, level 3, scope project:releng:signing:cert:nightly-signing allowed (all-nightly-branches)',
      );
      expect(signing.checks).toContain('a signing task, on scriptworker');
      expect(signing.tree?.scopes).toEqual([
        expect.objectContaining({
          scope: 'project:releng:signing:cert:nightly-signing',
          level: 'all-nightly-branches',
          allowed: true,
        }),
      ]);
      expect(r.links.every((x) => x.tree?.repositoryPath === '/projects/maple')).toBe(true);
    });

    it('a policy without tree still verifies, with the warning "tree not traced" on the decision link', async () => {
      const l = await makeChain('no-tree');
      const r = await verifyLab(l, SIGNING);
      expect(codesOf(r)).toBe('ACCEPTED');
      const decision = r.links.find((x) => x.taskId === DECISION)!;
      expect(decision.warnings).toEqual([
        expect.stringMatching(/^tree not traced: the policy has no tree section/),
      ]);
      expect(r.stats.warnings).toBe(1);
      expect(r.links.filter((x) => x.taskId !== DECISION).every((x) => x.warnings?.length === 0)).toBe(true);
    });

    it('tree required and no material for the repository: TREE_NOT_TRACED; not required: a warning', async () => {
      const l = await makeChain('untraced');
      expect(codesOf(await verifyLab(l, SIGNING, withTree()))).toBe('ACCEPTED');
      const base = await readFile(join(l.dir, 'policy.yml'), 'utf8');
      await writeFile(join(l.dir, 'policy.yml'), base.replace('dir: trees', 'dir: elsewhere'));
      expect(codesOf(await verifyLab(l, SIGNING))).toBe('TREE_NOT_TRACED');
      const r = await verifyLab(l, SIGNING, (p) => `${p}  required: false\n`);
      expect(codesOf(r)).toBe('ACCEPTED');
      expect(r.links.find((x) => x.taskId === DECISION)!.warnings).toEqual([
        expect.stringMatching(
          /^tree not traced: no tree material for https:\/\/hg\.mozilla\.org\/projects\/maple@054fe08d/,
        ),
      ]);
    });

    const forged: [string, Variant, string][] = [
      [
        'a decision task not rendered from the tree (one scope more)',
        { decision: (t) => void (t.scopes as string[]).push('project:releng:signing:cert:release-signing') },
        'TREE_TASK_MISMATCH',
      ],
      [
        'a release scope its repository is not allowed',
        {
          signing: (t) => {
            t.scopes = ['project:releng:balrog:server:release'];
          },
        },
        'TREE_SCOPE_NOT_ALLOWED',
      ],
      [
        'a try push near a restricted scope',
        {
          build: (t) => {
            (t.payload as JsonObject).env = {
              GECKO_HEAD_REPOSITORY: REPO,
              GECKO_HEAD_REV: REV,
              MH_BRANCH: 'try',
            };
          },
        },
        'TREE_TRY_RESTRICTED',
      ],
      [
        'a signing kind off scriptworker',
        {
          signing: (t) => {
            t.provisionerId = 'releng-3';
            t.workerType = 'b-win2022-signing';
          },
          signingImpl: 'generic-worker',
        },
        'TREE_KIND_NOT_SCRIPTWORKER',
      ],
      [
        'a build whose source is another repository than its GECKO_HEAD_REPOSITORY',
        {
          build: (t) => {
            t.metadata = {
              description: 'build',
              name: 'build-win64/opt',
              owner: 'asasaki@mozilla.com',
              source: `https://hg.mozilla.org/try/file/${REV}/taskcluster/ci`,
            };
          },
        },
        'TREE_REPOSITORY_MISMATCH,TREE_SOURCE_MISMATCH,TREE_TRY_RESTRICTED',
      ],
    ];
    for (const [name, variant, code] of forged)
      it(`refused: ${name} (${code})`, async () => {
        const l = await makeChain(`forged-${name.replace(/\W+/g, '-')}`, variant);
        const r = await verifyLab(l, SIGNING, withTree());
        expect(codesOf(r)).toBe(code);
      });
  },
);
