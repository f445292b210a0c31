import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestChain, type TestChain } from '../helpers/chain.js';
import { runCli } from '../helpers/cli.js';
import { HAVE_SHARED, tempDir } from '../helpers/env.js';
import { DECISION, makeTreeChain, NOW, REAL_TREE, REPO, REV, SIGNING } from '../helpers/tree-chain.js';

// Issue 12 §3: `cot fetch --trees` mirrors the tree material of the chain's decision task into <mirror>/trees/,
// fetched from a loopback server standing for hg.mozilla.org and raw.githubusercontent.com (--tree-base-url); then
// `cot verify --queue <mirror>` with a tree policy without `dir` rebuilds and traces the chain with no network.
const cot = (...args: string[]) => runCli(NOW, ...args);
const HAVE_TREE = HAVE_SHARED && existsSync(join(REAL_TREE, '.taskcluster.yml'));

const requests: string[] = [];
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
  readFile(join(REAL_TREE, file)).then((body) =>
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body),
  );
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
  '--trees',
  '--tree-base-url',
  `hg.mozilla.org=${base}/hg`,
  '--tree-base-url',
  `raw.githubusercontent.com=${base}/raw`,
  '--projects-url',
  'https://raw.githubusercontent.com/config/projects.yml',
];

/** A lab with the chain, its tree policy (preset firefox, no dir), and a mirror fetched with --trees. */
async function fetched(
  name: string,
): Promise<{ policy: string; mirror: string; fetch: { code: number; out: string } }> {
  const l = await makeTreeChain(demo, d, name);
  const policy = join(l.dir, 'policy.yml');
  await writeFile(policy, `${await readFile(policy, 'utf8')}\ntree:\n  preset: firefox\n`);
  const mirror = join(l.dir, 'mirror');
  const r = await cot(
    'fetch',
    SIGNING,
    '--queue',
    join(l.dir, 'queue'),
    '--out',
    mirror,
    '--json',
    ...treeFlags(),
  );
  return { policy, mirror, fetch: r };
}

