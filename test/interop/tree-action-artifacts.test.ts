/**
 * Issue 12 §3: an action task is rebuilt from its decision task's own `public/actions.json` and
 * `public/parameters.yml` (the artifacts its signed document lists, hash-checked), not from copies in the tree
 * folder: here the folder's copies are wrong and the rebuild still matches; a decision artifact changed after
 * signing is HASH_MISMATCH. The real try decision task and retrigger action of the shared vectors
 * (../shared/interop/scriptworker-cot/cotv4), read in place.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/index.js';
import {
  buildTestChain,
  codesOf,
  type Lab,
  labFrom,
  putSignedTask,
  type TestChain,
  verifyLab,
} from '../helpers/chain.js';
import { HAVE_SHARED, SHARED_INTEROP, tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const DECISION = 'LpCJV9wUQHSAm5SHyW4Olw';
const ACTION = 'E93EolXNSRuV2gOy7yMZEA';
const REV = 'c5429a8112e41dfabe22da0d7d0876fe05a17e67';
const real = join(SHARED_INTEROP, 'scriptworker-cot/cotv4');

let demo: TestChain;
let d: string;

async function served(file: string): Promise<JsonObject> {
  const t = JSON.parse(await readFile(join(real, file), 'utf8')) as JsonObject;
  return { ...t, projectId: 'none', taskQueueId: 'aws-provisioner-v1/gecko-1-decision' };
}

async function makeChain(name: string): Promise<Lab> {
  const l = await labFrom(demo, d, name, NOW);
  await putSignedTask(
    l,
    DECISION,
    await served('decision_try.json'),
    {
      'public/task-graph.json': '{}',
      'public/actions.json': await readFile(join(real, 'actions.json')),
      'public/parameters.yml': await readFile(join(real, 'parameters.yml')),
    },
    'docker-worker',
  );
  await putSignedTask(
    l,
    ACTION,
    await served('action_retrigger.json'),
    { 'public/task-graph.json': '{}' },
    'docker-worker',
  );
  // the tree folder: the template, pushlog and projects.yml; its actions.json and parameters.yml are wrong
  const folder = join(l.dir, 'trees', 'hg.mozilla.org', 'try', REV);
  await mkdir(folder, { recursive: true });
  for (const f of ['.taskcluster.yml', 'pushlog.json', 'projects.yml'])
    await copyFile(join(real, f), join(folder, f));
  await writeFile(join(folder, 'actions.json'), '{"actions": []}');
  await writeFile(join(folder, 'parameters.yml'), 'project: elsewhere\n');
  const policy = join(l.dir, 'policy.yml');
  await writeFile(
    policy,
    `${(await readFile(policy, 'utf8'))
      .replace('workerTypes:\n', 'workerTypes:\n  aws-provisioner-v1/gecko-1-decision: docker-worker\n')
      .replace(
        'decisionWorkerTypes: [releng-3/decision]',
        'decisionWorkerTypes: [releng-3/decision, aws-provisioner-v1/gecko-1-decision]',
      )}\ntree:\n  preset: firefox\n  dir: trees\n`,
  );
  return l;
}

beforeAll(async () => {
  d = await tempDir();
  demo = await buildTestChain(join(d, 'demo'), NOW);
});

describe.skipIf(!HAVE_SHARED)("an action is rebuilt from its decision task's own artifacts", () => {
  it('the decision task artifacts are preferred to the tree folder copies: match', async () => {
    const l = await makeChain('honest');
    const r = await verifyLab(l, ACTION);
    const action = r.links.find((x) => x.taskId === ACTION)!;
    expect(action.checks).toContainEqual(
      expect.stringMatching(
        /^rebuilt from https:\/\/hg\.mozilla\.org\/try@c5429a81.*tasks_for action.*: match/,
      ),
    );
    expect(codesOf(r)).toBe('ACCEPTED');
  });

  it('a decision artifact changed after signing: HASH_MISMATCH on the action link', async () => {
    const l = await makeChain('changed');
    await writeFile(l.queue.artifactPath(DECISION, 0, 'public/actions.json'), '{"actions": []}');
    const r = await verifyLab(l, ACTION);
    expect(codesOf(r)).toContain('HASH_MISMATCH');
    expect(r.errors.find((e) => e.code === 'HASH_MISMATCH')?.taskId).toBe(ACTION);
  });
});
