import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../../src/json/parse.js';
import { envPrefixOf, planRebuild } from '../../../src/tree/context.js';
import { type GithubLookup, readTreeFolder, type TreeMaterial } from '../../../src/tree/files.js';
import { rebuildParentTask } from '../../../src/tree/rebuild.js';
import { renderJsonE } from '../../../src/tree/render.js';
import { HAVE_SHARED, SHARED_INTEROP } from '../../helpers/env.js';

// GitHub contexts: the shared VPN row (../shared/interop/scriptworker-cot/README.md) rebuilt to an exact match,
// and the contexts the reference's suite asserts (scriptworker tests/test_cot_verify.py, test_populate_jsone_*),
// rebuilt here from the same inputs.
const COT = join(SHARED_INTEROP, 'scriptworker-cot');
const HAVE_COT = HAVE_SHARED && (await import('node:fs')).existsSync(join(COT, 'README.md'));

async function task(file: string): Promise<JsonObject> {
  return JSON.parse(await readFile(join(COT, file), 'utf8')) as JsonObject;
}

/** A tree with only GitHub answers (and, optionally, projects.yml), as the reference's mocks give them. */
function githubTree(answers: Record<string, JsonObject>, projects?: JsonObject): TreeMaterial {
  return {
    files: {
      template: { source: '.taskcluster.yml', value: { tasks: [] } },
      ...(projects ? { projects: { source: 'projects.yml', value: projects } } : {}),
    },
    github: async (l: GithubLookup) => {
      const key = `${l.kind}:${l.owner}/${l.name}:${'sha' in l ? l.sha : 'number' in l ? l.number : 'tag' in l ? l.tag : ''}`;
      return answers[key] ? { source: key, value: answers[key]! } : undefined;
    },
    warnings: [],
  };
}

/** The reference suite's decision link (_craft_decision_link) with the env of one fixture. */
function decision(tasksFor: string, env: Record<string, string>, extra: JsonObject = {}): JsonObject {
  return {
    taskGroupId: 'decision_task_id',
    created: '2018-01-01T12:00:00.000Z',
    metadata: {
      owner: 'foo@example.tld',
      source: 'https://github.com/mozilla-mobile/reference-browser/raw/x/.taskcluster.yml',
    },
    payload: { env },
    extra: { tasks_for: tasksFor, ...extra },
  };
}

async function contextOf(t: JsonObject, tree: TreeMaterial, envPrefix = 'MOBILE', id = 'decision_task_id') {
  const plan = await planRebuild(
    { task: t, taskId: id, decisionTask: t, decisionTaskId: id, envPrefix },
    tree,
    (input) => renderJsonE(input),
  );
  return plan;
}

const PUSH_ENV = {
  MOBILE_BASE_REV: 'somebaserevision',
  MOBILE_HEAD_BRANCH: 'refs/heads/some-branch',
  MOBILE_HEAD_REPOSITORY: 'https://github.com/mozilla-mobile/reference-browser',
  MOBILE_HEAD_REV: 'somerevision0000000000000000000000000000'.slice(0, 40),
  MOBILE_PUSH_DATE_TIME: '1549022400',
};

