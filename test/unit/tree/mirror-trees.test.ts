import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../../src/index.js';
import { mirrorTrees } from '../../../src/mirror/trees.js';
import { readTreeFolder } from '../../../src/tree/files.js';
import { rebuildParentTask } from '../../../src/tree/rebuild.js';
import { HAVE_SHARED, SHARED_INTEROP, tempDir } from '../../helpers/env.js';

// mirrorTrees (cot fetch --trees) with an injected fetch function standing for the hosts: what it writes is a tree
// folder readTreeFolder reads back, and the task rebuilds from it offline.
const COT = join(SHARED_INTEROP, 'scriptworker-cot');
const HAVE_COT = HAVE_SHARED && existsSync(join(COT, 'README.md'));
const VPN_REV = '330ea928b42ff2403fc99cd3e596d13294fe8775';
const VPN_ID = 'VUTfOIPFQWaGHf7sIbgTEg';
const COMMIT = {
  author: { login: 'Callek' },
  commit: { author: { email: 'Callek@gmail.com' }, committer: { email: 'Callek@gmail.com' } },
  committer: { login: 'Callek' },
};

/** A fetch answering from `routes` (URL -> text), undefined (404) for anything else; the URLs asked are kept. */
function fakeFetch(routes: Record<string, string>, asked: string[]) {
  return async (url: string) => {
    asked.push(url);
    return routes[url];
  };
}

describe.skipIf(!HAVE_COT)('mirrorTrees writes the tree folder a rebuild reads offline', () => {
  it('GitHub: the raw template and the commit lookup the context asks for, under github/', async () => {
    const task = JSON.parse(
      await readFile(join(COT, 'cotv4/decision_github_private.json'), 'utf8'),
    ) as JsonObject;
    const template = await readFile(join(COT, 'cotv4/private_github_.taskcluster.yml'), 'utf8');
    const asked: string[] = [];
    const fetch = fakeFetch(
      {
        [`https://raw.githubusercontent.com/mozilla-mobile/mozilla-vpn-client/${VPN_REV}/.taskcluster.yml`]:
          template,
        [`https://api.github.com/repos/mozilla-mobile/mozilla-vpn-client/commits/${VPN_REV}`]:
          JSON.stringify(COMMIT),
      },
      asked,
    );
    const out = await tempDir();
    const missing = await mirrorTrees(out, [{ taskId: VPN_ID, task }], { fetch }, async () => ({}));
    expect(missing).toEqual([]);
    const folder = join(out, 'trees', 'github.com', 'mozilla-mobile', 'mozilla-vpn-client', VPN_REV);
    expect(await readFile(join(folder, '.taskcluster.yml'), 'utf8')).toBe(template);
    expect(existsSync(join(folder, 'github', 'commits', `${VPN_REV}.json`))).toBe(true);
    const r = await rebuildParentTask({ task, taskId: VPN_ID, tree: await readTreeFolder(folder) });
    expect(r.matched).toBe(true);
  });

  it('what the host lacks is missing with its code; an action without its decision task is TREE_NOT_TRACED', async () => {
    const decision = JSON.parse(
      await readFile(join(COT, 'cotv2/decision_hg-push.json'), 'utf8'),
    ) as JsonObject;
    const action = JSON.parse(await readFile(join(COT, 'cotv4/action_retrigger.json'), 'utf8')) as JsonObject;
    const out = await tempDir();
    const missing = await mirrorTrees(
      out,
      [
        { taskId: 'VQU9QMO4Teq7zr91FhBusg', task: decision },
        { taskId: 'E93EolXNSRuV2gOy7yMZEA', task: action },
      ],
      { fetch: fakeFetch({}, []) },
      async () => ({}),
    );
    expect(missing.map((m) => [m.taskId, m.code])).toEqual([
      ['VQU9QMO4Teq7zr91FhBusg', 'TREE_FILE_MISSING'],
      ['E93EolXNSRuV2gOy7yMZEA', 'TREE_NOT_TRACED'],
    ]);
    expect(missing[0]!.reason).toMatch(/raw-file\/054fe08d.*\.taskcluster\.yml/);
  });
});
