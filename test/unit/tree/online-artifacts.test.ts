import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../../src/json/parse.js';
import { TREE_FILE_MAX_BYTES } from '../../../src/tree/files.js';
import { type ArtifactFetch, fetchTreeMaterial, type TreeFetch } from '../../../src/tree/online.js';

// fetchTreeMaterial with `artifacts` (cot verify-parent --root-url): an action's decision task artifacts are read
// through the function given, only those its rebuild reads (hg: actions.json and parameters.yml; GitHub:
// actions.json, its parameters being in the action's context), with a warning that they were not checked against
// the decision task's signed document; one the queue lacks is TREE_FILE_MISSING naming its URL.
const DECISION_ID = 'LpCJV9wUQHSAm5SHyW4Olw';
const ACTION_ID = 'E93EolXNSRuV2gOy7yMZEA';
const REV = 'c5429a8112e41dfabe22da0d7d0876fe05a17e67';

function decision(repository: string): JsonObject {
  return {
    taskGroupId: DECISION_ID,
    payload: { env: { GECKO_HEAD_REPOSITORY: repository, GECKO_HEAD_REV: REV } },
    extra: { tasks_for: 'hg-push' },
  };
}

/** Every tree URL answers an empty mapping (valid YAML and JSON: a template, a pushlog, projects.yml). */
const anyTree: TreeFetch = async () => '{}';

/** An ArtifactFetch answering `texts` by artifact name (undefined: 404), recording what was asked. */
function queueOf(texts: Record<string, string | undefined>, asked: unknown[]): ArtifactFetch {
  return async (taskId, name, o) => {
    asked.push({ taskId, name, maxBytes: o.maxBytes });
    return { url: `https://tc.example/${taskId}/${name}`, text: texts[name] };
  };
}

describe("fetchTreeMaterial reads an action's decision task artifacts through `artifacts`", () => {
  it('hg action: actions.json and parameters.yml of the decision task, bounded, with the unchecked warning', async () => {
    const asked: unknown[] = [];
    const tree = await fetchTreeMaterial({
      task: { extra: { tasks_for: 'action' } },
      taskId: ACTION_ID,
      decisionTask: decision('https://hg.mozilla.org/try'),
      decisionTaskId: DECISION_ID,
      fetch: anyTree,
      artifacts: queueOf(
        { 'public/actions.json': '{"actions": []}', 'public/parameters.yml': 'project: try\n' },
        asked,
      ),
    });
    expect(asked).toEqual([
      { taskId: DECISION_ID, name: 'public/actions.json', maxBytes: TREE_FILE_MAX_BYTES.actions },
      { taskId: DECISION_ID, name: 'public/parameters.yml', maxBytes: TREE_FILE_MAX_BYTES.parameters },
    ]);
    expect(tree.files.actions).toEqual({
      source: `https://tc.example/${DECISION_ID}/public/actions.json`,
      value: { actions: [] },
    });
    expect(tree.files.parameters?.value).toEqual({ project: 'try' });
    expect(tree.warnings).toEqual([
      `public/actions.json and public/parameters.yml of decision task ${DECISION_ID} were taken from the queue (https://tc.example/${DECISION_ID}/public/actions.json, https://tc.example/${DECISION_ID}/public/parameters.yml) without checking them against the decision task's signed chain-of-trust document (cot verify checks them)`,
    ]);
  });

  it('GitHub pr-action: actions.json only', async () => {
    const asked: unknown[] = [];
    const tree = await fetchTreeMaterial({
      task: { extra: { tasks_for: 'pr-action' } },
      taskId: ACTION_ID,
      decisionTask: decision('https://github.com/mozilla-mobile/reference-browser'),
      decisionTaskId: DECISION_ID,
      fetch: anyTree,
      artifacts: queueOf({ 'public/actions.json': '{"actions": []}' }, asked),
    });
    expect(asked).toEqual([
      { taskId: DECISION_ID, name: 'public/actions.json', maxBytes: TREE_FILE_MAX_BYTES.actions },
    ]);
    expect(tree.files.parameters).toBeUndefined();
    expect(tree.warnings).toEqual([
      `public/actions.json of decision task ${DECISION_ID} was taken from the queue (https://tc.example/${DECISION_ID}/public/actions.json) without checking it against the decision task's signed chain-of-trust document (cot verify checks it)`,
    ]);
  });

  it('an artifact the queue lacks: TREE_FILE_MISSING naming its URL; a task that is no action asks for none', async () => {
    const o = {
      task: { extra: { tasks_for: 'action' } },
      taskId: ACTION_ID,
      decisionTask: decision('https://hg.mozilla.org/try'),
      decisionTaskId: DECISION_ID,
      fetch: anyTree,
    };
    await expect(
      fetchTreeMaterial({ ...o, artifacts: queueOf({ 'public/actions.json': '{"actions": []}' }, []) }),
    ).rejects.toMatchObject({
      code: 'TREE_FILE_MISSING',
      message: expect.stringContaining(
        `https://tc.example/${DECISION_ID}/public/parameters.yml (public/parameters.yml of decision task ${DECISION_ID}, its latest run) does not exist`,
      ),
      details: { url: `https://tc.example/${DECISION_ID}/public/parameters.yml`, file: 'parameters.yml' },
    });
    const asked: unknown[] = [];
    const tree = await fetchTreeMaterial({
      ...o,
      task: decision('https://hg.mozilla.org/try'),
      taskId: DECISION_ID,
      decisionTask: undefined,
      decisionTaskId: undefined,
      artifacts: queueOf({}, asked),
    } as Parameters<typeof fetchTreeMaterial>[0]);
    expect(asked).toEqual([]);
    expect(tree.files.actions).toBeUndefined();
  });
});