describe.skipIf(!HAVE_COT)('the shared GitHub row rebuilds to an exact match', () => {
  it('cotv4/decision_github_private.json (github-push, env prefix MOZILLAVPN told from its env)', async () => {
    const t = await task('cotv4/decision_github_private.json');
    expect(envPrefixOf(t, 'VUTfOIPFQWaGHf7sIbgTEg')).toBe('MOZILLAVPN');
    const folder = await readTreeFolder(join(COT, 'cotv4'), {
      template: join(COT, 'cotv4/private_github_.taskcluster.yml'),
    });
    const asked: GithubLookup[] = [];
    const tree: TreeMaterial = {
      ...folder,
      github: async (l) => {
        asked.push(l);
        return {
          source: 'commit answer',
          value: {
            author: { login: 'Callek' },
            commit: { author: { email: 'Callek@gmail.com' }, committer: { email: 'Callek@gmail.com' } },
            committer: { login: 'Callek' },
          },
        };
      },
    };
    const r = await rebuildParentTask({ task: t, taskId: 'VUTfOIPFQWaGHf7sIbgTEg', tree });
    expect(r.differences).toEqual([]);
    expect(r).toMatchObject({
      matched: true,
      tasksFor: 'github-push',
      revision: '330ea928b42ff2403fc99cd3e596d13294fe8775',
    });
    expect(r.repository).toEqual({
      url: 'ssh://github.com/mozilla-mobile/mozilla-vpn-client.git',
      project: 'mozilla-vpn-client',
      level: null,
    });
    expect(asked).toEqual([
      {
        kind: 'commit',
        owner: 'mozilla-mobile',
        name: 'mozilla-vpn-client',
        sha: '330ea928b42ff2403fc99cd3e596d13294fe8775',
      },
    ]);
  });

  it('no commit answer: TREE_GITHUB_LOOKUP_FAILED naming the file; a tampered ref: no match', async () => {
    const t = await task('cotv4/decision_github_private.json');
    const folder = await readTreeFolder(join(COT, 'cotv4'), {
      template: join(COT, 'cotv4/private_github_.taskcluster.yml'),
    });
    // the folder has no github/ answers
    await expect(
      rebuildParentTask({ task: t, taskId: 'VUTfOIPFQWaGHf7sIbgTEg', tree: folder }),
    ).rejects.toMatchObject({
      code: 'TREE_GITHUB_LOOKUP_FAILED',
      message: expect.stringMatching(
        /commit 330ea928b42ff2403fc99cd3e596d13294fe8775 of mozilla-mobile\/mozilla-vpn-client.*github\/commits\/330ea928b42ff2403fc99cd3e596d13294fe8775\.json/,
      ),
    });
    const ref = structuredClone(t);
    ((ref.payload as JsonObject).env as JsonObject).MOZILLAVPN_HEAD_REF = 'refs/heads/main';
    const r2 = await rebuildParentTask({
      task: ref,
      taskId: 'VUTfOIPFQWaGHf7sIbgTEg',
      tree: { ...folder, github: async () => ({ source: 'x', value: {} }) },
    });
    expect(r2.matched).toBe(false);
  });

  it('pr-action: the action context and the hook template wrapped with tasks_for pr-action', async () => {
    const t = await task('cotv4/pr_action_github.json');
    const d = decision('github-push', PUSH_ENV);
    const tree = await readTreeFolder(join(COT, 'cotv4'));
    const plan = await planRebuild(
      {
        task: t,
        taskId: 'pr_action_task_id',
        decisionTask: d,
        decisionTaskId: 'decision_task_id',
        envPrefix: 'MOBILE',
      },
      tree,
      (input) => renderJsonE(input),
    );
    const template = plan.template as { $let: { tasks_for: string; action: { repo_scope: string } } };
    expect(template.$let.tasks_for).toBe('pr-action');
    expect(template.$let.action.repo_scope).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a JSON-e interpolation, not a JavaScript one
      'assume:repo:${payload.decision.repository.url[8:]}:pr-action:release-promotion',
    );
    expect(plan.context).toMatchObject({
      taskId: 'pr_action_task_id',
      now: '2019-10-21T23:36:07.490Z',
      clientId: null,
    });
    expect(plan.repository).toEqual({
      url: 'https://github.com/mozilla-mobile/reference-browser',
      project: 'reference-browser',
      level: null,
    });
    // the wrapped template of an hg retrigger, as pr_action_retrigger_template.json holds it, differs from the
    // action's only by tasks_for; cot refuses pr-action on hg as the reference does
    const hgPr = await task('cotv4/pr_action_retrigger.json');
    await expect(
      planRebuild(
        {
          task: hgPr,
          taskId: 'NdzxKw8bS5Sw5DRhoiM14w',
          decisionTask: await task('cotv4/decision_try.json'),
          decisionTaskId: 'c5nn2xbNS9mJxeVC0uNElg',
          envPrefix: 'GECKO',
        },
        tree,
        (input) => renderJsonE(input),
      ),
    ).rejects.toMatchObject({ code: 'TREE_TASKS_FOR_UNKNOWN' });
  });
});

