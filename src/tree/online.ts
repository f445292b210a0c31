import { CotError } from '../errors.js';
import type { JsonObject } from '../json/parse.js';
import { at, needString } from './builder.js';
import { envPrefixOf } from './context.js';
import {
  DECISION_ARTIFACT_NAMES,
  describeGithubLookup,
  GITHUB_ANSWER_MAX_BYTES,
  type GithubLookup,
  parseGithubAnswer,
  parseTreeFile,
  TREE_FILE_MAX_BYTES,
  TREE_FILES,
  type TreeFile,
  type TreeFileRole,
  type TreeMaterial,
} from './files.js';
import { githubRepository, isGithubUrl } from './github.js';
import { isPlainRepositoryUrl } from './repository-url.js';

/**
 * The tree material of a parent task fetched from its repository's host, as the reference fetches it (scriptworker
 * `cot/verify.py` build_taskcluster_yml_url, get_pushlog_info, `context.py` populate_projects, `github.py`):
 * hg `<repo>/raw-file/<rev>/.taskcluster.yml` and `<repo>/json-pushes?changeset=<rev>&version=2&full=1`; GitHub
 * `https://raw.githubusercontent.com/<owner>/<name>/<rev>/.taskcluster.yml` and the REST API
 * (`https://api.github.com/repos/<owner>/<name>/...`); `projects.yml` from a configurable URL. The tree layer
 * makes no request itself: the caller gives the fetch function (the CLI's goes through transport/http.ts).
 */

/**
 * Fetch one URL's body as text, at most `maxBytes`: undefined when the server answers 404 or 410 (the file does
 * not exist); throws a CotError for anything else (TREE_FETCH_FAILED, TREE_HOST_REFUSED for a redirect off the
 * allowed hosts). `github`: the URL is GitHub's (raw content or the API), where a token may be sent.
 */
export type TreeFetch = (
  url: string,
  o: { maxBytes: number; github: boolean },
) => Promise<string | undefined>;

/**
 * Read one artifact of a task's latest run from its queue (`public/actions.json`, `public/parameters.yml` of a
 * decision task), at most `maxBytes`: `url` names where it was read (for messages), `text` is undefined when the
 * run has no such artifact (404). Anything else throws (the queue's code: QUEUE_NOT_FOUND for a task the queue does
 * not have, TRANSPORT_*...).
 */
export type ArtifactFetch = (
  taskId: string,
  name: string,
  o: { maxBytes: number },
) => Promise<{ url: string; text: string | undefined }>;

/** The hosts tree material is fetched from unless the caller names others. */
export const DEFAULT_TREE_HOSTS: readonly string[] = [
  'hg.mozilla.org',
  'github.com',
  'api.github.com',
  'raw.githubusercontent.com',
];

/** The hosts GitHub serves a repository's material from besides github.com: its raw content and its REST API. */
const GITHUB_MATERIAL_HOSTS: readonly string[] = ['raw.githubusercontent.com', 'api.github.com'];

/**
 * The tree hosts of repositories on `repositoryHosts` (a product's trusted repository hosts): each host, and for
 * github.com also the hosts its material is fetched from (raw content and the REST API), since a repository's URL
 * names github.com but its `.taskcluster.yml` and API answers come from those. Pure.
 */
export function treeHostsFor(repositoryHosts: readonly string[]): string[] {
  const hosts = new Set(repositoryHosts);
  if (hosts.has('github.com')) for (const h of GITHUB_MATERIAL_HOSTS) hosts.add(h);
  return [...hosts];
}

/** Where `projects.yml` is fetched from by default (the reference's `project_configuration_url`). */
export const DEFAULT_PROJECTS_URL =
  'https://raw.githubusercontent.com/mozilla-releng/fxci-config/main/projects.yml';

