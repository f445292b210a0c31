import { describe, expect, it } from 'vitest';
import { treeFolderOf } from '../../../src/chain/tree-material.js';
import { trustedRepositoryPath } from '../../../src/chain/tree-policy.js';
import { isPlainRepositoryUrl } from '../../../src/tree/repository-url.js';

// Fresh review of issue 12: URL parsers resolve `..` and decode `%2e%2e`, so a task's HEAD_REPOSITORY could name
// another repository's files (online), folder (tree.dir, the mirror) or trusted path. Each is refused now.
const REV = 'a'.repeat(40);
const HOSTILE = [
  'https://hg.mozilla.org/projects/maple/raw-file/x/y#',
  'https://hg.mozilla.org/projects/../../evil',
  'https://hg.mozilla.org/projects/%2e%2e/evil',
  'https://hg.mozilla.org:22/a',
  'https://evil@hg.mozilla.org/releases/mozilla-beta',
  'https://hg.mozilla.org/releases/mozilla-beta?try',
  'http://hg.mozilla.org/releases/mozilla-beta',
  'https://hg.mozilla.org/./releases/mozilla-beta',
];
const RULES = [
  { schemes: ['https'], hosts: ['hg.mozilla.org'], pathPatterns: ['^(?<path>/releases/mozilla-beta)(/|$)'] },
];

describe('repository URLs a task gives', () => {
  it('plain ones are accepted', () => {
    expect(isPlainRepositoryUrl('https://hg.mozilla.org/releases/mozilla-beta')).toBe(true);
    expect(isPlainRepositoryUrl('https://hg.mozilla.org/projects/maple/')).toBe(true);
    expect(treeFolderOf('/T', 'https://hg.mozilla.org/projects/maple', REV, 'f')).toBe(
      `/T/hg.mozilla.org/projects/maple/${REV}`,
    );
    expect(trustedRepositoryPath(RULES, 'https://hg.mozilla.org/releases/mozilla-beta')).toBe(
      '/releases/mozilla-beta',
    );
  });

  it.each(HOSTILE)('%s: not plain, no tree folder, not trusted', (url) => {
    expect(isPlainRepositoryUrl(url)).toBe(false);
    expect(() => treeFolderOf('/T', url, REV, 'GECKO_HEAD_REPOSITORY')).toThrow(
      /not an https repository URL/,
    );
    expect(trustedRepositoryPath(RULES, url)).toBeNull();
  });
});

describe('online, a repository URL that is not plain is refused before any request', () => {
  it.each(HOSTILE.filter((u) => u.startsWith('https://hg.mozilla.org/')))('%s', async (url) => {
    const { fetchTreeMaterial } = await import('../../../src/tree/online.js');
    const fetched: string[] = [];
    const task = {
      extra: { tasks_for: 'hg-push' },
      payload: { env: { GECKO_HEAD_REPOSITORY: url, GECKO_HEAD_REV: REV } },
    };
    await expect(
      fetchTreeMaterial({
        task,
        taskId: 'VQU9QMO4Teq7zr91FhBusg',
        envPrefix: 'GECKO',
        fetch: async (u) => {
          fetched.push(u);
          return undefined;
        },
      }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^TREE_(TASK_INVALID|HOST_REFUSED)$/) });
    expect(fetched).toEqual([]);
  });
});

describe('online, projects.yml comes from the configured URL whatever the allowed tree hosts', () => {
  it('a product whose trusted hosts are hg.mozilla.org still reads the default projects.yml (was: TREE_HOST_REFUSED)', async () => {
    const { fetchTreeMaterial, DEFAULT_PROJECTS_URL } = await import('../../../src/tree/online.js');
    const fetched: string[] = [];
    const task = {
      extra: { tasks_for: 'action' },
      payload: {
        env: { GECKO_HEAD_REPOSITORY: 'https://hg.mozilla.org/projects/maple', GECKO_HEAD_REV: REV },
      },
    };
    await fetchTreeMaterial({
      task,
      taskId: 'VQU9QMO4Teq7zr91FhBusg',
      envPrefix: 'GECKO',
      allowedTreeHosts: ['hg.mozilla.org'],
      fetch: async (u) => {
        fetched.push(u);
        return u.endsWith('.yml') ? 'x: 1\n' : '{}';
      },
    }).catch(() => undefined);
    expect(fetched).toContain(DEFAULT_PROJECTS_URL);
  });
});

// A GitHub repository URL (https, ssh or git@github.com:) names its owner and name by its path: URL() resolved `..`
// and gave another repository than the one the task spells (`evil/../mozilla-mobile/...` read mozilla-mobile's).
const HOSTILE_GITHUB = [
  'https://github.com/evil/../mozilla-mobile/mozilla-vpn-client',
  'git@github.com:evil/../mozilla-mobile/mozilla-vpn-client.git',
  'ssh://github.com/mozilla-mobile/./mozilla-vpn-client',
  'https://github.com/mozilla-mobile/%6dozilla-vpn-client',
  'https://github.com/mozilla-mobile/mozilla-vpn-client?x=1',
  'https://github.com/mozilla-mobile/mozilla-vpn-client#x',
];

describe('a GitHub repository URL that is not plain', () => {
  it.each(HOSTILE_GITHUB)('%s: no tree folder, nothing fetched', async (url) => {
    expect(() => treeFolderOf('/T', url, REV, 'MOZILLAVPN_HEAD_REPOSITORY')).toThrow(
      /MOZILLAVPN_HEAD_REPOSITORY/,
    );
    const { fetchTreeMaterial } = await import('../../../src/tree/online.js');
    const fetched: string[] = [];
    const task = {
      extra: { tasks_for: 'github-push' },
      payload: { env: { MOZILLAVPN_HEAD_REPOSITORY: url, MOZILLAVPN_HEAD_REV: REV } },
    };
    await expect(
      fetchTreeMaterial({
        task,
        taskId: 'VUTfOIPFQWaGHf7sIbgTEg',
        envPrefix: 'MOZILLAVPN',
        fetch: async (u) => {
          fetched.push(u);
          return undefined;
        },
      }),
    ).rejects.toMatchObject({ code: 'TREE_TASK_INVALID' });
    expect(fetched).toEqual([]);
  });

  it('the plain forms are read as before', () => {
    for (const url of [
      'https://github.com/mozilla-mobile/mozilla-vpn-client',
      'https://github.com/mozilla-mobile/mozilla-vpn-client.git/',
      'git@github.com:mozilla-mobile/mozilla-vpn-client.git',
      'ssh://github.com/mozilla-mobile/mozilla-vpn-client',
    ])
      expect(treeFolderOf('/T', url, REV, 'f')).toBe(
        `/T/github.com/mozilla-mobile/mozilla-vpn-client/${REV}`,
      );
  });
});