describe.skipIf(!HAVE_TREE)('cot fetch --trees, then cot verify offline from the mirror', () => {
  it('mirrors the decision task tree and verifies with no network: the decision link is rebuilt', async () => {
    const { policy, mirror, fetch } = await fetched('honest');
    expect(fetch.code).toBe(0);
    expect(JSON.parse(fetch.out)).toMatchObject({ ok: true, complete: true, missing: [] });
    const folder = join(mirror, 'trees', 'hg.mozilla.org', 'projects', 'maple', REV);
    for (const f of ['.taskcluster.yml', 'pushlog.json', 'projects.yml'])
      expect(await readFile(join(folder, f))).toEqual(await readFile(join(REAL_TREE, f)));
    // actions.json and parameters.yml are the decision task's own artifacts, mirrored with its run
    expect(existsSync(join(folder, 'actions.json'))).toBe(false);
    expect(existsSync(join(mirror, DECISION, 'runs', '0', 'artifacts', 'public', 'actions.json'))).toBe(true);
    const seen = requests.length;
    const r = await cot('verify', SIGNING, '--queue', mirror, '--policy', policy, '--json');
    expect(requests.length).toBe(seen);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { links: { taskId: string; checks: string[] }[] };
    expect(report.links.find((x) => x.taskId === DECISION)!.checks).toContain(
      `rebuilt from ${REPO}@${REV} .taskcluster.yml (tasks_for hg-push, level 3): match (tasks[0] of 1)`,
    );
  });

  it('a chain whose root is its own decision task: its tree is mirrored, and verify rebuilds it offline', async () => {
    const l = await makeTreeChain(demo, d, 'decision-root');
    const policy = join(l.dir, 'policy.yml');
    await writeFile(policy, `${await readFile(policy, 'utf8')}\ntree:\n  preset: firefox\n`);
    const mirror = join(l.dir, 'mirror');
    const fetch = await cot(
      'fetch',
      DECISION,
      '--queue',
      join(l.dir, 'queue'),
      '--out',
      mirror,
      '--json',
      ...treeFlags(),
    );
    expect(fetch.code).toBe(0);
    expect(JSON.parse(fetch.out)).toMatchObject({ ok: true, complete: true, missing: [] });
    const folder = join(mirror, 'trees', 'hg.mozilla.org', 'projects', 'maple', REV);
    for (const f of ['.taskcluster.yml', 'pushlog.json', 'projects.yml'])
      expect(await readFile(join(folder, f))).toEqual(await readFile(join(REAL_TREE, f)));
    const seen = requests.length;
    const r = await cot('verify', DECISION, '--queue', mirror, '--policy', policy, '--json');
    expect(requests.length).toBe(seen);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { links: { taskId: string; checks: string[] }[] };
    expect(report.links.map((x) => x.taskId)).toEqual([DECISION]);
    expect(report.links[0]!.checks).toContain(
      `rebuilt from ${REPO}@${REV} .taskcluster.yml (tasks_for hg-push, level 3): match (tasks[0] of 1)`,
    );
  });

  it('a root that names itself as its parent but has no repository in its env: reported missing, not thrown', async () => {
    const l = await makeTreeChain(demo, d, 'self-parent-no-repo', {
      decision: (t) => {
        const env = (t.payload as { env: Record<string, unknown> }).env;
        delete env.GECKO_HEAD_REPOSITORY;
      },
    });
    const r = await cot(
      'fetch',
      DECISION,
      '--queue',
      join(l.dir, 'queue'),
      '--out',
      join(l.dir, 'mirror'),
      '--json',
      ...treeFlags(),
    );
    expect(r.code).not.toBe(0);
    const out = JSON.parse(r.out) as { missing: { taskId: string; code: string }[] };
    expect(out.missing).toEqual([
      expect.objectContaining({ taskId: DECISION, code: 'TREE_ENV_PREFIX_UNKNOWN' }),
    ]);
  });

  it('a mirror without its tree material: TREE_NOT_TRACED, the tree being required', async () => {
    const { policy, mirror, fetch } = await fetched('no-trees');
    expect(fetch.code).toBe(0);
    await rm(join(mirror, 'trees'), { recursive: true });
    const r = await cot('verify', SIGNING, '--queue', mirror, '--policy', policy, '--json');
    expect(r.code).not.toBe(0);
    const report = JSON.parse(r.out) as { errors: { code: string; message: string }[] };
    expect(report.errors.map((e) => e.code)).toEqual(['TREE_NOT_TRACED']);
    expect(report.errors[0]!.message).toMatch(/the directory store has no trees folder/);
    // and says how to get it
    expect(report.errors[0]!.message).toMatch(/cot fetch --trees/);
  });

  it('tree material off the allowed hosts is reported missing with its code, and fails the fetch', async () => {
    // the repository's host (hg.mozilla.org) is not allowed; the projects.yml host is (it is configuration, not the
    // task's), so the refusal is the repository's, before any request
    const l = await makeTreeChain(demo, d, 'host-lacks');
    const r = await cot(
      'fetch',
      SIGNING,
      '--queue',
      join(l.dir, 'queue'),
      '--out',
      join(l.dir, 'mirror'),
      '--json',
      ...treeFlags(),
      '--tree-host',
      'raw.githubusercontent.com',
    );
    expect(r.code).not.toBe(0);
    const out = JSON.parse(r.out) as { complete: boolean; missing: { taskId: string; code: string }[] };
    expect(out.complete).toBe(false);
    expect(out.missing).toEqual([expect.objectContaining({ taskId: DECISION, code: 'TREE_HOST_REFUSED' })]);
  });

  it('tree flags without --trees are a usage error', async () => {
    const r = await cot(
      'fetch',
      SIGNING,
      '--queue',
      join(d, 'nowhere'),
      '--out',
      join(d, 'm'),
      '--tree-host',
      'x',
    );
    expect(r.code).toBe(2);
  });
});