export interface OnlineTreeOptions {
  /** the parent task (its `extra.tasks_for` says which files are needed) and its decision task (default: itself) */
  task: JsonObject;
  taskId: string;
  decisionTask?: JsonObject;
  decisionTaskId?: string;
  /** prefix of the repository variables (default: envPrefixOf the decision task) */
  envPrefix?: string;
  fetch: TreeFetch;
  /** hosts a tree URL may name (default DEFAULT_TREE_HOSTS); every URL must be https */
  allowedTreeHosts?: readonly string[];
  /** the URL of `projects.yml` (default DEFAULT_PROJECTS_URL); its host must be allowed too */
  projectsUrl?: string;
  /**
   * where an allowed host is reached instead (a mirror, a test's loopback server): host -> base URL (its scheme,
   * host and path prefix replace `https://<host>`). Checked URLs stay the logical ones: the allow-list applies first.
   */
  baseUrls?: Readonly<Record<string, string>>;
  /**
   * Where an action's decision task artifacts (`public/actions.json`, and `public/parameters.yml` for an hg
   * repository) are read from: its queue. They are taken as the queue serves them, unchecked against the decision
   * task's signed chain-of-trust document, and a warning says so. Absent: they are not fetched (TREE_FILE_MISSING
   * when the rebuild needs them).
   */
  artifacts?: ArtifactFetch;
  /**
   * Told each text fetched, before it is parsed, with what it is: a tree file's role, or a GitHub lookup (so a
   * caller can keep the bytes, as `cot fetch` does to mirror them).
   */
  onFetched?: (what: { role: TreeFileRole } | { lookup: GithubLookup }, text: string) => void;
}

/** The URL actually fetched for a logical tree URL: TREE_HOST_REFUSED unless https on an allowed host. */
function resolveUrl(logical: string, o: OnlineTreeOptions, what: string): string {
  const hosts = o.allowedTreeHosts ?? DEFAULT_TREE_HOSTS;
  let u: URL;
  try {
    u = new URL(logical);
  } catch {
    throw refused(logical, hosts, what, 'is not a URL');
  }
  if (u.protocol !== 'https:') throw refused(logical, hosts, what, 'is not https');
  if (u.username || u.password || u.port) throw refused(logical, hosts, what, 'names credentials or a port');
  if (!hosts.includes(u.hostname)) throw refused(logical, hosts, what, `names the host ${u.hostname}`);
  const base = o.baseUrls?.[u.hostname];
  return base === undefined ? u.href : `${base.replace(/\/+$/, '')}${u.pathname}${u.search}`;
}

function refused(url: string, hosts: readonly string[], what: string, why: string): CotError {
  return new CotError(
    'TREE_HOST_REFUSED',
    `${what} ${JSON.stringify(url)} ${why}, not one of the allowed tree hosts (${hosts.join(', ')}) over https`,
    { details: { url, allowedHosts: [...hosts] } },
  );
}

/** Fetch and parse one tree file; TREE_FILE_MISSING naming the URL when the host answers that it does not exist. */
async function fetchTreeFile(
  role: TreeFileRole,
  logical: string,
  o: OnlineTreeOptions,
  warnings: string[],
): Promise<TreeFile> {
  const url = resolveUrl(logical, o, TREE_FILES[role]);
  const text = await o.fetch(url, { maxBytes: TREE_FILE_MAX_BYTES[role], github: isGithubHost(logical) });
  if (text === undefined)
    throw new CotError(
      'TREE_FILE_MISSING',
      `${logical} (${TREE_FILES[role]}) does not exist: the rebuild needs it`,
      {
        details: { url: logical, file: TREE_FILES[role] },
      },
    );
  o.onFetched?.({ role }, text);
  return parseTreeFile(role, text, logical, warnings);
}

function isGithubHost(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'github.com' || host === 'api.github.com' || host === 'raw.githubusercontent.com';
}