describe('GitHub contexts as the reference builds them', () => {
  const sha = PUSH_ENV.MOBILE_HEAD_REV;
  const commitKey = `commit:mozilla-mobile/reference-browser:${sha}`;
  for (const [committer, author, sender] of [
    ['some-user', 'some-user', 'some-user'],
    ['some-user', 'some-other-user', 'some-user'],
    ['web-flow', 'some-user', 'some-user'],
  ] as const)
    it(`github-push: committer ${committer}, author ${author}: sender ${sender}`, async () => {
      const plan = await contextOf(
        decision('github-push', PUSH_ENV),
        githubTree({ [commitKey]: { committer: { login: committer }, author: { login: author } } }),
      );
      expect(plan.context).toEqual({
        event: {
          before: 'somebaserevision',
          after: sha,
          pusher: { email: 'foo@example.tld' },
          base_ref: null,
          ref: 'refs/heads/some-branch',
          repository: {
            full_name: 'mozilla-mobile/reference-browser',
            html_url: 'https://github.com/mozilla-mobile/reference-browser',
            name: 'reference-browser',
            pushed_at: '1549022400',
            ssh_url: 'git@github.com:mozilla-mobile/reference-browser.git',
          },
          sender: { login: sender },
        },
        now: '2018-01-01T12:00:00.000Z',
        ownTaskId: 'decision_task_id',
        taskId: null,
        tasks_for: 'github-push',
      });
    });

  it('github-push: a commit answer for another commit is refused (TREE_FILE_INVALID), naming the answer', async () => {
    await expect(
      contextOf(decision('github-push', PUSH_ENV), githubTree({ [commitKey]: { sha: 'f'.repeat(40) } })),
    ).rejects.toMatchObject({
      code: 'TREE_FILE_INVALID',
      message: expect.stringMatching(new RegExp(`^${commitKey}: the GitHub answer for commit`)),
    });
  });

  it('github-release', async () => {
    const env = {
      MOBILE_HEAD_BRANCH: 'releases/v9000.0',
      MOBILE_HEAD_REPOSITORY: 'https://github.com/mozilla-mobile/reference-browser',
      MOBILE_HEAD_REV: 'v9000.0.1',
    };
    const plan = await contextOf(
      decision('github-release', env),
      githubTree({
        'release:mozilla-mobile/reference-browser:v9000.0.1': {
          author: { login: 'some-user' },
          published_at: '2019-02-01T12:00:00Z',
          target_commitish: 'releases/v9000',
        },
      }),
    );
    expect(plan.context).toEqual({
      event: {
        action: 'published',
        repository: {
          clone_url: 'https://github.com/mozilla-mobile/reference-browser.git',
          full_name: 'mozilla-mobile/reference-browser',
          html_url: 'https://github.com/mozilla-mobile/reference-browser',
          name: 'reference-browser',
        },
        release: {
          tag_name: 'v9000.0.1',
          target_commitish: 'releases/v9000',
          published_at: '2019-02-01T12:00:00Z',
        },
        sender: { login: 'some-user' },
      },
      now: '2018-01-01T12:00:00.000Z',
      ownTaskId: 'decision_task_id',
      taskId: null,
      tasks_for: 'github-release',
    });
  });

  for (const triggeredBy of [true, false])
    it(`git cron${triggeredBy ? ' with TRIGGERED_BY' : ''}`, async () => {
      const env: Record<string, string> = {
        MOBILE_HEAD_BRANCH: 'master',
        MOBILE_HEAD_REPOSITORY: 'https://github.com/mozilla-mobile/reference-browser',
        MOBILE_HEAD_REV: 'somerevision',
        MOBILE_PUSH_DATE_TIME: '2019-02-01T12:00:00.000Z',
      };
      if (triggeredBy) env.MOBILE_TRIGGERED_BY = 'TaskclusterHook';
      const projects = {
        'reference-browser': {
          repo: 'https://github.com/mozilla-mobile/reference-browser',
          repo_type: 'git',
          default_branch: 'master',
          branches: [{ name: 'master', level: 3 }],
        },
      };
      const plan = await contextOf(
        decision('cron', env, { cron: '{"task_id":"cron-task-id"}' }),
        githubTree({}, projects),
      );
      expect(plan.context).toEqual({
        cron: { task_id: 'cron-task-id' },
        event: {
          repository: {
            clone_url: 'https://github.com/mozilla-mobile/reference-browser',
            full_name: 'mozilla-mobile/reference-browser',
            html_url: 'https://github.com/mozilla-mobile/reference-browser',
            name: 'reference-browser',
          },
          release: {
            published_at: '2019-02-01T12:00:00.000Z',
            tag_name: 'somerevision',
            target_commitish: 'master',
          },
          sender: { login: 'TaskclusterHook' },
        },
        now: '2018-01-01T12:00:00.000Z',
        ownTaskId: 'decision_task_id',
        taskId: null,
        tasks_for: 'cron',
        repository: {
          url: 'https://github.com/mozilla-mobile/reference-browser',
          project: 'reference-browser',
          level: '3',
          type: 'git',
        },
        push: { branch: 'master', revision: 'somerevision' },
      });
    });

  const PR_ENV = {
    MOBILE_BASE_REF: 'main',
    MOBILE_BASE_REPOSITORY: 'https://github.com/mozilla-mobile/firefox-android',
    MOBILE_BASE_REV: 'baserev',
    MOBILE_HEAD_REF: 'some-branch',
    MOBILE_HEAD_REPOSITORY: 'https://github.com/JohanLorenzo/reference-browser',
    MOBILE_HEAD_REV: 'somerevision',
    MOBILE_PULL_REQUEST_NUMBER: '1234',
    MOBILE_PUSH_DATE_TIME: '2019-02-01T12:00:00Z',
  };
  const pull = (): JsonObject => ({
    base: {
      repo: {
        full_name: 'mozilla-mobile/reference-browser',
        html_url: 'https://github.com/mozilla-mobile/reference-browser',
      },
      sha: 'stale',
    },
    head: { user: { login: 'JohanLorenzo' }, sha: 'stale', updated_at: 'stale' },
    html_url: 'https://github.com/mozilla-mobile/reference-browser/pulls/1234',
  });
  for (const [name, fork, baseSame, useParent, tasksFor] of [
    ['fork with a different base repository', true, false, true, 'github-pull-request'],
    ['no fork', false, false, false, 'github-pull-request'],
    ['fork with the same base repository', true, true, false, 'github-pull-request-untrusted'],
  ] as const)
    it(`${tasksFor}: ${name}`, async () => {
      const env = baseSame ? { ...PR_ENV, MOBILE_BASE_REPOSITORY: PR_ENV.MOBILE_HEAD_REPOSITORY } : PR_ENV;
      const owner = useParent ? 'mozilla-mobile' : 'JohanLorenzo';
      const plan = await contextOf(
        decision(tasksFor, env),
        githubTree({
          'repository:JohanLorenzo/reference-browser:': {
            fork,
            parent: { name: 'reference-browser', owner: { login: 'mozilla-mobile' } },
          },
          [`pull:${owner}/reference-browser:1234`]: pull(),
        }),
      );
      const expected = pull() as { base: JsonObject; head: JsonObject };
      expected.head.updated_at = '2019-02-01T12:00:00Z';
      expected.base.sha = 'baserev';
      expected.head.sha = 'somerevision';
      expect(plan.context).toEqual({
        event: {
          action: 'synchronize',
          repository: expected.base.repo,
          pull_request: expected,
          sender: { login: 'JohanLorenzo' },
        },
        now: '2018-01-01T12:00:00.000Z',
        ownTaskId: 'decision_task_id',
        taskId: null,
        tasks_for: tasksFor,
      });
    });

  it('a tasks_for the repository kind does not have, an ambiguous env prefix: coded refusals', async () => {
    await expect(contextOf(decision('hg-push', PUSH_ENV), githubTree({}))).rejects.toMatchObject({
      code: 'TREE_TASKS_FOR_UNKNOWN',
    });
    const hg = decision('github-push', {
      GECKO_HEAD_REPOSITORY: 'https://hg.mozilla.org/try',
      GECKO_HEAD_REV: 'a',
    });
    await expect(contextOf(hg, githubTree({}), 'GECKO')).rejects.toMatchObject({
      code: 'TREE_TASKS_FOR_UNKNOWN',
    });
    const two = decision('github-push', {
      A_HEAD_REPOSITORY: 'https://github.com/x/y',
      B_HEAD_REPOSITORY: 'https://github.com/x/z',
    });
    expect(() => envPrefixOf(two, 'decision_task_id')).toThrow(
      expect.objectContaining({ code: 'TREE_ENV_PREFIX_UNKNOWN' }),
    );
    expect(() => envPrefixOf(decision('cron', {}), 'decision_task_id')).toThrow(
      expect.objectContaining({ code: 'TREE_ENV_PREFIX_UNKNOWN' }),
    );
  });
});
