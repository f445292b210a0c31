import { describe, expect, it } from 'vitest';
import { selectRun } from '../../../src/chain/runs.js';
import {
  compareWithGraphEntry,
  resolveRelativeDatestamp,
  TASK_GRAPH_FIELD_RULES,
} from '../../../src/chain/task-graph.js';
import { createdTask, graphEntry } from '../../../src/demo/taskgraph.js';
import type { JsonObject } from '../../../src/index.js';

const DECISION = 'DdddddddQdCdddddddddda';
const DEP = 'EeeeeeeeQeCeeeeeeeeeea';
const OTHER = 'FfffffffQfCffffffffffA';
const ME = 'GgggggggQgCgggggggggga';
const created = new Date('2026-11-25T11:02:00.000Z');
const parent = { taskId: DECISION, taskGroupIds: [DECISION], schedulerId: 'demo-level-3' };

function pair(
  payload: JsonObject = {
    command: ['make'],
    artifacts: { 'public/a': { type: 'file', path: 'a', expires: { 'relative-datestamp': '28 days' } } },
  },
  deps?: Record<string, string>,
) {
  const entry = graphEntry(ME, DECISION, {
    label: 'build',
    kind: 'build',
    provisionerId: 'releng-3',
    workerType: 'b-linux',
    payload,
    ...(deps ? { dependencies: deps } : {}),
  });
  const runtime = createdTask(entry, {
    decisionTaskId: DECISION,
    schedulerId: 'demo-level-3',
    created,
    inGraph: new Set(deps ? Object.values(deps) : []),
  });
  return { graph: entry.task as JsonObject, runtime };
}

describe('a task against its task-graph.json entry (TASK_GRAPH_FIELD_RULES)', () => {
  it('the table names every rule with its source', () => {
    expect(TASK_GRAPH_FIELD_RULES.map((r) => r.field)).toEqual(
      expect.arrayContaining(['priority', 'taskGroupId', 'schedulerId', 'dependencies', 'every other field']),
    );
    for (const r of TASK_GRAPH_FIELD_RULES) expect(r.source.length).toBeGreaterThan(10);
  });

  it('an honest task as taskgraph wrote it and the queue serves it matches', () => {
    const { graph, runtime } = pair();
    // what creation and the queue add: none of it is in the graph entry
    for (const k of ['taskGroupId', 'schedulerId', 'taskQueueId', 'projectId'])
      expect(graph[k]).toBeUndefined();
    expect(runtime).toMatchObject({
      taskQueueId: 'releng-3/b-linux',
      projectId: 'none',
      dependencies: [DECISION],
    });
    expect(compareWithGraphEntry(runtime, graph, parent)).toEqual([]);
  });

  const rows: [string, (g: JsonObject, r: JsonObject) => void, RegExp | null][] = [
    [
      'priority changed later (changeTaskPriority)',
      (_g, r) => {
        r.priority = 'highest';
      },
      null,
    ],
    [
      'created, deadline and expires are not compared',
      (_g, r) => {
        r.deadline = '2030-01-01T00:00:00.000Z';
      },
      null,
    ],
    [
      'queue defaults filled where the graph omits them',
      (g) => {
        for (const k of ['routes', 'scopes']) delete g[k];
      },
      null,
    ],
    [
      'a default that differs',
      (_g, r) => {
        r.retries = 0;
      },
      /retries: 5 vs 0/,
    ],
    [
      'a field only the runtime task has',
      (_g, r) => {
        r.newField = 1;
      },
      /newField: absent vs 1/,
    ],
    [
      'a field only the graph entry has',
      (g) => {
        g.newField = 1;
      },
      /newField: 1 vs absent/,
    ],
    [
      'a nested field only the runtime task has',
      (_g, r) => {
        (r.extra as JsonObject).evil = true;
      },
      /extra\.evil/,
    ],
    [
      'projectId set at runtime but absent from the graph',
      (_g, r) => {
        r.projectId = 'proj-x';
      },
      /projectId: "none" vs "proj-x"/,
    ],
    [
      'taskQueueId that disagrees with provisionerId/workerType',
      (_g, r) => {
        r.taskQueueId = 'releng-3/other';
      },
      /taskQueueId releng-3\/other disagrees/,
    ],
    [
      'a task group other than the decision task',
      (_g, r) => {
        r.taskGroupId = OTHER;
      },
      /taskGroupId: .* is not the task group of its parent/,
    ],
    [
      "a scheduler other than the decision task's",
      (_g, r) => {
        r.schedulerId = 'evil-level-3';
      },
      /schedulerId/,
    ],
    [
      'an extra runtime dependency',
      (_g, r) => {
        (r.dependencies as string[]).push(OTHER);
      },
      /also depends on/,
    ],
    [
      'a relative datestamp resolved otherwise',
      (_g, r) => {
        (((r.payload as JsonObject).artifacts as JsonObject)['public/a'] as JsonObject).expires =
          '2027-01-01T00:00:00.000Z';
      },
      /payload\.artifacts\.public\/a\.expires/,
    ],
    [
      'a relative datestamp taskgraph could not resolve',
      (g) => {
        (((g.payload as JsonObject).artifacts as JsonObject)['public/a'] as JsonObject).expires = {
          'relative-datestamp': '1.5 days',
        };
      },
      /1\.5 is not an integer/,
    ],
  ];
  for (const [name, change, expected] of rows) {
    it(name, () => {
      const { graph, runtime } = pair();
      change(graph, runtime);
      const diff = compareWithGraphEntry(runtime, graph, parent);
      if (expected === null) expect(diff).toEqual([]);
      else expect(diff.join('\n')).toMatch(expected);
    });
  }

  it('dependencies: in-graph ones are kept and never joined by the decision task; none may be lost', () => {
    const { graph, runtime } = pair(undefined, { dep: DEP });
    expect(runtime.dependencies).toEqual([DEP]);
    expect(compareWithGraphEntry(runtime, graph, parent)).toEqual([]);
    expect(compareWithGraphEntry({ ...runtime, dependencies: [DEP, DECISION] }, graph, parent)).toEqual([]);
    expect(compareWithGraphEntry({ ...runtime, dependencies: [] }, graph, parent).join()).toMatch(/lacks/);
  });

  it("a child of an action task is in the action's ACTION_TASK_GROUP_ID", () => {
    const { graph, runtime } = pair();
    const action = {
      taskId: 'AaaaaaaaQaCaaaaaaaaaaA',
      taskGroupIds: [DECISION],
      schedulerId: 'demo-level-3',
    };
    expect(compareWithGraphEntry(runtime, graph, action)).toEqual([]);
    expect(
      compareWithGraphEntry(runtime, graph, { ...action, taskGroupIds: [action.taskId] }).join(),
    ).toMatch(/taskGroupId/);
  });
});

