/**
 * An honest chain shaped exactly as production makes it must verify (issue 9 §1), end to end through
 * `cot queue serve` and the real taskcluster-client:
 * - the decision task is a real one (Firefox maple, 2018, from ../shared/interop/scriptworker-cot), with what
 *   today's queue adds to every definition it serves (taskQueueId, projectId "none"), and its real
 *   parameters.yml and actions.json as artifacts;
 * - its task-graph.json is written as taskgraph writes it (`Task.to_json` entries; relative datestamps; no
 *   taskGroupId, schedulerId, taskQueueId or projectId; `extra.parent` the decision task);
 * - the tasks are then "created" by a python3 script following taskgraph's create.py (timestamps resolved at
 *   creation, taskGroupId, schedulerId, the decision task added to dependencies when no in-graph one) and the
 *   queue's createTask (taskQueueId, projectId, defaults) — written independently of cot's own code.
 * Before issue 9 this chain was refused with CHAIN_TASK_GRAPH_MISMATCH (taskQueueId: absent vs ...).
 */
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/index.js';
import { canonicalize } from '../../src/json/canonical.js';
import { startQueueServer } from '../../src/queue.js';
import {
  buildTestChain,
  codesOf,
  labFrom,
  putSignedTask,
  type TestChain,
  verifyLab,
} from '../helpers/chain.js';
import { runCli } from '../helpers/cli.js';
import { HAVE_PYTHON, HAVE_SHARED, SHARED_INTEROP, tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const DECISION = 'VQU9QMO4Teq7zr91FhBusg';
const BUILD = 'Bu1ldaaaQaCaaaaaaaaaaA';
const SIGNING = 'S1gnaaaaQaCaaaaaaaaaaA';

// taskgraph create.py + the queue's createTask, in Python, for every graph entry
const CREATE = `
import datetime, json, re, sys
inp = json.loads(sys.stdin.read())
P = re.compile(r"((?:\\d+)?\\.?\\d+) *([a-z]+)")
DAYS = {"seconds": 0, "minutes": 0, "hours": 0, "days": 1, "day": 1, "months": 30, "years": 365, "year": 365}
SECS = {"seconds": 1, "minutes": 60, "hours": 3600}
now = datetime.datetime.fromisoformat(inp["created"][:-1])
def stamp(s):
    value, unit = P.search(s).groups()
    delta = datetime.timedelta(days=int(value) * DAYS[unit], seconds=int(value) * SECS.get(unit, 0))
    return (now + delta).isoformat(timespec="milliseconds") + "Z"
def recurse(v):
    if isinstance(v, list): return [recurse(x) for x in v]
    if isinstance(v, dict):
        if set(v) == {"relative-datestamp"}: return stamp(v["relative-datestamp"])
        return {k: recurse(x) for k, x in v.items()}
    return v
out = {}
for task_id, entry in inp["graph"].items():
    t = json.loads(json.dumps(entry["task"]))
    if not any(d in inp["graph"] for d in t.get("dependencies", [])):
        t.setdefault("dependencies", []).append(inp["decision"])
    t["taskGroupId"] = inp["decision"]
    t["schedulerId"] = inp["schedulerId"]
    t = recurse(t)
    defaults = {"projectId": "none", "requires": "all-completed", "routes": [], "priority": "lowest", "retries": 5,
                "scopes": [], "tags": {}, "extra": {}, "dependencies": []}
    for k, v in defaults.items(): t.setdefault(k, v)
    t["taskQueueId"] = t["provisionerId"] + "/" + t["workerType"]
    out[task_id] = t
print(json.dumps(out))
`;

function entry(
  taskId: string,
  label: string,
  kind: string,
  task: JsonObject,
  deps: Record<string, string> = {},
  parent = DECISION,
) {
  return {
    attributes: { kind, build_platform: 'win64' },
    dependencies: deps,
    description: label,
    if_dependencies: [],
    kind,
    label,
    optimization: null,
    soft_dependencies: [],
    task: {
      created: { 'relative-datestamp': '0 seconds' },
      deadline: { 'relative-datestamp': '1 day' },
      expires: { 'relative-datestamp': '1 year' },
      extra: { parent, treeherder: { symbol: label } },
      metadata: {
        description: label,
        name: label,
        owner: 'asasaki@mozilla.com',
        source:
          'https://hg.mozilla.org/projects/maple/file/054fe08d229f064a71bae9bb793e7ab8d95eff61/taskcluster/ci',
      },
      priority: 'highest',
      routes: [`tc-treeherder.v2.maple.054fe08d229f064a71bae9bb793e7ab8d95eff61.343`],
      scopes: [],
      tags: { createdForUser: 'asasaki@mozilla.com', kind, label },
      ...task,
      ...(Object.keys(deps).length ? { dependencies: Object.values(deps) } : {}),
    },
    task_id: taskId,
  };
}

let demo: TestChain;
let d: string;
beforeAll(async () => {
  d = await tempDir();
  demo = await buildTestChain(join(d, 'demo'), NOW);
});

describe.skipIf(!HAVE_SHARED || !HAVE_PYTHON)(
  'a production-shaped chain verifies (real decision task)',
  () => {
    it('through cot queue serve and the real client: cot verify exits 0; every graph rule is applied', async () => {
      const l = await labFrom(demo, d, 'prod', NOW);
      const real = join(SHARED_INTEROP, 'scriptworker-cot/cotv2');
      const decision = JSON.parse(await readFile(join(real, 'decision_hg-push.json'), 'utf8')) as JsonObject;
      // what today's queue returns for it
      const served = { ...decision, projectId: 'none', taskQueueId: 'aws-provisioner-v1/gecko-3-decision' };
      const graph = {
        [BUILD]: entry(BUILD, 'build-win64/opt', 'build', {
          provisionerId: 'releng-3',
          workerType: 'b-win2022',
          payload: {
            command: [['mach.bat', 'build']],
            maxRunTime: 7200,
            osGroups: [],
            mounts: [],
            artifacts: [
              {
                name: 'public/build',
                path: 'public/build',
                type: 'directory',
                expires: { 'relative-datestamp': '1 year' },
              },
            ],
            features: { chainOfTrust: true },
          },
        }),
        [SIGNING]: entry(
          SIGNING,
          'signing-win64/opt',
          'signing',
          {
            provisionerId: 'scriptworker-k8s',
            workerType: 'signing-3',
            scopes: ['project:releng:signing:cert:nightly-signing'],
            payload: {
              maxRunTime: 3600,
              upstreamArtifacts: [
                {
                  taskId: BUILD,
                  taskType: 'build',
                  paths: ['public/build/*.zip'],
                  formats: ['authenticode'],
                },
              ],
            },
          },
          { 'build-win64/opt': BUILD },
        ),
      };
      const py = spawnSync('python3', ['-c', CREATE], {
        input: JSON.stringify({
          graph,
          decision: DECISION,
          schedulerId: decision.schedulerId,
          created: '2018-01-09T19:15:02.118Z',
        }),
      });
      expect(py.status, py.stderr.toString()).toBe(0);
      const created = JSON.parse(py.stdout.toString()) as Record<string, JsonObject>;
      expect(created[SIGNING]!.dependencies).toEqual([BUILD]);
      expect(created[BUILD]!.dependencies).toEqual([DECISION]);
      expect(created[BUILD]!.expires).toBe('2019-01-09T19:15:02.118Z');

      await putSignedTask(
        l,
        DECISION,
        served,
        {
          'public/task-graph.json': canonicalize(graph as never),
          'public/parameters.yml': await readFile(join(real, 'parameters.yml')),
          'public/actions.json': await readFile(join(real, 'actions.json')),
        },
        'docker-worker',
      );
      await putSignedTask(
        l,
        BUILD,
        created[BUILD]!,
        { 'public/build/target.zip': 'a windows build', 'public/build/target.pdb': 'symbols' },
        'generic-worker',
      );
      await putSignedTask(
        l,
        SIGNING,
        created[SIGNING]!,
        { 'public/build/target.zip': 'signed' },
        'scriptworker',
      );
      await writeFile(
        join(l.dir, 'policy.yml'),
        (await readFile(join(l.dir, 'policy.yml'), 'utf8'))
          .replace('workerTypes:\n', 'workerTypes:\n  aws-provisioner-v1/gecko-3-decision: docker-worker\n')
          .replace(
            'decisionWorkerTypes: [releng-3/decision]',
            'decisionWorkerTypes: [releng-3/decision, aws-provisioner-v1/gecko-3-decision]',
          ),
      );
      const server = await startQueueServer({ dir: join(l.dir, 'queue') });
      try {
        const v = await runCli(
          NOW,
          'verify',
          SIGNING,
          '--root-url',
          server.rootUrl,
          '--policy',
          join(l.dir, 'policy.yml'),
          '--json',
        );
        expect(v.code, v.err).toBe(0);
        const report = JSON.parse(v.out);
        expect(report.links.map((x: { taskId: string; kinds: string[] }) => [x.taskId, x.kinds])).toEqual([
          [SIGNING, []],
          [DECISION, ['decision']],
          [BUILD, ['build']],
        ]);
        const signing = report.links[0];
        expect(signing.checks).toEqual(
          expect.arrayContaining([
            `in the task graph of ${DECISION}, with the same definition`,
            `public/build/target.zip (matched by public/build/*.zip) from ${BUILD}: hash matches`,
          ]),
        );
      } finally {
        await server.close();
      }
      // the same chain with one rule broken at a time is refused
      const broken: [string, (t: JsonObject) => void, string][] = [
        [
          'another scheduler',
          (t) => {
            t.schedulerId = 'gecko-level-1';
          },
          'CHAIN_TASK_GRAPH_MISMATCH',
        ],
        [
          'an extra dependency',
          (t) => {
            t.dependencies = [DECISION, SIGNING];
          },
          'CHAIN_TASK_GRAPH_MISMATCH',
        ],
        [
          'an expiry resolved otherwise',
          (t) => {
            ((t.payload as JsonObject).artifacts as JsonObject[])[0]!.expires = '2030-01-01T00:00:00.000Z';
          },
          'CHAIN_TASK_GRAPH_MISMATCH',
        ],
      ];
      for (const [name, change, code] of broken) {
        const b = await labFrom(demo, d, `prod-${name.replace(/ /g, '-')}`, NOW);
        await writeFile(join(b.dir, 'policy.yml'), await readFile(join(l.dir, 'policy.yml')));
        await putSignedTask(
          b,
          DECISION,
          served,
          {
            'public/task-graph.json': canonicalize(graph as never),
          },
          'docker-worker',
        );
        const t = structuredClone(created[BUILD]!);
        change(t);
        await putSignedTask(b, BUILD, t, { 'public/build/target.zip': 'a windows build' }, 'generic-worker');
        await putSignedTask(
          b,
          SIGNING,
          created[SIGNING]!,
          { 'public/build/target.zip': 'signed' },
          'scriptworker',
        );
        expect(codesOf(await verifyLab(b, SIGNING)), name).toBe(code);
      }
    });
  },
);

describe.skipIf(!HAVE_SHARED || !HAVE_PYTHON)('a real action task and the task it retriggered', () => {
  it('the retriggered task traces through the action (its graph, ACTION_TASK_GROUP_ID) to the real try decision', async () => {
    const l = await labFrom(demo, d, 'action', NOW);
    const real = join(SHARED_INTEROP, 'scriptworker-cot/cotv4');
    const TRY = 'LpCJV9wUQHSAm5SHyW4Olw';
    const ACTION = 'E93EolXNSRuV2gOy7yMZEA';
    const RETRIGGERED = 'Rtr1ggerQaCaaaaaaaaaaA';
    const served = async (f: string): Promise<JsonObject> => {
      const t = JSON.parse(await readFile(join(real, f), 'utf8')) as JsonObject;
      return { ...t, projectId: 'none', taskQueueId: `${String(t.provisionerId)}/${String(t.workerType)}` };
    };
    const decision = await served('decision_try.json');
    const action = await served('action_retrigger.json');
    expect(action.extra).toMatchObject({ parent: TRY });
    // taskgraph actions/util.py: the action's graph entry depends on the action task itself (update_dependencies)
    const task = entry(
      RETRIGGERED,
      'test-linux64/opt-mochitest-1',
      'test',
      {
        provisionerId: 'releng-3',
        workerType: 'b-linux',
        payload: { command: ['run-tests'], maxRunTime: 3600 },
        dependencies: [ACTION],
      },
      {},
      ACTION,
    );
    const graph = { [RETRIGGERED]: task };
    const py = spawnSync('python3', ['-c', CREATE], {
      input: JSON.stringify({
        graph,
        decision: TRY, // the action's ACTION_TASK_GROUP_ID: create.py's "decision_task_id"
        schedulerId: action.schedulerId,
        created: '2018-12-19T19:30:00.000Z',
      }),
    });
    expect(py.status, py.stderr.toString()).toBe(0);
    const created = (JSON.parse(py.stdout.toString()) as Record<string, JsonObject>)[RETRIGGERED]!;
    expect(created).toMatchObject({ taskGroupId: TRY, dependencies: [ACTION, TRY] });
    await putSignedTask(l, TRY, decision, { 'public/parameters.yml': 'level: "1"\n' }, 'docker-worker');
    await putSignedTask(
      l,
      ACTION,
      action,
      { 'public/task-graph.json': canonicalize(graph as never) },
      'docker-worker',
    );
    await putSignedTask(l, RETRIGGERED, created, { 'public/logs/live.log': 'ok' }, 'docker-worker');
    const policy = (p: string) =>
      p
        .replace('workerTypes:\n', 'workerTypes:\n  aws-provisioner-v1/gecko-1-decision: docker-worker\n')
        .replace(
          'decisionWorkerTypes: [releng-3/decision]',
          'decisionWorkerTypes: [releng-3/decision, aws-provisioner-v1/gecko-1-decision]',
        );
    const r = await verifyLab(l, RETRIGGERED, policy);
    expect(codesOf(r)).toBe('ACCEPTED');
    expect(r.links.map((x) => [x.taskId, x.kinds])).toEqual([
      [RETRIGGERED, []],
      [ACTION, ['action']],
      [TRY, ['decision']],
    ]);
    // the same task claiming another task group than the action's ACTION_TASK_GROUP_ID is refused
    await putSignedTask(l, RETRIGGERED, { ...created, taskGroupId: ACTION }, {}, 'docker-worker');
    expect(codesOf(await verifyLab(l, RETRIGGERED))).toBe('CHAIN_TASK_GRAPH_MISMATCH');
  });
});