/** The REST API URL of a lookup. */
function githubApiUrl(l: GithubLookup): string {
  const repo = `https://api.github.com/repos/${encodeURIComponent(l.owner)}/${encodeURIComponent(l.name)}`;
  switch (l.kind) {
    case 'repository':
      return repo;
    case 'commit':
      return `${repo}/commits/${encodeURIComponent(l.sha)}`;
    case 'pull':
      return `${repo}/pulls/${l.number}`;
    case 'release':
      return `${repo}/releases/tags/${encodeURIComponent(l.tag)}`;
  }
}

/** The online GitHub lookup: the API's answer, TREE_GITHUB_LOOKUP_FAILED naming the URL on 404. */
function githubLookup(o: OnlineTreeOptions): (l: GithubLookup) => Promise<TreeFile> {
  return async (l) => {
    const logical = githubApiUrl(l);
    const text = await o.fetch(resolveUrl(logical, o, describeGithubLookup(l)), {
      maxBytes: GITHUB_ANSWER_MAX_BYTES,
      github: true,
    });
    if (text === undefined)
      throw new CotError(
        'TREE_GITHUB_LOOKUP_FAILED',
        `${describeGithubLookup(l)}: ${logical} answered not found`,
        {
          details: { lookup: { ...l }, url: logical },
        },
      );
    o.onFetched?.({ lookup: l }, text);
    return parseGithubAnswer(text, logical);
  };
}

/**
 * The decision task's artifacts an action's rebuild reads (actionBuilder in context.ts): `public/actions.json`, and
 * for an hg repository `public/parameters.yml` (a GitHub action takes its parameters from its own context), read
 * through `artifacts` from the decision task's latest run, parsed as tree files. A warning in the material says
 * they were not checked against the decision task's signed document. TREE_FILE_MISSING naming the URL for one the
 * queue does not have.
 */
async function fetchDecisionArtifacts(
  artifacts: ArtifactFetch,
  decisionTaskId: string,
  github: boolean,
  tree: TreeMaterial,
): Promise<void> {
  const roles = github ? (['actions'] as const) : (['actions', 'parameters'] as const);
  const urls: string[] = [];
  for (const role of roles) {
    const name = DECISION_ARTIFACT_NAMES[role];
    const { url, text } = await artifacts(decisionTaskId, name, { maxBytes: TREE_FILE_MAX_BYTES[role] });
    if (text === undefined)
      throw new CotError(
        'TREE_FILE_MISSING',
        `${url} (${name} of decision task ${decisionTaskId}, its latest run) does not exist: the rebuild of an action needs it`,
        { details: { url, file: TREE_FILES[role], artifact: name, taskId: decisionTaskId } },
      );
    urls.push(url);
    tree.files[role] = parseTreeFile(role, text, url, tree.warnings);
  }
  tree.warnings.push(
    `${roles.map((r) => DECISION_ARTIFACT_NAMES[r]).join(' and ')} of decision task ${decisionTaskId} ${roles.length > 1 ? 'were' : 'was'} taken from the queue (${urls.join(', ')}) without checking ${roles.length > 1 ? 'them' : 'it'} against the decision task's signed chain-of-trust document (cot verify checks ${roles.length > 1 ? 'them' : 'it'})`,
  );
}

/** Whether the rebuild of a task with this `tasks_for` (`action`, `pr-action`) reads its decision task's actions.json. */
export function isActionTasksFor(tasksFor: unknown): boolean {
  return tasksFor === 'action' || tasksFor === 'pr-action';
}

/**
 * Fetch what the rebuild of `o.task` needs from its decision task's repository: the template; for hg the
 * pushlog (hg-push, cron) and `projects.yml`; for GitHub `projects.yml` for a cron task, and the API lookups when
 * a context asks for them. The decision task's `actions.json` and `parameters.yml` are artifacts, not tree files:
 * for an action they are read through `o.artifacts` when given (fetchDecisionArtifacts: unchecked, with a warning),
 * else the rebuild reports them missing (TREE_FILE_MISSING). Throws TREE_ENV_PREFIX_UNKNOWN,
 * TREE_TASK_INVALID (no repository or revision, a GitHub URL without owner and name), TREE_HOST_REFUSED (a
 * repository, projects URL or redirect off the allowed hosts, or not https: the task never chooses the host),
 * TREE_FILE_MISSING, TREE_FILE_INVALID, TREE_TEMPLATE_INVALID, and what `o.fetch` throws (TREE_FETCH_FAILED).
 */
