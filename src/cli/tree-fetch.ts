import { type Command, Option, type OptionValues } from '@commander-js/extra-typings';
import type { ChainTreeFetch } from '../chain/state.js';
import type { TreePolicy } from '../chain/tree-policy.js';
import type { TreePreset } from '../chain/tree-presets.js';
import { CotError } from '../errors.js';
import { httpGet } from '../transport/http.js';
import { TaskclusterQueue } from '../transport/taskcluster.js';
import {
  type ArtifactFetch,
  DEFAULT_PROJECTS_URL,
  DEFAULT_TREE_HOSTS,
  type TreeFetch,
  treeHostsFor,
} from '../tree/online.js';
import { collect, usage } from './options.js';

/** Deadline of one tree fetch, ms: a template, a pushlog or an API answer is small. */
const TREE_FETCH_DEADLINE_MS = 60_000;

/**
 * The fetch function `cot verify-parent` gives the tree layer (tree/online.ts TreeFetch): a bounded GET through
 * transport/http.ts httpGet (retries, inactivity, rate and overall deadline, size bound), redirects followed only
 * over https to `allowedHosts`, or to the origin of a base URL the caller gave (`baseOrigins`, as it spelled it).
 * `githubToken` (the CLI reads it from GITHUB_TOKEN) is sent as a bearer token to GitHub URLs only, never past a
 * redirect to another origin. 404 and 410 resolve to undefined; a redirect elsewhere is TREE_HOST_REFUSED; any
 * other failure (network, an error status, refused credentials, an answer over its bound) is TREE_FETCH_FAILED
 * naming the URL, the transport error as its cause.
 */
function treeFetch(
  allowedHosts: readonly string[],
  baseOrigins: ReadonlySet<string>,
  githubToken?: string,
): TreeFetch {
  return async (url, o) => {
    const headers: Record<string, string> = { 'user-agent': 'chain-of-trust (cot verify-parent)' };
    if (o.github && githubToken) headers.authorization = `Bearer ${githubToken}`;
    if (url.startsWith('https://api.github.com/')) headers.accept = 'application/vnd.github+json';
    try {
      const body = await httpGet(url, {
        allowedHosts,
        headers,
        maxBytes: o.maxBytes,
        deadlineMs: TREE_FETCH_DEADLINE_MS,
        retries: 2,
        redirectAllowed: (next) => next.protocol === 'https:' || baseOrigins.has(next.origin),
      });
      const chunks: Buffer[] = [];
      for await (const chunk of body.stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    } catch (e) {
      const code = e instanceof CotError ? e.code : undefined;
      if (code === 'QUEUE_NOT_FOUND') return undefined;
      const message = e instanceof Error ? e.message : String(e);
      if (code === 'TRANSPORT_REDIRECT_REFUSED')
        throw new CotError(
          'TREE_HOST_REFUSED',
          `${url}: ${message} (allowed tree hosts: ${allowedHosts.join(', ')})`,
          {
            cause: e,
            details: { url, allowedHosts: [...allowedHosts] },
          },
        );
      throw new CotError('TREE_FETCH_FAILED', `cannot fetch ${url}: ${message}`, {
        cause: e,
        details: { url, ...(code ? { transportCode: code } : {}) },
      });
    }
  };
}

/**
 * `--tree-base-url host=url` pairs as a host -> base URL map (tree/online.ts `baseUrls`); a pair without `=` or whose
 * URL is not http(s) is a usage error (OPTIONS_INVALID, exit 2).
 */
function treeBaseUrls(pairs: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs ?? []) {
    const i = p.indexOf('=');
    const url = p.slice(i + 1);
    if (i <= 0 || !/^https?:\/\/[^/]/.test(url))
      throw usage(`--tree-base-url expects host=url, got ${JSON.stringify(p)}`);
    out[p.slice(0, i)] = url;
  }
  return out;
}

/**
 * The tree fetcher of a command given `--tree-host` (default `defaultHosts`: DEFAULT_TREE_HOSTS, or the hosts a
 * policy's trusted repositories name) and `--tree-base-url`: tree URLs
 * must name an allowed host; redirects may also reach the hosts of the base URLs. GITHUB_TOKEN, when set, goes to
 * GitHub only (treeFetch).
 */
export function treeFetchOptions(
  o: { treeHost?: string[]; treeBaseUrl?: string[] },
  env: NodeJS.ProcessEnv,
  defaultHosts: readonly string[] = DEFAULT_TREE_HOSTS,
): { fetch: TreeFetch; allowedTreeHosts: readonly string[]; baseUrls: Record<string, string> } {
  const allowedTreeHosts = o.treeHost ?? defaultHosts;
  const baseUrls = treeBaseUrls(o.treeBaseUrl);
  const bases = Object.values(baseUrls).map((u) => new URL(u));
  const redirectHosts = [...allowedTreeHosts, ...bases.map((u) => u.host)];
  const fetch = treeFetch(redirectHosts, new Set(bases.map((u) => u.origin)), env.GITHUB_TOKEN || undefined);
  return { fetch, allowedTreeHosts, baseUrls };
}

