/**
 * Issue 12 §2: `cot verify` traces a chain back to its tree, offline. The chain's decision task is the real
 * Firefox maple decision task of 2018 (../shared/interop/scriptworker-cot/cotv2/decision_hg-push.json, read in
 * place), its tree material (`.taskcluster.yml`, `pushlog.json`, `projects.yml`, `actions.json`, `parameters.yml`)
 * laid out in the policy's `tree.dir` as `<host>/<repository path>/<revision>/`; a build and a nightly signing task
 * hang below it. With `tree: {preset: firefox}` it verifies and traces to /projects/maple; forged variants are
 * refused with their codes; a policy without `tree` still verifies, with the warning on the decision link.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/index.js';
import { buildTestChain, codesOf, type Lab, type TestChain, verifyLab } from '../helpers/chain.js';
import { HAVE_SHARED, tempDir } from '../helpers/env.js';
import {
  DECISION,
  makeTreeChain,
  NOW,
  REPO,
  REV,
  SIGNING,
  type Variant,
  writeTrees,
} from '../helpers/tree-chain.js';

let demo: TestChain;
let d: string;

/** The chain around the real decision task (test/helpers/tree-chain.ts), with its tree material under trees/. */
async function makeChain(name: string, v: Variant = {}): Promise<Lab> {
  const l = await makeTreeChain(demo, d, name, v);
  await writeTrees(l.dir);
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
