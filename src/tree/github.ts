import { CotError } from '../errors.js';
import { isJsonObject, type JsonObject, type JsonValue, parseJson } from '../json/parse.js';
import {
  at,
  type BuilderOutput,
  type ContextBuilder,
  decisionEnv,
  needDecisionEnv,
  needString,
  type ParentTasks,
  taskInvalid,
} from './builder.js';
import {
  describeGithubLookup,
  type GithubLookup,
  githubLookupPath,
  needTreeFile,
  type TreeFile,
  type TreeMaterial,
  treeObject,
} from './files.js';

/**
 * The JSON-e contexts of repositories on GitHub: `github-push`, `github-pull-request` (and `-untrusted`),
 * `github-release` and git `cron` (scriptworker `cot/verify.py`: _get_additional_github_push_jsone_context,
 * _get_additional_github_pull_request_jsone_context, _get_additional_github_releases_jsone_context,
 * _get_additional_git_cron_jsone_context; `github.py`: extract_github_repo_owner_and_name,
 * extract_github_repo_full_name, extract_github_repo_ssh_url). The GitHub answers come from the tree
 * (TreeMaterial.github: files of a tree folder, or the REST API online).
 */

/** A GitHub repository as the decision task names it. */
interface GithubRepository {
  /** `<PREFIX>_HEAD_REPOSITORY` without a trailing `/`, `git@github.com:` written `ssh://github.com/` */
  url: string;
  owner: string;
  /** without a trailing `.git` */
  name: string;
}

/** Whether `url` names a repository on github.com (https, ssh, or the scp-like `git@github.com:` form). */
export function isGithubUrl(url: string): boolean {
  return /^(?:https:\/\/github\.com\/|ssh:\/\/github\.com\/|git@github\.com:)/.test(url);
}

/**
 * A plain GitHub repository URL (after `git@github.com:` is read as `ssh://github.com/` and trailing `/` dropped):
 * path segments of letters, digits, `.`, `_` and `-`, none of them `.` or `..`; no escape, query, fragment, port or
 * credentials. URL() would resolve `evil/../mozilla-mobile/...` to another repository than the one spelled.
 */
const PLAIN_GITHUB_URL = /^(?:https|ssh):\/\/github\.com(?:\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9._-]+)+$/;

/**
 * The owner and name of a GitHub repository URL (extract_github_repo_owner_and_name): `git@github.com:` is read
 * as `ssh://github.com/`, a trailing `/` and `.git` are dropped. Throws TREE_TASK_INVALID (`field` named) for a
 * URL that is not a plain one on github.com (PLAIN_GITHUB_URL) or has no owner and name.
 */
export function githubRepository(raw: string, field: string): GithubRepository {
  const url = raw.replace(/\/+$/, '').replace(/^git@github\.com:/, 'ssh://github.com/');
  const parts = PLAIN_GITHUB_URL.test(url) ? new URL(url).pathname.split('/').filter(Boolean) : [];
  if (parts.length < 2)
    throw taskInvalid(
      `${field} ${JSON.stringify(raw)} is not a plain GitHub repository URL (owner and name; no dot segment, escape, query, fragment, port or credentials)`,
      field,
    );
  return { url, owner: parts[0]!, name: parts[1]!.replace(/\.git$/, '') };
}

/** The decision task's repository (`<PREFIX>_HEAD_REPOSITORY`, or `BASE_REPOSITORY` with `which`) on GitHub. */
function decisionRepository(parent: ParentTasks, which: 'HEAD' | 'BASE' = 'HEAD'): GithubRepository {
  return githubRepository(
    needDecisionEnv(parent, `${which}_REPOSITORY`),
    `payload.env.${parent.envPrefix}_${which}_REPOSITORY`,
  );
}

/**
 * The answer to a GitHub lookup. Throws TREE_GITHUB_LOOKUP_FAILED naming the lookup and the file (or URL) when
 * the tree has no answer, and what the tree's lookup throws (TREE_FILE_INVALID, TREE_FETCH_FAILED...).
 */