describe('relative datestamps are bounded work', () => {
  it('a datestamp of thousands of digits is refused at once (the pattern alone would backtrack for minutes)', () => {
    expect(() => resolveRelativeDatestamp(`${'1'.repeat(4000)}x`, new Date())).toThrow(/4001 characters/);
    expect(resolveRelativeDatestamp('28 days', new Date('2026-01-01T00:00:00Z'))).toBe(
      '2026-01-29T00:00:00.000Z',
    );
  });
});

describe('which run: selectRun', () => {
  const runs = [
    { runId: 0, state: 'exception', started: '2026-01-01T10:00:00Z', resolved: '2026-01-01T10:10:00Z' },
    { runId: 1, state: 'completed', started: '2026-01-01T10:11:00Z', resolved: '2026-01-01T10:20:00Z' },
    {
      runId: 2,
      state: 'completed',
      reasonCreated: 'rerun',
      started: '2026-01-01T12:00:00Z',
      resolved: '2026-01-01T12:30:00Z',
    },
  ];
  const status = { taskId: ME, runs };
  it('the latest run resolved before the consumer started', () => {
    expect(selectRun(status, [{ kind: 'consumed', by: 'c', started: '2026-01-01T11:00:00Z' }])).toMatchObject(
      { runId: 1 },
    );
    expect(selectRun(status, [{ kind: 'consumed', by: 'c', started: '2026-01-01T13:00:00Z' }])).toMatchObject(
      { runId: 2 },
    );
  });
  it('for a parent, the run that was running when it created the child', () => {
    expect(selectRun(status, [{ kind: 'created', by: 'c', created: '2026-01-01T10:05:00Z' }])).toMatchObject({
      runId: 0,
    });
    expect(selectRun(status, [{ kind: 'created', by: 'c', created: '2026-01-01T10:15:00Z' }])).toMatchObject({
      runId: 1,
    });
  });
  it('without times or consumers: the latest completed run, and it says why; disagreeing consumers are named', () => {
    const r = selectRun({ taskId: ME, runs: runs.map(({ runId, state }) => ({ runId, state })) }, [
      { kind: 'consumed', by: 'c' },
    ]);
    expect(r).toMatchObject({ runId: 2 });
    expect(r.reason).toMatch(/no run times/);
    expect(selectRun(status, []).reason).toMatch(/no consumer/);
    // consumers that could only have used different runs: refused, never one of them silently left unchecked
    expect(() =>
      selectRun(status, [
        { kind: 'consumed', by: 'a', started: '2026-01-01T11:00:00Z' },
        { kind: 'consumed', by: 'b', started: '2026-01-01T13:00:00Z' },
      ]),
    ).toThrow(
      expect.objectContaining({
        code: 'CHAIN_RUN_AMBIGUOUS',
        message: expect.stringMatching(/a: run 1, b: run 2/),
      }),
    );
  });
  it('a task with no run is QUEUE_NOT_FOUND (permanent: exit 4, not 3)', () => {
    expect(() => selectRun({ taskId: ME, runs: [] }, [])).toThrow(
      expect.objectContaining({ code: 'QUEUE_NOT_FOUND' }),
    );
  });
});