export async function fetchTreeMaterial(o: OnlineTreeOptions): Promise<TreeMaterial> {
  const decisionTask = o.decisionTask ?? o.task;
  const decisionTaskId = o.decisionTaskId ?? o.taskId;
  const prefix = o.envPrefix ?? envPrefixOf(decisionTask, decisionTaskId);
  const who = `decision task ${decisionTaskId}`;
  const repoField = `payload.env.${prefix}_HEAD_REPOSITORY`;
  const repo = needString(decisionTask, repoField, who).replace(/\/+$/, '');
  const rev = needString(decisionTask, `payload.env.${prefix}_HEAD_REV`, who);
  const tasksFor = at(o.task, 'extra.tasks_for');
  const tree: TreeMaterial = { files: {}, warnings: [] };
  const projectsUrl = o.projectsUrl ?? DEFAULT_PROJECTS_URL;
  const encRev = encodeURIComponent(rev);
  if (isGithubUrl(repo)) {
    const { owner, name } = githubRepository(repo, repoField);
    const template = `https://raw.githubusercontent.com/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/${encRev}/.taskcluster.yml`;
    tree.files.template = await fetchTreeFile('template', template, o, tree.warnings);
    if (tasksFor === 'cron')
      tree.files.projects = await fetchTreeFile('projects', projectsUrl, o, tree.warnings);
    tree.github = githubLookup(o);
    if (o.artifacts && isActionTasksFor(tasksFor))
      await fetchDecisionArtifacts(o.artifacts, decisionTaskId, true, tree);
    return tree;
  }
  resolveUrl(repo, o, repoField);
  if (!isPlainRepositoryUrl(repo))
    throw new CotError(
      'TREE_TASK_INVALID',
      `${repoField} ${JSON.stringify(repo)} is not a plain https repository URL (no credentials, port, query, fragment, dot segments or escapes): nothing was fetched`,
      { details: { field: repoField } },
    );
  tree.files.template = await fetchTreeFile(
    'template',
    `${repo}/raw-file/${encRev}/.taskcluster.yml`,
    o,
    tree.warnings,
  );
  if (tasksFor === 'hg-push' || tasksFor === 'cron')
    tree.files.pushlog = await fetchTreeFile(
      'pushlog',
      `${repo}/json-pushes?changeset=${encRev}&version=2&full=1`,
      o,
      tree.warnings,
    );
  tree.files.projects = await fetchTreeFile(
    'projects',
    projectsUrl,
    projectsOptions(o, projectsUrl),
    tree.warnings,
  );
  if (o.artifacts && isActionTasksFor(tasksFor))
    await fetchDecisionArtifacts(o.artifacts, decisionTaskId, false, tree);
  return tree;
}

/**
 * The options of the `projects.yml` fetch: its URL is the caller's configuration (`projectsUrl`, or
 * DEFAULT_PROJECTS_URL), never the task's, so its host is allowed for that fetch whatever `allowedTreeHosts` lists
 * (a product's trusted hosts name its repositories, not where projects.yml is published).
 */
function projectsOptions(o: OnlineTreeOptions, projectsUrl: string): OnlineTreeOptions {
  const hosts = o.allowedTreeHosts ?? DEFAULT_TREE_HOSTS;
  let host: string;
  try {
    host = new URL(projectsUrl).hostname;
  } catch {
    return o;
  }
  return hosts.includes(host) ? o : { ...o, allowedTreeHosts: [...hosts, host] };
}