async function needGithub(
  tree: TreeMaterial,
  lookup: GithubLookup,
  why: string,
): Promise<{ value: JsonObject; source: string }> {
  const answer: TreeFile | undefined = tree.github ? await tree.github(lookup) : undefined;
  if (answer === undefined) {
    const where = `${tree.location === undefined ? '' : `${tree.location}/`}${githubLookupPath(lookup)}`;
    throw new CotError(
      'TREE_GITHUB_LOOKUP_FAILED',
      `${describeGithubLookup(lookup)}: no answer (${where} does not exist): ${why} needs it`,
      { details: { lookup: { ...lookup }, path: where } },
    );
  }
  return { value: treeObject(answer), source: answer.source };
}

/** A member of a GitHub answer, or null (Python's `dict.get`). */
function member(v: JsonValue | undefined, path: string): JsonValue {
  return at(v, path) ?? null;
}

/**
 * The login the push is credited to (the reference's rule): the committer's login, unless it is `web-flow`
 * (GitHub's web editor) or missing, then the author's login (a `login` member the author has, even null), else
 * `commit.author.login`, else `@@@unknown@@@`.
 */
function pushSender(commit: JsonObject): JsonValue {
  const committer = isJsonObject(commit.committer) ? commit.committer : {};
  const login = committer.login ?? null;
  if (login !== 'web-flow' && login !== null) return login;
  const author = isJsonObject(commit.author) ? commit.author : {};
  if (Object.hasOwn(author, 'login')) return author.login!;
  return at(commit, 'commit.author.login') ?? '@@@unknown@@@';
}

/**
 * `github-push`: the push event rebuilt from the decision task's env and the commit's API answer. Stricter than the
 * reference: a commit answer that names its `sha` must name the decision task's revision.
 */
const githubPush: ContextBuilder = async ({ parent, tree, base }) => {
  const repo = decisionRepository(parent);
  const sha = needDecisionEnv(parent, 'HEAD_REV');
  const answer = await needGithub(
    tree,
    { kind: 'commit', owner: repo.owner, name: repo.name, sha },
    'a github-push context',
  );
  const commit = answer.value;
  if (typeof commit.sha === 'string' && commit.sha !== sha)
    throw new CotError(
      'TREE_FILE_INVALID',
      `${answer.source}: the GitHub answer for commit ${sha} is the commit ${commit.sha}`,
      {
        details: { revision: sha, answered: commit.sha, path: answer.source },
      },
    );
  const event: JsonObject = {
    before: decisionEnv(parent, 'BASE_REV'),
    after: sha,
    pusher: { email: member(parent.decisionTask, 'metadata.owner') },
    base_ref: decisionEnv(parent, 'BASE_BRANCH', 'BASE_REF'),
    ref: decisionEnv(parent, 'HEAD_BRANCH', 'HEAD_REF'),
    repository: {
      full_name: `${repo.owner}/${repo.name}`,
      ssh_url: `git@github.com:${repo.owner}/${repo.name}.git`,
      html_url: repo.url,
      name: repo.name,
      pushed_at: decisionEnv(parent, 'PUSH_DATE_TIME'),
    },
    sender: { login: pushSender(commit) },
  };
  return githubOutput(repo, tree, { ...base, event });
};

/**
 * `github-pull-request` and `github-pull-request-untrusted`: the pull request's API answer, asked of the parent
 * repository when the head repository is a fork and the base repository differs (the repository's own answer
 * says; a tree folder without `github/repository.json` asks the head repository), with `head.updated_at`,
 * `base.sha` and `head.sha` taken from the decision task. Stricter: an answer naming its `number` must name the
 * decision task's.
 */
