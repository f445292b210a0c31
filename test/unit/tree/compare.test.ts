import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../../src/json/parse.js';
import { compareWithRendered } from '../../../src/tree/compare.js';
import { readTreeFolder } from '../../../src/tree/files.js';
import { rebuildParentTask } from '../../../src/tree/rebuild.js';
import { HAVE_SHARED, SHARED_INTEROP } from '../../helpers/env.js';

// The comparison of a runtime parent task with its rendered tasks: the reference's rules plus the queue-field
// normalisation cot applies to task-graph entries (src/tree/compare.ts).
const COT = join(SHARED_INTEROP, 'scriptworker-cot');
const HAVE_COT = HAVE_SHARED && (await import('node:fs')).existsSync(join(COT, 'README.md'));

const ID = 'VQU9QMO4Teq7zr91FhBusg';
const rendered: JsonObject = {
  taskId: ID,
  provisionerId: 'aws-provisioner-v1',
  workerType: 'gecko-3-decision',
  created: '2018-01-09T19:07:36.291Z',
  deadline: '2018-01-10T19:07:36.291Z',
  payload: { command: ['run'] },
  metadata: { name: 'Gecko Decision Task', source: 'https://hg.mozilla.org/x' },
};
// what the queue stores for `rendered`: its createTask defaults filled in
const stored: JsonObject = {
  ...rendered,
  taskQueueId: 'aws-provisioner-v1/gecko-3-decision',
  schedulerId: '-',
  projectId: 'none',
  taskGroupId: ID,
  priority: 'lowest',
  requires: 'all-completed',
  retries: 5,
  expires: '2019-01-10T19:07:36.291Z',
  routes: [],
  scopes: [],
  dependencies: [],
  tags: {},
  extra: {},
};
delete stored.taskId;

const paths = (runtime: JsonObject) => {
  const c = compareWithRendered(runtime, ID, [rendered]);
  return c.matched ? [] : c.differences.map((d) => d.path);
};

describe('a rendered task that leaves fields to the queue', () => {
  it('matches the task as the queue stored it (every createTask default)', () => {
    expect(compareWithRendered(stored, ID, [rendered])).toEqual({ matched: true, index: 0 });
  });

  it('a value other than the default where the template said nothing is a difference, by path', () => {
    expect(paths({ ...stored, priority: 'highest' })).toEqual(['priority']);
    expect(paths({ ...stored, retries: 0 })).toEqual(['retries']);
    expect(paths({ ...stored, requires: 'all-resolved' })).toEqual(['requires']);
    expect(paths({ ...stored, schedulerId: 'gecko-level-3' })).toEqual(['schedulerId']);
    expect(paths({ ...stored, taskGroupId: 'AAAAAAAAQAGAAAAAAAAAAA' })).toEqual(['taskGroupId']);
    expect(paths({ ...stored, expires: '2030-01-01T00:00:00.000Z' })).toEqual(['expires']);
    // the taskGroupId default is the runtime task's own id, not any id
    const c = compareWithRendered(stored, 'AAAAAAAAQAGAAAAAAAAAAA', [rendered]);
    expect(c.matched ? [] : c.differences.map((d) => d.path)).toEqual(['taskGroupId']);
  });

  it('split fields that disagree with taskQueueId are a difference', () => {
    expect(paths({ ...stored, workerType: 'gecko-3-b-linux' })).toEqual(['provisionerId', 'workerType']);
    expect(paths({ ...stored, taskQueueId: 'aws-provisioner-v1/gecko-3-b-linux' })).toEqual([
      'taskQueueId',
      'provisionerId',
      'workerType',
    ]);
    const bare = { ...stored };
    delete bare.provisionerId;
    delete bare.workerType;
    expect(compareWithRendered(bare, ID, [rendered]).matched).toBe(true);
  });

  it('one split field beside taskQueueId: kept as a difference when it disagrees, dropped when it agrees', () => {
    const only = (field: 'provisionerId' | 'workerType', value: string): JsonObject => {
      const t: JsonObject = { ...stored, [field]: value };
      delete t[field === 'provisionerId' ? 'workerType' : 'provisionerId'];
      return t;
    };
    expect(paths(only('workerType', 'gecko-3-decision'))).toEqual([]);
    expect(paths(only('provisionerId', 'aws-provisioner-v1'))).toEqual([]);
    expect(paths(only('workerType', 'gecko-3-b-linux'))).toEqual(['workerType']);
    expect(paths(only('provisionerId', 'evil-provisioner'))).toEqual(['provisionerId']);
  });
});

describe.skipIf(!HAVE_COT)('on the real decision task (cotv2/decision_hg-push.json)', () => {
  it('the queue’s later form (taskQueueId beside the split fields) still matches; a disagreeing one does not', async () => {
    const task = JSON.parse(await readFile(join(COT, 'cotv2/decision_hg-push.json'), 'utf8')) as JsonObject;
    const tree = await readTreeFolder(join(COT, 'cotv2'));
    const same = await rebuildParentTask({
      task: { ...task, taskQueueId: `${task.provisionerId}/${task.workerType}` },
      taskId: ID,
      tree,
    });
    expect(same.matched).toBe(true);
    const other = await rebuildParentTask({
      task: { ...task, taskQueueId: 'aws-provisioner-v1/gecko-3-b-linux' },
      taskId: ID,
      tree,
    });
    expect(other.matched).toBe(false);
    expect(other.differences.map((d) => d.path)).toEqual(['taskQueueId', 'provisionerId', 'workerType']);
  });
});
