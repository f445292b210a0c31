import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startQueueServer } from '../../src/queue.js';
import { runCli } from '../helpers/cli.js';
import { HAVE_SHARED, SHARED_INTEROP, tempDir } from '../helpers/env.js';

// cot verify-parent without --tree: the tree material fetched from the repository's host, here a loopback server
// serving the shared vectors (../shared/interop/scriptworker-cot) at the paths hg.mozilla.org, GitHub's raw content
// and GitHub's REST API use; --tree-base-url points each allowed host at it.
const COT = join(SHARED_INTEROP, 'scriptworker-cot');
const HAVE_COT = HAVE_SHARED && existsSync(join(COT, 'README.md'));
const NOW = new Date('2026-11-25T12:00:00Z');
const cot = (...args: string[]) => runCli(NOW, ...args);

const HG_REV = '054fe08d229f064a71bae9bb793e7ab8d95eff61';
const TRY_REV = 'c5429a8112e41dfabe22da0d7d0876fe05a17e67';
const VPN_REV = '330ea928b42ff2403fc99cd3e596d13294fe8775';
const COMMIT = {
  author: { login: 'Callek' },
  commit: { author: { email: 'Callek@gmail.com' }, committer: { email: 'Callek@gmail.com' } },
  committer: { login: 'Callek' },
};

const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
let commitStatus = 200;
/** when set, every request is answered with a 302 to this URL (a redirect the host chose) */
let redirectTo: string | undefined;
const server = createServer((req, res) => {
  seen.push({ url: req.url ?? '', headers: req.headers });
  if (redirectTo !== undefined && req.url?.startsWith('/api/')) {
    res.writeHead(302, { location: redirectTo }).end();
    return;
  }
  const routes: Partial<Record<string, () => Promise<string>>> = {
    [`/hg/projects/maple/raw-file/${HG_REV}/.taskcluster.yml`]: () =>
      readFile(join(COT, 'cotv2/.taskcluster.yml'), 'utf8'),
    [`/hg/projects/maple/json-pushes?changeset=${HG_REV}&version=2&full=1`]: () =>
      readFile(join(COT, 'cotv2/pushlog.json'), 'utf8'),
    '/raw/config/projects.yml': () => readFile(join(COT, 'cotv2/projects.yml'), 'utf8'),
    [`/hg/try/raw-file/${TRY_REV}/.taskcluster.yml`]: () =>
      readFile(join(COT, 'cotv4/.taskcluster.yml'), 'utf8'),
    [`/raw/mozilla-mobile/mozilla-vpn-client/${VPN_REV}/.taskcluster.yml`]: () =>
      readFile(join(COT, 'cotv4/private_github_.taskcluster.yml'), 'utf8'),
    [`/api/repos/mozilla-mobile/mozilla-vpn-client/commits/${VPN_REV}`]: async () => JSON.stringify(COMMIT),
  };
  const route = routes[req.url ?? ''];
  const status = req.url?.startsWith('/api/') ? commitStatus : 200;
  if (!route || status !== 200) {
    res.writeHead(route ? status : 404).end('no');
    return;
  }
  route().then((body) => res.writeHead(200, { 'content-type': 'text/plain' }).end(body));
});
let base = '';

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const online = () => [
  '--tree-base-url',
  `hg.mozilla.org=${base}/hg`,
  '--tree-base-url',
  `raw.githubusercontent.com=${base}/raw`,
  '--tree-base-url',
  `api.github.com=${base}/api`,
  '--projects-url',
  'https://raw.githubusercontent.com/config/projects.yml',
];