const githubPullRequest: ContextBuilder = async ({ parent, tree, base }) => {
  const head = decisionRepository(parent);
  const baseRepo = decisionRepository(parent, 'BASE');
  const field = `payload.env.${parent.envPrefix}_PULL_REQUEST_NUMBER`;
  const raw = needDecisionEnv(parent, 'PULL_REQUEST_NUMBER');
  if (!/^[0-9]{1,12}$/.test(raw.trim()))
    throw taskInvalid(`${field} ${JSON.stringify(raw)} is not a number`, field);
  const number = Number(raw.trim());
  let owner = head.owner;
  let name = head.name;
  const definition = tree.github ? await tree.github({ kind: 'repository', owner, name }) : undefined;
  if (definition && definition.value !== null) {
    const d = treeObject(definition);
    const parentOwner = at(d, 'parent.owner.login');
    const parentName = at(d, 'parent.name');
    if (d.fork === true && baseRepo.url !== head.url) {
      if (typeof parentOwner !== 'string' || typeof parentName !== 'string')
        throw new CotError(
          'TREE_FILE_INVALID',
          `${definition.source}: a fork without parent.owner.login and parent.name`,
          {
            details: { path: definition.source },
          },
        );
      owner = parentOwner;
      name = parentName;
    }
  }
  const answer = await needGithub(
    tree,
    { kind: 'pull', owner, name, number },
    `a ${String(base.tasks_for)} context`,
  );
  const pull = structuredClone(answer.value);
  if (typeof pull.number === 'number' && pull.number !== number)
    throw new CotError(
      'TREE_FILE_INVALID',
      `${answer.source}: the GitHub answer for pull request ${number} is pull request ${pull.number}`,
      {
        details: { number, answered: pull.number, path: answer.source },
      },
    );
  if (!isJsonObject(pull.head) || !isJsonObject(pull.base))
    throw new CotError(
      'TREE_FILE_INVALID',
      `${answer.source}: the GitHub answer for pull request ${number} has no head or base`,
      {
        details: { number, path: answer.source },
      },
    );
  pull.head.updated_at = decisionEnv(parent, 'PUSH_DATE_TIME');
  pull.base.sha = decisionEnv(parent, 'BASE_REV');
  pull.head.sha = decisionEnv(parent, 'HEAD_REV');
  const event: JsonObject = {
    action: 'synchronize',
    repository: member(pull, 'base.repo'),
    pull_request: pull,
    sender: { login: member(pull, 'head.user.login') },
  };
  return githubOutput(head, tree, { ...base, event });
};

/** `github-release`: the release event rebuilt from the release's API answer (its tag: `<PREFIX>_HEAD_REV`). */
const githubRelease: ContextBuilder = async ({ parent, tree, base }) => {
  const repo = decisionRepository(parent);
  const tag = needDecisionEnv(parent, 'HEAD_REV');
  const answer = await needGithub(
    tree,
    { kind: 'release', owner: repo.owner, name: repo.name, tag },
    'a github-release context',
  );
  const release = answer.value;
  if (typeof release.tag_name === 'string' && release.tag_name !== tag)
    throw new CotError(
      'TREE_FILE_INVALID',
      `${answer.source}: the GitHub answer for release ${tag} is the release ${release.tag_name}`,
      {
        details: { tag, answered: release.tag_name, path: answer.source },
      },
    );
  const event: JsonObject = {
    action: 'published',
    repository: {
      clone_url: `${repo.url}.git`,
      full_name: `${repo.owner}/${repo.name}`,
      html_url: repo.url,
      name: repo.name,
    },
    release: {
      tag_name: tag,
      target_commitish: member(release, 'target_commitish'),
      published_at: member(release, 'published_at'),
    },
    sender: { login: member(release, 'author.login') },
  };
  return githubOutput(repo, tree, { ...base, event });
};

/**
 * Git `cron`: the union of taskgraph's and the older GitHub-release-like cron contexts, with the level of the
 * repository's project (its name) in `projects.yml`. The sender is `<PREFIX>_TRIGGERED_BY`, else `TaskclusterHook`.
 */
