/**
 * The chain of test/interop/tree-trace.test.ts for tests that need it elsewhere (`cot fetch --trees`): the real
 * Firefox maple decision task of 2018 (../shared/interop/scriptworker-cot/cotv2/decision_hg-push.json, read in
 * place) with its actions.json and parameters.yml as signed artifacts, a build task and a nightly signing task
 * below it, in a lab (test/helpers/chain.ts) whose policy knows the decision worker type. No tree folder is
 * written: `writeTrees` lays the material out as a policy's tree.dir expects it, for tests that want one.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonObject } from '../../src/index.js';
import { canonicalize } from '../../src/json/canonical.js';
import { type Impl, type Lab, labFrom, putSignedTask, type TestChain } from './chain.js';
import { SHARED_INTEROP } from './env.js';

export const NOW = new Date('2026-11-25T12:00:00Z');
export const DECISION = 'VQU9QMO4Teq7zr91FhBusg';
export const BUILD = 'Bu1ldaaaQaCaaaaaaaaaaA';
export const SIGNING = 'S1gnaaaaQaCaaaaaaaaaaA';
export const REPO = 'https://hg.mozilla.org/projects/maple';
export const REV = '054fe08d229f064a71bae9bb793e7ab8d95eff61';
const CREATED = '2018-01-09T19:15:02.118Z';
/** The real tree material of the decision task (the shared vectors). */
export const REAL_TREE = join(SHARED_INTEROP, 'scriptworker-cot/cotv2');
const real = REAL_TREE;
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

export interface Variant {
  decision?: (t: JsonObject) => void;
  build?: (t: JsonObject) => void;
  signing?: (t: JsonObject) => void;
  signingImpl?: Impl;
}

/** Lay the real tree material out as the policy's tree.dir expects it. */
export async function writeTrees(dir: string): Promise<void> {
  const folder = join(dir, 'trees', 'hg.mozilla.org', 'projects', 'maple', REV);
  await mkdir(folder, { recursive: true });
  for (const f of ['.taskcluster.yml', 'pushlog.json', 'actions.json', 'parameters.yml'])
    await copyFile(join(real, f), join(folder, f));
  // projects.yml is shared by every repository: at the top of tree.dir
  await copyFile(join(real, 'projects.yml'), join(dir, 'trees', 'projects.yml'));
}

export async function makeTreeChain(demo: TestChain, d: string, name: string, v: Variant = {}): Promise<Lab> {
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
