import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQueueServer } from '../../src/queue.js';
import { buildTestChain, type TestChain } from '../helpers/chain.js';
import { runCli } from '../helpers/cli.js';
import { HAVE_SHARED, tempDir } from '../helpers/env.js';
import { DECISION, makeTreeChain, NOW, REAL_TREE, REPO, REV, SIGNING } from '../helpers/tree-chain.js';

// Issue 12 §2 online: `cot verify --root-url` (a live queue, here `cot queue serve` on 127.0.0.1 reached through
// taskcluster-client's URLs) with a tree policy without `dir` fetches each parent link's tree material from the
// repository's host (a loopback server standing for hg.mozilla.org and raw.githubusercontent.com, --tree-base-url),
// once per repository, revision and tasks_for, and rebuilds it.
const cot = (...args: string[]) => runCli(NOW, ...args);
const HAVE_TREE = HAVE_SHARED && existsSync(join(REAL_TREE, '.taskcluster.yml'));

const requests: string[] = [];
let template = '';
const server = createServer((req, res) => {
  requests.push(req.url ?? '');
  const routes: Partial<Record<string, string>> = {
    [`/hg/projects/maple/raw-file/${REV}/.taskcluster.yml`]: '.taskcluster.yml',
    [`/hg/projects/maple/json-pushes?changeset=${REV}&version=2&full=1`]: 'pushlog.json',
    '/raw/config/projects.yml': 'projects.yml',
  };
  const file = routes[req.url ?? ''];
  if (file === undefined) {
    res.writeHead(404).end('no');
    return;
  }
  const body =
    file === '.taskcluster.yml' && template ? Promise.resolve(template) : readFile(join(REAL_TREE, file));
  body.then((b) => res.writeHead(200, { 'content-type': 'text/plain' }).end(b));
});
let base = '';
let d = '';
let demo: TestChain;

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  d = await tempDir();
  demo = await buildTestChain(join(d, 'demo'), NOW);
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const treeFlags = () => [
  '--tree-base-url',
  `hg.mozilla.org=${base}/hg`,
  '--tree-base-url',
  `raw.githubusercontent.com=${base}/raw`,
  '--projects-url',
  'https://raw.githubusercontent.com/config/projects.yml',
];

/** The tree chain served by a queue server, with its tree policy (preset firefox, no dir). */
async function served(name: string) {
  const l = await makeTreeChain(demo, d, name);
  const policy = join(l.dir, 'policy.yml');
  await writeFile(policy, `${await readFile(policy, 'utf8')}\ntree:\n  preset: firefox\n`);
  const q = await startQueueServer({ dir: join(l.dir, 'queue') });
  return { policy, q };
}

/** `cot verify --json` of the signing task through the served queue, with the policy and the extra flags. */
const verifyServed = (q: { rootUrl: string }, policy: string, ...extra: string[]) =>
  cot('verify', SIGNING, '--root-url', q.rootUrl, '--policy', policy, '--json', ...extra);

type Report = {
  ok: boolean;
  links: { taskId: string; checks: string[] }[];
  errors: { code: string; message: string }[];
};

describe.skipIf(!HAVE_TREE)('cot verify against a live queue fetches the tree material online', () => {
  it('rebuilds the decision task from its repository host, each file fetched once', async () => {
    const { policy, q } = await served('online');
    try {
      requests.length = 0;
      const r = await verifyServed(q, policy, ...treeFlags());
      expect(r.code, r.err).toBe(0);
      const report = JSON.parse(r.out) as Report;
      expect(report.links.find((x) => x.taskId === DECISION)!.checks).toContain(
        `rebuilt from ${REPO}@${REV} .taskcluster.yml (tasks_for hg-push, level 3): match (tasks[0] of 1)`,
      );
      expect([...requests].sort()).toEqual(
        [
          `/hg/projects/maple/raw-file/${REV}/.taskcluster.yml`,
          `/hg/projects/maple/json-pushes?changeset=${REV}&version=2&full=1`,
          '/raw/config/projects.yml',
        ].sort(),
      );
    } finally {
      await q.close();
    }
  });

  it('a decision task its template does not render is refused with the differing path', async () => {
    const { policy, q } = await served('online-forged');
    try {
      template = (await readFile(join(REAL_TREE, '.taskcluster.yml'), 'utf8')).replace(
        /gecko-decision/g,
        'gecko-decision-other',
      );
      const r = await verifyServed(q, policy, ...treeFlags());
      expect(r.code).toBe(1);
      const report = JSON.parse(r.out) as Report;
      expect(report.errors.map((e) => e.code)).toContain('TREE_TASK_MISMATCH');
    } finally {
      template = '';
      await q.close();
    }
  });

  it('a repository host the policy does not allow is refused on the link, nothing fetched', async () => {
    const { policy, q } = await served('online-host');
    try {
      requests.length = 0;
      const r = await verifyServed(q, policy, ...treeFlags(), '--tree-host', 'raw.githubusercontent.com');
      expect(r.code).toBe(1);
      const report = JSON.parse(r.out) as Report;
      expect(report.errors.map((e) => e.code)).toEqual(['TREE_HOST_REFUSED']);
      expect(requests).toEqual([]);
    } finally {
      await q.close();
    }
  });

  it('a tree host that is down: TREE_FETCH_FAILED naming the URL', async () => {
    const { policy, q } = await served('online-down');
    try {
      const r = await verifyServed(q, policy, '--tree-base-url', 'hg.mozilla.org=http://127.0.0.1:9/hg');
      expect(r.code).not.toBe(0);
      const report = JSON.parse(r.out) as Report;
      expect(report.errors.map((e) => e.code)).toContain('TREE_FETCH_FAILED');
      expect(report.errors.find((e) => e.code === 'TREE_FETCH_FAILED')!.message).toMatch(/raw-file/);
    } finally {
      await q.close();
    }
  });
});