const gitCron: ContextBuilder = async ({ parent, tree, base }) => {
  const repo = decisionRepository(parent);
  const revision = needDecisionEnv(parent, 'HEAD_REV');
  const branch = decisionEnv(parent, 'HEAD_BRANCH', 'HEAD_REF');
  const raw = needString(parent.decisionTask, 'extra.cron', `cron task ${parent.decisionTaskId}`);
  let cron: JsonValue;
  try {
    cron = parseJson(raw, { source: 'extra.cron' });
  } catch (e) {
    throw taskInvalid(
      `cron task ${parent.decisionTaskId}: extra.cron is not JSON: ${(e as Error).message}`,
      'extra.cron',
    );
  }
  const level = gitProjectLevel(tree, repo);
  const repository = { url: repo.url, project: repo.name, level };
  const sender = decisionEnv(parent, 'TRIGGERED_BY');
  const context: JsonObject = {
    ...base,
    cron,
    event: {
      repository: {
        clone_url: repo.url,
        full_name: `${repo.owner}/${repo.name}`,
        html_url: repo.url,
        name: repo.name,
      },
      release: {
        tag_name: revision,
        target_commitish: branch,
        published_at: decisionEnv(parent, 'PUSH_DATE_TIME'),
      },
      sender: { login: sender ?? 'TaskclusterHook' },
    },
    repository: { ...repository, type: 'git' },
    push: { revision, branch },
  };
  return { template: needTreeFile(tree, 'template', 'the rebuild').value, context, repository };
};

/**
 * The level of a git project in `projects.yml` (get_scm_level): the project named as the repository, its
 * default branch's (`default_branch`, else `main`) `level`. Stricter: the project's `repo`, when given, must be this
 * repository. Throws TREE_FILE_MISSING, TREE_PROJECT_UNKNOWN.
 */
function gitProjectLevel(tree: TreeMaterial, repo: GithubRepository): string {
  const projects = needTreeFile(tree, 'projects', `the repository level of ${repo.url}`);
  const entry = treeObject(projects)[repo.name];
  const unknown = (why: string) =>
    new CotError('TREE_PROJECT_UNKNOWN', `${repo.url}: ${why} (${projects.source})`, {
      details: { repository: repo.url, project: repo.name, path: projects.source },
    });
  if (!isJsonObject(entry)) throw unknown(`project ${JSON.stringify(repo.name)} is not in projects.yml`);
  if (typeof entry.repo === 'string') {
    const named = githubRepositoryOrNull(entry.repo);
    if (named === null || named.owner !== repo.owner || named.name !== repo.name)
      throw unknown(`project ${repo.name} of projects.yml is the repository ${entry.repo}, not this one`);
  }
  const main = typeof entry.default_branch === 'string' ? entry.default_branch : 'main';
  const branch = Array.isArray(entry.branches)
    ? entry.branches.find((b) => isJsonObject(b) && b.name === main)
    : undefined;
  const level = isJsonObject(branch) ? branch.level : undefined;
  if (typeof level !== 'number' && typeof level !== 'string')
    throw unknown(`project ${repo.name} of projects.yml gives no level for its default branch ${main}`);
  return String(level);
}

function githubRepositoryOrNull(url: string): GithubRepository | null {
  try {
    return githubRepository(url, 'repo');
  } catch {
    return null;
  }
}

/** The output of a GitHub push, pull request or release builder: no level (they do not read projects.yml). */
function githubOutput(repo: GithubRepository, tree: TreeMaterial, context: JsonObject): BuilderOutput {
  return {
    template: needTreeFile(tree, 'template', 'the rebuild').value,
    context,
    repository: { url: repo.url, project: repo.name, level: null },
  };
}

/** The GitHub builder of each `tasks_for` a GitHub repository's decision task may carry (actions: context.ts). */
export const GITHUB_BUILDERS: Readonly<Record<string, ContextBuilder>> = {
  'github-push': githubPush,
  'github-pull-request': githubPullRequest,
  'github-pull-request-untrusted': githubPullRequest,
  'github-release': githubRelease,
  cron: gitCron,
};
