import { CotError } from '../errors.js';
import { TREE_PRESETS, type TreePreset, type TrustedRepositoryRule } from './tree-presets.js';

/**
 * The policy's `tree` section as verification uses it: a preset's rules (tree-presets.ts, the reference's
 * configuration) with the policy's overrides applied key by key, plus where the tree material comes from.
 */
export interface TreePolicy extends TreePreset {
  /** the preset the rules start from (absent: none, every rule from the policy or its default) */
  preset?: string;
  /** a parent link whose tree could not be traced (no material for its repository and revision) is an error
   * (TREE_NOT_TRACED), not a warning; every preset sets it */
  required: boolean;
  /**
   * The folder of tree material (relative to the policy file; loadPolicy makes it absolute): one folder per
   * repository and revision, `DIR/<host>/<repository path>/<revision>/`, holding the files `cot verify-parent --tree`
   * reads (`.taskcluster.yml`, `pushlog.json`, `projects.yml`, and the decision task's `actions.json` and
   * `parameters.yml`); a `projects.yml` in `DIR` itself serves every repository whose folder has none. Absent: no
   * material, every parent link is untraced.
   */
  dir?: string;
}

/** Every key a `tree` section may hold (the preset's keys plus preset, required, dir). */
const RULE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['schemes', 'hosts', 'pathPatterns'],
  properties: {
    schemes: { type: 'array', items: { type: 'string', minLength: 1 } },
    hosts: { type: 'array', items: { type: 'string', minLength: 1 } },
    pathPatterns: { type: 'array', items: { type: 'string', minLength: 1 } },
  },
} as const;

export const TREE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    preset: { enum: Object.keys(TREE_PRESETS) },
    required: { type: 'boolean' },
    dir: { type: 'string', minLength: 1 },
    productType: { enum: ['hg', 'github'] },
    trustedRepositories: { type: 'array', items: RULE_SCHEMA },
    tasksFor: { type: 'array', items: { type: 'string', minLength: 1 } },
    envPrefix: { type: 'string', pattern: '^[A-Z][A-Z0-9_]*$' },
    restrictedScopes: { type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
    restrictedTrees: {
      type: 'object',
      additionalProperties: { type: 'array', items: { type: 'string', pattern: '^/' } },
    },
    prebuiltDockerImageTaskTypes: {
      anyOf: [{ const: 'any' }, { type: 'array', items: { type: 'string', minLength: 1 } }],
    },
    githubOwner: { type: 'string' },
    scriptworkerKinds: { type: 'array', items: { type: 'string', minLength: 1 } },
  },
} as const;

/** The rules of a `tree` section without a preset: no trusted repository, no restricted scope, Firefox's prefix. */
const NO_PRESET: TreePreset = {
  productType: 'hg',
  trustedRepositories: [],
  tasksFor: ['hg-push', 'cron', 'action'],
  envPrefix: 'GECKO',
  restrictedScopes: {},
  restrictedTrees: {},
  prebuiltDockerImageTaskTypes: 'any',
  githubOwner: '',
  scriptworkerKinds: TREE_PRESETS.firefox!.scriptworkerKinds,
};

/**
 * The `tree` section (checked against TREE_SCHEMA) resolved: its preset's values, each key the section gives
 * replacing the preset's; `required` defaults to true with a preset, false without. Throws POLICY_INVALID for a
 * level of `restrictedScopes` that `restrictedTrees` does not define, or a path pattern that is not a regular
 * expression (`source` names the policy).
 */
export function resolveTree(section: Record<string, unknown>, source: string): TreePolicy {
  const preset = typeof section.preset === 'string' ? section.preset : undefined;
  const base = preset === undefined ? NO_PRESET : TREE_PRESETS[preset]!;
  const tree = structuredClone({
    ...base,
    required: preset !== undefined,
    ...section,
  }) as TreePolicy;
  const problems: string[] = [];
  for (const [scope, level] of Object.entries(tree.restrictedScopes))
    if (!Object.hasOwn(tree.restrictedTrees, level))
      problems.push(
        `tree.restrictedScopes: ${scope} has the level ${level}, which tree.restrictedTrees lacks`,
      );
  for (const r of tree.trustedRepositories)
    for (const p of r.pathPatterns) {
      try {
        new RegExp(p);
      } catch (e) {
        problems.push(`tree.trustedRepositories: ${p} is not a regular expression (${(e as Error).message})`);
      }
    }
  if (problems.length > 0)
    throw new CotError('POLICY_INVALID', `${source}: ${problems.join('; ')}`, { details: { problems } });
  return tree;
}

/** A URL's parts, ssh GitHub form (`git@github.com:o/r`) and a `.git` ending included; undefined if not a URL. */
function urlParts(url: string): { scheme: string; host: string; path: string } | undefined {
  const u = url.replace(/^git@github\.com:/, 'ssh://github.com/');
  try {
    const p = new URL(u);
    // the reference compares the whole netloc: credentials or a port make it another host; a query or a fragment,
    // or a dot segment or escape that URL() would resolve, is refused outright (stricter)
    if (p.username || p.password || p.port || p.search || p.hash) return undefined;
    if (/\/\.\.?(\/|$)|%/.test(u.replace(/^[a-z]+:\/\/[^/]*/, ''))) return undefined;
    return { scheme: p.protocol.replace(/:$/, ''), host: p.hostname, path: p.pathname };
  } catch {
    return undefined;
  }
}

/**
 * The trusted repository path a URL (a repository or a `metadata.source`) belongs to, or null: the reference's
 * match_url_regex with match_url_path_callback over `trusted_vcs_rules` (scheme and host listed, a pattern matching
 * the path, its `path` group the answer). Pure.
 */
export function trustedRepositoryPath(rules: readonly TrustedRepositoryRule[], url: string): string | null {
  const p = urlParts(url);
  if (!p) return null;
  for (const r of rules) {
    if (!r.schemes.includes(p.scheme) || !r.hosts.includes(p.host)) continue;
    for (const pattern of r.pathPatterns) {
      const m = new RegExp(pattern).exec(p.path);
      if (m?.groups?.path !== undefined) return m.groups.path;
    }
  }
  return null;
}

/**
 * Whether `url` (a `metadata.source`) lies in the repository `repo` (the reference's verify_repo_matches_url): the
 * same host, and the repository's path segments a prefix of the URL's. A `.git` ending and the ssh GitHub form of
 * `repo` are accepted. Pure.
 */
export function repositoryHolds(repo: string, url: string): boolean {
  const r = urlParts(repo.replace(/\.git$/, ''));
  const u = urlParts(url);
  if (!r || !u || r.host !== u.host) return false;
  const rs = r.path.split('/');
  const us = u.path.split('/');
  if (rs.at(-1) === '') rs.pop();
  return rs.every((s, i) => us[i] === s);
}

/**
 * The restricted scope entry `scope` falls under (exact, or a `*`-ended prefix: the reference's
 * is_scope_in_restricted_scopes), or undefined. Throws TREE_SCOPE_NOT_ALLOWED when it falls under more than one
 * (the reference refuses that too).
 */
export function restrictedEntry(restricted: Record<string, string>, scope: string): string | undefined {
  const found = Object.keys(restricted).filter((r) =>
    r.endsWith('*') ? scope.startsWith(r.slice(0, -1)) : scope === r,
  );
  if (found.length > 1)
    throw new CotError(
      'TREE_SCOPE_NOT_ALLOWED',
      `the scope ${scope} matches more than one restricted scope of the policy (${found.join(', ')})`,
      { details: { scope, matches: found } },
    );
  return found[0];
}
