import { describe, expect, it } from 'vitest';
import { toPolicy } from '../../../src/chain/policy.js';
import { treeFolderOf } from '../../../src/chain/tree-material.js';
import { repositoryHolds, restrictedEntry, trustedRepositoryPath } from '../../../src/chain/tree-policy.js';
import { TREE_PRESETS } from '../../../src/chain/tree-presets.js';
import { CotError } from '../../../src/errors.js';

const base = { workerTypes: { 'releng-3/*': 'docker-worker' }, decisionWorkerTypes: ['releng-3/decision'] };

function refusal(f: () => unknown): CotError {
  try {
    f();
  } catch (e) {
    if (e instanceof CotError) return e;
    throw e;
  }
  throw new Error('not refused');
}

describe('the policy tree section', () => {
  it('a preset gives the reference configuration; each key given replaces the preset one', () => {
    const p = toPolicy({ ...base, tree: { preset: 'firefox' } });
    expect(p.tree).toMatchObject({
      required: true,
      envPrefix: 'GECKO',
      tasksFor: ['hg-push', 'cron', 'action'],
    });
    expect(p.tree!.restrictedScopes['project:releng:signing:cert:release-signing']).toBe(
      'all-release-branches',
    );
    expect(p.tree!.restrictedTrees['all-release-branches']).toContain('/releases/mozilla-beta');
    // the preset's scopes join the top-level ones; its prebuilt kinds stand in for a missing top-level list
    expect(p.restrictedScopes).toContain('project:releng:balrog:server:release');
    expect(p.prebuiltDockerImageTaskTypes).toEqual(['decision', 'action', 'docker-image']);
    const o = toPolicy({ ...base, tree: { preset: 'thunderbird', required: false, envPrefix: 'X' } });
    expect(o.tree).toMatchObject({ required: false, envPrefix: 'X', productType: 'hg' });
    expect(TREE_PRESETS.thunderbird!.envPrefix).toBe('COMM');
    expect(TREE_PRESETS.mozillavpn).toMatchObject({ envPrefix: 'MOZILLAVPN', githubOwner: 'mozilla-mobile' });
    expect(TREE_PRESETS.mobile!.envPrefix).toBe('MOBILE');
    // no tree section: no tree rules at all (today's checks)
    expect(toPolicy(base).tree).toBeUndefined();
    expect(toPolicy(base).restrictedScopes).toEqual([]);
  });

  it('refuses an unknown preset, an unknown key (with a hint) and a level without trees', () => {
    expect(refusal(() => toPolicy({ ...base, tree: { preset: 'netscape' } })).code).toBe('POLICY_INVALID');
    expect(
      refusal(() => toPolicy({ ...base, tree: { preset: 'firefox', envprefix: 'G' } })).message,
    ).toContain('tree.envprefix: unknown key (did you mean "envPrefix"?)');
    expect(
      refusal(() => toPolicy({ ...base, tree: { restrictedScopes: { 'a:b': 'nowhere' } } })).message,
    ).toContain('a:b has the level nowhere, which tree.restrictedTrees lacks');
  });

  it('trusted repository paths, repository membership, restricted scope entries (the reference rules)', () => {
    const rules = TREE_PRESETS.firefox!.trustedRepositories;
    expect(trustedRepositoryPath(rules, 'https://hg.mozilla.org/releases/mozilla-beta/file/abc/x')).toBe(
      '/releases/mozilla-beta',
    );
    expect(trustedRepositoryPath(rules, 'https://hg.mozilla.org/try/file/abc/x')).toBeNull();
    expect(trustedRepositoryPath(rules, 'https://evil.example/mozilla-central/')).toBeNull();
    const vpn = TREE_PRESETS.mozillavpn!.trustedRepositories;
    expect(trustedRepositoryPath(vpn, 'git@github.com:mozilla-mobile/mozilla-vpn-client.git')).toBe(
      '/mozilla-mobile/mozilla-vpn-client',
    );
    expect(
      repositoryHolds(
        'https://hg.mozilla.org/projects/maple/',
        'https://hg.mozilla.org/projects/maple/file/a',
      ),
    ).toBe(true);
    expect(
      repositoryHolds(
        'https://hg.mozilla.org/projects/maple',
        'https://hg.mozilla.org/projects/maple-2/file',
      ),
    ).toBe(false);
    expect(
      repositoryHolds('https://hg.mozilla.org/projects/maple', 'https://hg.example/projects/maple/file'),
    ).toBe(false);
    expect(restrictedEntry({ 'a:*': 'x', 'a:b': 'y' }, 'a:c')).toBe('a:*');
    expect(restrictedEntry({ 'a:*': 'x' }, 'b:c')).toBeUndefined();
    expect(refusal(() => restrictedEntry({ 'a:*': 'x', 'a:b': 'y' }, 'a:b')).code).toBe(
      'TREE_SCOPE_NOT_ALLOWED',
    );
  });

  it('a tree folder is named only from plain names: a task cannot lead the verifier out of tree.dir', () => {
    const rev = '054fe08d229f064a71bae9bb793e7ab8d95eff61';
    expect(treeFolderOf('/t', 'https://hg.mozilla.org/projects/maple', rev, 'f')).toBe(
      `/t/hg.mozilla.org/projects/maple/${rev}`,
    );
    // a GitHub repository is github.com/<owner>/<name> whatever the form of its URL (the private repositories' ssh)
    for (const repo of [
      'git@github.com:mozilla-mobile/mozilla-vpn-client.git',
      'https://github.com/mozilla-mobile/mozilla-vpn-client',
      'ssh://github.com/mozilla-mobile/mozilla-vpn-client.git',
    ])
      expect(treeFolderOf('/t', repo, rev, 'f')).toBe(
        `/t/github.com/mozilla-mobile/mozilla-vpn-client/${rev}`,
      );
    expect(refusal(() => treeFolderOf('/t', 'git@github.com:a/../b', rev, 'f')).code).toBe(
      'TREE_TASK_INVALID',
    );
    for (const [repo, r] of [
      ['https://hg.mozilla.org/projects/a%2fb', rev],
      ['https://hg.mozilla.org/a/..%2f..', rev],
      ['http://hg.mozilla.org/projects/maple', rev],
      ['https://hg.mozilla.org/', rev],
      ['https://hg.mozilla.org/projects/maple?x=1', rev],
      ['https://hg.mozilla.org/projects/maple', '../../etc'],
    ] as const)
      expect(refusal(() => treeFolderOf('/t', repo, r, 'f')).code, `${repo} ${r}`).toBe('TREE_TASK_INVALID');
  });
});