describe.skipIf(!HAVE_COT)('cot verify-parent without --tree fetches the tree from its host', () => {
  it('hg: raw-file and json-pushes from the repository, projects.yml from its URL: match', async () => {
    const r = await cot(
      'verify-parent',
      join(COT, 'cotv2/decision_hg-push.json'),
      '--task-id',
      'VQU9QMO4Teq7zr91FhBusg',
      ...online(),
    );
    expect(r.err).toMatch(/projects\.yml: a mapping key is duplicated/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /rebuilt from https:\/\/hg\.mozilla\.org\/projects\/maple@054fe08d.* https:\/\/hg\.mozilla\.org\/projects\/maple\/raw-file\/054fe08d229f064a71bae9bb793e7ab8d95eff61\/\.taskcluster\.yml \(tasks_for hg-push, level 3\): match/,
    );
  });

  it('GitHub: raw content and the REST API, GITHUB_TOKEN sent to GitHub only; the VPN row matches', async () => {
    vi.stubEnv('GITHUB_TOKEN', 'sekrit');
    try {
      seen.length = 0;
      const r = await cot(
        'verify-parent',
        join(COT, 'cotv4/decision_github_private.json'),
        '--task-id',
        'VUTfOIPFQWaGHf7sIbgTEg',
        ...online(),
        '--json',
      );
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({
        ok: true,
        tasksFor: 'github-push',
        repository: { level: null },
      });
      expect(seen.map((s) => [s.url, s.headers.authorization])).toEqual([
        [`/raw/mozilla-mobile/mozilla-vpn-client/${VPN_REV}/.taskcluster.yml`, 'Bearer sekrit'],
        [`/api/repos/mozilla-mobile/mozilla-vpn-client/commits/${VPN_REV}`, 'Bearer sekrit'],
      ]);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('redirects: GITHUB_TOKEN never follows one to another origin; one to http on an allowed host is refused', async () => {
    // a second server, another origin, standing for hg.mozilla.org: the GitHub API redirects there
    const other: { url: string; authorization?: string }[] = [];
    const hg = createServer((req, res) => {
      other.push({
        url: req.url ?? '',
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(COMMIT));
    });
    await new Promise<void>((r) => hg.listen(0, '127.0.0.1', r));
    const hgBase = `http://127.0.0.1:${(hg.address() as AddressInfo).port}`;
    vi.stubEnv('GITHUB_TOKEN', 'sekrit');
    try {
      redirectTo = `${hgBase}/hg/commit.json`;
      const r = await cot(
        'verify-parent',
        join(COT, 'cotv4/decision_github_private.json'),
        '--task-id',
        'VUTfOIPFQWaGHf7sIbgTEg',
        ...online(),
        '--tree-base-url',
        `hg.mozilla.org=${hgBase}/hg`,
      );
      expect(r.code).toBe(0);
      expect(other).toEqual([{ url: '/hg/commit.json' }]);
      // a redirect to plain http on an allowed tree host (not a base URL the caller gave): refused, not followed
      redirectTo = 'http://hg.mozilla.org/commit.json';
      const r2 = await cot(
        'verify-parent',
        join(COT, 'cotv4/decision_github_private.json'),
        '--task-id',
        'VUTfOIPFQWaGHf7sIbgTEg',
        ...online(),
      );
      expect(r2.code).toBe(1);
      expect(r2.err).toMatch(/TREE_HOST_REFUSED: .*redirect to http:\/\/hg\.mozilla\.org is not allowed/);
    } finally {
      redirectTo = undefined;
      vi.unstubAllEnvs();
      await new Promise<void>((r) => hg.close(() => r()));
    }
  });

  it('--product of a GitHub product: its repositories are on github.com, their material on raw content and the API', async () => {
    seen.length = 0;
    const r = await cot(
      'verify-parent',
      join(COT, 'cotv4/decision_github_private.json'),
      '--task-id',
      'VUTfOIPFQWaGHf7sIbgTEg',
      '--product',
      'mozillavpn',
      ...online(),
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /repository: \/mozilla-mobile\/mozilla-vpn-client, a trusted repository of mozillavpn/,
    );
    expect(seen.map((s) => s.url)).toEqual([
      `/raw/mozilla-mobile/mozilla-vpn-client/${VPN_REV}/.taskcluster.yml`,
      `/api/repos/mozilla-mobile/mozilla-vpn-client/commits/${VPN_REV}`,
    ]);
    // firefox's repositories are on hg.mozilla.org only: a GitHub repository is refused before any request
    seen.length = 0;
    const f = await cot(
      'verify-parent',
      join(COT, 'cotv4/decision_github_private.json'),
      '--task-id',
      'VUTfOIPFQWaGHf7sIbgTEg',
      '--product',
      'firefox',
      '--env-prefix',
      'MOZILLAVPN',
      ...online(),
    );
    expect(f.code).not.toBe(0);
    expect(seen).toEqual([]);
  });

  it('a failed GitHub lookup: TREE_GITHUB_LOOKUP_FAILED (404) or TREE_FETCH_FAILED (500), naming the URL', async () => {
    const args = [
      'verify-parent',
      join(COT, 'cotv4/decision_github_private.json'),
      '--task-id',
      'VUTfOIPFQWaGHf7sIbgTEg',
      ...online(),
    ];
    try {
      commitStatus = 404;
      const r = await cot(...args);
      expect(r.code).toBe(4);
      expect(r.err).toMatch(
        /TREE_GITHUB_LOOKUP_FAILED.*commit 330ea928b42ff2403fc99cd3e596d13294fe8775 of mozilla-mobile\/mozilla-vpn-client: https:\/\/api\.github\.com\/repos\/mozilla-mobile\/mozilla-vpn-client\/commits\/330ea928/,
      );
      commitStatus = 500;
      const r2 = await cot(...args);
      expect(r2.code).toBe(3);
      expect(r2.err).toMatch(
        /TREE_FETCH_FAILED.*cannot fetch http:\/\/127\.0\.0\.1:\d+\/api\/repos\/mozilla-mobile/,
      );
    } finally {
      commitStatus = 200;
    }
  });

  it('the task never chooses the host: a repository off the allowed hosts is TREE_HOST_REFUSED, nothing fetched', async () => {
    const t = JSON.parse(await readFile(join(COT, 'cotv2/decision_hg-push.json'), 'utf8'));
    t.payload.env.GECKO_HEAD_REPOSITORY = `${base}/hg/projects/maple`;
    const dir = await tempDir();
    const file = join(dir, 'task.json');
    await writeFile(file, JSON.stringify(t));
    seen.length = 0;
    const r = await cot('verify-parent', file, '--task-id', 'VQU9QMO4Teq7zr91FhBusg', ...online());
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/TREE_HOST_REFUSED.*is not https, not one of the allowed tree hosts/);
    t.payload.env.GECKO_HEAD_REPOSITORY = 'https://evil.example/projects/maple';
    await writeFile(file, JSON.stringify(t));
    const r2 = await cot('verify-parent', file, '--task-id', 'VQU9QMO4Teq7zr91FhBusg', ...online());
    expect(r2.err).toMatch(/TREE_HOST_REFUSED.*names the host evil\.example/);
    // an allow-list without hg.mozilla.org refuses the real repository too
    const r3 = await cot(
      'verify-parent',
      join(COT, 'cotv2/decision_hg-push.json'),
      '--task-id',
      'VQU9QMO4Teq7zr91FhBusg',
      ...online(),
      '--tree-host',
      'github.com',
    );
    expect(r3.err).toMatch(/TREE_HOST_REFUSED.*hg\.mozilla\.org.*\(github\.com\)/);
    expect(seen).toEqual([]);
  });

  it('an explicit --env-prefix; a malformed one is a usage error', async () => {
    const r = await cot(
      'verify-parent',
      join(COT, 'cotv2/decision_hg-push.json'),
      '--task-id',
      'VQU9QMO4Teq7zr91FhBusg',
      ...online(),
      '--env-prefix',
      'COMM',
    );
    expect(r.err).toMatch(/TREE_TASK_INVALID.*COMM_HEAD_REPOSITORY/);
    const r2 = await cot(
      'verify-parent',
      join(COT, 'cotv2/decision_hg-push.json'),
      '--task-id',
      'VQU9QMO4Teq7zr91FhBusg',
      '--env-prefix',
      'gecko',
    );
    expect(r2.code).toBe(2);
  });
});

// An action online: its template and projects.yml from the tree hosts (the loopback server above), its decision
// task's public/actions.json and public/parameters.yml from the queue of --root-url: `cot queue serve` over a
// directory store (startQueueServer, reached through taskcluster-client's URLs and cot's bounded HTTP client).
const ACTION = 'E93EolXNSRuV2gOy7yMZEA';
const TRY_DECISION = 'LpCJV9wUQHSAm5SHyW4Olw';

/**
 * A queue serving the try decision task with one run per entry of `runs`, each holding the artifacts named (name ->
 * file of cotv4, or literal text); closed by the caller.
 */
async function decisionQueue(runs: Record<string, string>[]) {
  const dir = await tempDir();
  const taskDir = join(dir, TRY_DECISION);
  await mkdir(taskDir, { recursive: true });
  await writeFile(join(taskDir, 'task.json'), await readFile(join(COT, 'cotv4/decision_try.json')));
  for (const [runId, artifacts] of runs.entries())
    for (const [name, content] of Object.entries(artifacts)) {
      const path = join(taskDir, 'runs', String(runId), 'artifacts', ...name.split('/'));
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, content.startsWith('cotv4/') ? await readFile(join(COT, content)) : content);
    }
  return startQueueServer({ dir });
}

const REAL_ARTIFACTS = {
  'public/actions.json': 'cotv4/actions.json',
  'public/parameters.yml': 'cotv4/parameters.yml',
};

const actionArgs = () => [
  'verify-parent',
  join(COT, 'cotv4/action_retrigger.json'),
  '--task-id',
  ACTION,
  '--decision-task',
  join(COT, 'cotv4/decision_try.json'),
  '--decision-task-id',
  TRY_DECISION,
  ...online(),
];

describe.skipIf(!HAVE_COT)(
  'cot verify-parent of an action: its decision task artifacts from the queue',
  () => {
    beforeAll(() => {
      // the ambient environment names no queue: each test says where its queue is
      vi.stubEnv('TASKCLUSTER_ROOT_URL', undefined);
      vi.stubEnv('TASKCLUSTER_PROXY_URL', undefined);
    });
    afterAll(() => {
      vi.unstubAllEnvs();
    });

    it("--root-url: the latest run's actions.json and parameters.yml; a match, with the unchecked-artifacts warning", async () => {
      // run 0 holds an actions.json without the retrigger action: only the latest run (1) is read
      const queue = await decisionQueue([{ 'public/actions.json': '{"actions": []}' }, REAL_ARTIFACTS]);
      try {
        const r = await cot(...actionArgs(), '--root-url', queue.rootUrl);
        expect(r.err).toContain(
          `\ncot: warning: public/actions.json and public/parameters.yml of decision task ${TRY_DECISION} were taken from the queue (${queue.rootUrl}/api/queue/v1/task/${TRY_DECISION}/runs/1/artifacts/public%2Factions.json, ${queue.rootUrl}/api/queue/v1/task/${TRY_DECISION}/runs/1/artifacts/public%2Fparameters.yml) without checking them against the decision task's signed chain-of-trust document (cot verify checks them)\n`,
        );
        expect(r.code).toBe(0);
        expect(r.out).toMatch(
          new RegExp(
            `^task ${ACTION}: rebuilt from https://hg\\.mozilla\\.org/try@${TRY_REV} https://hg\\.mozilla\\.org/try/raw-file/${TRY_REV}/\\.taskcluster\\.yml \\(tasks_for action, level 1\\): match`,
          ),
        );
        const j = await cot(...actionArgs(), '--root-url', queue.rootUrl, '--json');
        expect(j.code).toBe(0);
        const out = JSON.parse(j.out) as { ok: boolean; tasksFor: string; warnings: string[] };
        expect(out).toMatchObject({ ok: true, tasksFor: 'action', decisionTaskId: TRY_DECISION });
        expect(out.warnings).toEqual([
          expect.stringMatching(/projects\.yml: a mapping key is duplicated/),
          expect.stringMatching(
            /^public\/actions\.json and public\/parameters\.yml of decision task .* were taken from the queue \(.*\) without checking them against the decision task's signed chain-of-trust document/,
          ),
        ]);
        // the environment's root URL serves as well, as for every command that reaches a queue
        vi.stubEnv('TASKCLUSTER_ROOT_URL', queue.rootUrl);
        const e = await cot(...actionArgs());
        expect(e.code).toBe(0);
      } finally {
        vi.stubEnv('TASKCLUSTER_ROOT_URL', undefined);
        await queue.close();
      }
    });

    it('an artifact the latest run lacks: TREE_FILE_MISSING naming its URL (exit 4)', async () => {
      const queue = await decisionQueue([REAL_ARTIFACTS, { 'public/actions.json': 'cotv4/actions.json' }]);
      try {
        const r = await cot(...actionArgs(), '--root-url', queue.rootUrl, '--json');
        expect(r.code).toBe(4);
        const out = JSON.parse(r.out) as { ok: boolean; error: { code: string; message: string } };
        expect(out.error.code).toBe('TREE_FILE_MISSING');
        expect(out.error.message).toContain(
          `${queue.rootUrl}/api/queue/v1/task/${TRY_DECISION}/runs/1/artifacts/public%2Fparameters.yml (public/parameters.yml of decision task ${TRY_DECISION}, its latest run) does not exist`,
        );
      } finally {
        await queue.close();
      }
    });

    it('neither --root-url nor --tree: a usage error telling to give one, before anything is fetched', async () => {
      seen.length = 0;
      const r = await cot(...actionArgs());
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        /^cot: USAGE: task E93EolXNSRuV2gOy7yMZEA is an action \(tasks_for action\): its decision task's public\/actions\.json and public\/parameters\.yml are artifacts on the Taskcluster queue, not files of the repository: give --root-url URL \(or set TASKCLUSTER_ROOT_URL\) to fetch them from the queue, or --tree DIR/m,
      );
      expect(seen).toEqual([]);
      const both = await cot(
        ...actionArgs().slice(0, 8),
        '--root-url',
        'http://127.0.0.1:9',
        '--tree',
        join(COT, 'cotv4'),
      );
      expect(both.code).toBe(2);
      expect(both.err).toMatch(/--root-url.*cannot be used with.*--tree/);
    });
  },
);