/**
 * The Taskcluster queue `cot verify-parent` reads an action's decision task artifacts from: `--root-url`, else
 * TASKCLUSTER_PROXY_URL / TASKCLUSTER_ROOT_URL (as every command that reaches a queue), with the credentials of the
 * environment; undefined when none names one. Its artifact redirects may lead to the root URL's host and the
 * `--allow-host` hosts only; reference artifacts are refused; each download is bounded by TREE_FETCH_DEADLINE_MS.
 */
export function artifactQueue(
  o: { rootUrl?: string; allowHost?: readonly string[] },
  env: NodeJS.ProcessEnv,
): TaskclusterQueue | undefined {
  const rootUrl = o.rootUrl ?? env.TASKCLUSTER_PROXY_URL ?? env.TASKCLUSTER_ROOT_URL;
  if (!rootUrl) return undefined;
  return new TaskclusterQueue({
    ...TaskclusterQueue.optionsFromEnv(env, rootUrl),
    ...(o.allowHost && o.allowHost.length > 0 ? { allowedHosts: [...o.allowHost] } : {}),
    downloadDeadlineMs: TREE_FETCH_DEADLINE_MS,
  });
}

/**
 * The ArtifactFetch (tree/online.ts) of a queue: the task's latest run (the queue's status), then the artifact of
 * that run through the queue's bounded download (transport/http.ts httpGet: retries, redirects to allowed hosts
 * only, at most `maxBytes`), named by its URL. A 404 (QUEUE_NOT_FOUND) of the artifact resolves to no text; a task
 * the queue does not have, or that has no run, throws QUEUE_NOT_FOUND; other failures their TRANSPORT_* code.
 */
export function queueArtifactFetch(queue: TaskclusterQueue): ArtifactFetch {
  return async (taskId, name, o) => {
    const runId = await queue.latestRunId(taskId);
    const url = await queue.artifactUrl(taskId, runId, name);
    try {
      const opened = await queue.openArtifact(taskId, runId, name, { maxBytes: o.maxBytes });
      const chunks: Buffer[] = [];
      for await (const chunk of opened.stream) chunks.push(chunk as Buffer);
      return { url, text: Buffer.concat(chunks).toString('utf8') };
    } catch (e) {
      if (e instanceof CotError && e.code === 'QUEUE_NOT_FOUND') return { url, text: undefined };
      throw e;
    }
  };
}

/**
 * The options of a command that fetches tree material online (`cot verify-parent` without --tree, `cot verify`
 * against a live queue): `--tree-host`, `--projects-url`, `--tree-base-url`; `conflicts` names an option they make
 * no sense with (verify-parent's --tree). `defaultHosts` describes the default of --tree-host.
 */
// biome-ignore lint/suspicious/noExplicitAny: commander's own Args type parameter is any[]
export function withTreeFetchOptions<A extends any[], O extends OptionValues, G extends OptionValues>(
  c: Command<A, O, G>,
  defaultHosts: string,
  conflicts?: string,
) {
  const treeHost = new Option(
    '--tree-host <host>',
    `a host tree material may be fetched from, repeatable (default: ${defaultHosts})`,
  ).argParser(collect);
  const projectsUrl = new Option(
    '--projects-url <url>',
    `where projects.yml is fetched from (default: ${DEFAULT_PROJECTS_URL})`,
  );
  const baseUrl = new Option(
    '--tree-base-url <host=url>',
    'reach an allowed tree host at another base URL (a mirror), repeatable',
  ).argParser(collect);
  if (conflicts !== undefined) for (const o of [treeHost, projectsUrl, baseUrl]) o.conflicts(conflicts);
  return c.addOption(treeHost).addOption(projectsUrl).addOption(baseUrl);
}

/** The default tree hosts of a policy's tree rules: its trusted repositories' hosts (treeHostsFor), else the defaults. */
export function treeHostsOf(tree: Pick<TreePreset, 'trustedRepositories'> | undefined): readonly string[] {
  const ruleHosts = tree?.trustedRepositories.flatMap((r) => r.hosts) ?? [];
  return ruleHosts.length > 0 ? treeHostsFor(ruleHosts) : DEFAULT_TREE_HOSTS;
}

/**
 * verifyChain's treeFetch for `cot verify` against a live queue: the bounded fetch of treeFetchOptions, from the
 * policy's tree hosts unless --tree-host names others. Undefined when the policy has no tree section or names a
 * tree folder (tree.dir), where nothing is fetched.
 */
export function chainTreeFetch(
  o: { treeHost?: string[]; treeBaseUrl?: string[]; projectsUrl?: string },
  env: NodeJS.ProcessEnv,
  tree: TreePolicy | undefined,
): ChainTreeFetch | undefined {
  if (tree === undefined || tree.dir !== undefined) return undefined;
  const { fetch, allowedTreeHosts, baseUrls } = treeFetchOptions(o, env, treeHostsOf(tree));
  return {
    fetch,
    allowedTreeHosts,
    baseUrls,
    ...(o.projectsUrl === undefined ? {} : { projectsUrl: o.projectsUrl }),
  };
}
