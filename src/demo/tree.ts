import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonObject } from '../json/parse.js';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * The demo's source tree: the repository the demo's decision task comes from, its in-tree `.taskcluster.yml`
 * (JSON-e, rendered by the verifier with the hg-push context: tree/context.ts), the push that made it
 * (`pushlog.json`, hg's `json-pushes?version=2` answer) and `projects.yml` (ci-configuration's shape), written in the
 * layout of the policy's `tree.dir` (chain/tree-material.ts): `tree/<host>/<repository path>/<revision>/`, each
 * folder with its own `projects.yml`, so that one folder is also what `cot verify-parent --tree` reads. The demo's policy (DEMO_TREE_POLICY) trusts the release repository only.
 */

/** One repository the demo can build its graph from. */
export interface DemoRepository {
  /** https URL, as `DEMO_HEAD_REPOSITORY` holds it */
  url: string;
  /** the project name in projects.yml (the last path segment, as the reference finds it) */
  project: string;
  /** its scm level (projects.yml `access: scm_level_<level>`), also in the schedulerId `demo-level-<level>` */
  level: string;
}

/** The trusted release repository (level 3): the demo's normal source. */
export const DEMO_RELEASE_REPOSITORY: DemoRepository = {
  url: 'https://hg.example.com/releases',
  project: 'releases',
  level: '3',
};

/**
 * A level-1 project repository the demo's policy does not trust: a graph built from it may not hold a release
 * scope (`cot demo --tamper-tree untrusted`: TREE_SCOPE_NOT_ALLOWED).
 */
export const DEMO_SANDBOX_REPOSITORY: DemoRepository = {
  url: 'https://hg.example.com/projects/sandbox',
  project: 'sandbox',
  level: '1',
};

/** The pushed revision every demo graph is built from (40 hex digits: an hg changeset id). */
export const DEMO_REVISION = 'a'.repeat(40);

/** Its parent, the base revision of the push. */
const DEMO_BASE_REVISION = 'b'.repeat(40);

/** The decision task's docker image (pinned by digest, as real decision tasks are). */
export const DEMO_DECISION_IMAGE = `mozillareleases/taskgraph:decision-v11@sha256:${'4f'.repeat(32)}`;

/**
 * The `tree` section appended to DEMO_POLICY when the demo has a tree (YAML): its own rules, no preset. The
 * material is `tree/` next to the policy; the trusted repository is the release one (path `/releases`); both
 * release scopes of the graph (signing's cert, beetmover's bucket) need the level `release`, which only `/releases`
 * has; the repository variables are `DEMO_HEAD_REPOSITORY` and `DEMO_HEAD_REV`; an untraced parent is an error.
 */
export const DEMO_TREE_POLICY = `# the source tree: every decision task rebuilt from its .taskcluster.yml, the chain traced to its repository
tree:
  required: true
  dir: tree
  envPrefix: DEMO
  tasksFor: [hg-push, cron, action]
  trustedRepositories:
    - schemes: [https]
      hosts: [hg.example.com]
      pathPatterns: ['^(?<path>/releases)(/|$)']
  restrictedScopes:
    'project:releng:signing:cert:release-signing': release
    'project:releng:beetmover:bucket:release': release
  restrictedTrees:
    release: [/releases]
  prebuiltDockerImageTaskTypes: [decision, action, docker-image]
`;

/**
 * The demo's `.taskcluster.yml` (a JSON-e template, written as JSON, which is YAML): for `tasks_for` hg-push it
 * renders one task, the decision task builder.ts makes (decisionTask), field for field once the queue's defaults and
 * the comparison rules (tree/compare.ts) are applied; any other `tasks_for` renders no task.
 */
function demoTemplate(): JsonObject {
  return {
    version: 1,
    tasks: {
      $switch: {
        'tasks_for == "hg-push"': [
          {
            taskId: `\${ownTaskId}`,
            taskGroupId: `\${ownTaskId}`,
            schedulerId: `demo-level-\${repository.level}`,
            provisionerId: 'releng-3',
            workerType: 'decision',
            created: `\${now}`,
            deadline: { $fromNow: '1 day', from: `\${now}` },
            expires: { $fromNow: '1 year', from: `\${now}` },
            priority: 'very-low',
            retries: 5,
            requires: 'all-completed',
            scopes: [`assume:repo:\${repository.url[8:]}:branch:default`],
            payload: {
              image: DEMO_DECISION_IMAGE,
              command: ['run-task', '--', 'taskgraph', 'decision'],
              maxRunTime: 1800,
              features: { chainOfTrust: true, taskclusterProxy: true },
              env: { DEMO_HEAD_REPOSITORY: `\${repository.url}`, DEMO_HEAD_REV: `\${push.revision}` },
            },
            metadata: {
              name: 'Decision Task',
              description: 'the cot demo decision task',
              owner: 'release@example.com',
              source: `\${repository.url}/raw-file/tip/.taskcluster.yml`,
            },
            tags: { kind: 'decision-task' },
            extra: { tasks_for: `\${tasks_for}` },
          },
        ],
        $default: [],
      },
    },
  };
}

/** hg's pushlog answer for the demo push (`json-pushes?changeset=REV&version=2&tipsonly=1`), pushed at `pushed`. */
function demoPushlog(pushed: Date): JsonObject {
  return {
    lastpushid: 4242,
    pushes: {
      '4242': {
        changesets: [
          {
            node: DEMO_REVISION,
            author: 'Release Engineer <release@example.com>',
            branch: 'default',
            desc: 'Bug 1 - ship the demo release r=releng',
            files: ['taskcluster/kinds/beetmover/kind.yml'],
            parents: [DEMO_BASE_REVISION],
            tags: [],
          },
        ],
        date: Math.floor(pushed.getTime() / 1000),
        user: 'release@example.com',
      },
    },
  };
}

/** ci-configuration's projects.yml for the demo's repositories (hg projects: level from `access`). */
function demoProjects(repositories: readonly DemoRepository[]): string {
  return repositories
    .map(
      (r) =>
        `${r.project}:\n  repo: ${r.url}\n  repo_type: hg\n  access: scm_level_${r.level}\n  trust_domain: demo\n`,
    )
    .join('');
}

/**
 * Write the demo's tree material under `dir/tree` (the policy's `tree.dir`): for `repository` at DEMO_REVISION
 * its `.taskcluster.yml` (demoTemplate), `pushlog.json` (pushed at `pushed`) and `projects.yml` (listing the
 * release and the sandbox repositories). Files at those names are replaced. Throws OUTPUT_FAILED. Returns the
 * repository's tree folder.
 */
export async function writeDemoTree(dir: string, repository: DemoRepository, pushed: Date): Promise<string> {
  const u = new URL(repository.url);
  const folder = join(dir, 'tree', u.hostname, ...u.pathname.split('/').filter(Boolean), DEMO_REVISION);
  await mkdir(folder, { recursive: true });
  // in the repository's folder, so that the folder alone is what `cot verify-parent --tree` reads
  await writeFileAtomic(
    join(folder, 'projects.yml'),
    demoProjects([DEMO_RELEASE_REPOSITORY, DEMO_SANDBOX_REPOSITORY]),
  );
  await writeFileAtomic(
    join(folder, '.taskcluster.yml'),
    `# the cot demo's in-tree template (JSON-e; JSON is YAML)\n${JSON.stringify(demoTemplate(), null, 2)}\n`,
  );
  await writeFileAtomic(join(folder, 'pushlog.json'), `${JSON.stringify(demoPushlog(pushed), null, 2)}\n`);
  return folder;
}
