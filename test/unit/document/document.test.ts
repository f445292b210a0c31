import { describe, expect, it } from 'vitest';
import { assertCotDocument, buildDocument, DocumentError } from '../../../src/index.js';
import { sampleDocument, sampleTask, TASK_ID } from '../../helpers/env.js';

const good = () => sampleDocument();

function problemsOf(v: unknown): { code: string; paths: string[] } {
  try {
    assertCotDocument(v);
  } catch (e) {
    if (e instanceof DocumentError) return { code: e.code, paths: e.problems.map((p) => p.path).sort() };
    throw e;
  }
  return { code: 'OK', paths: [] };
}

describe('schema v1', () => {
  it('accepts a good document, with extra fields anywhere', () => {
    expect(problemsOf({ ...good(), workerType: 'b-linux', extraField: { x: 1 } }).code).toBe('OK');
  });

  it('lists every bad field path at once', () => {
    const bad = {
      ...good(),
      runId: -1,
      taskId: 'not a slug',
      workerGroup: 7,
      task: { ...sampleTask(), scopes: ['a', 'a'], payload: [], dependencies: undefined },
      artifacts: { 'public/a': { sha256: 'ABC' }, 'public/b': { sha512: 'f'.repeat(127) }, 'public/c': {} },
    };
    delete (bad as Record<string, unknown>).environment;
    const { code, paths } = problemsOf(JSON.parse(JSON.stringify(bad)));
    expect(code).toBe('DOCUMENT_INVALID');
    expect(paths).toEqual(
      [
        'artifacts["public/a"].sha256',
        'artifacts["public/b"].sha512',
        'artifacts["public/c"]',
        'environment',
        'runId',
        'task.dependencies',
        'task.payload',
        'task.scopes',
        'taskId',
        'workerGroup',
      ].sort(),
    );
  });

  it('has a distinct code for an unsupported version', () => {
    expect(problemsOf({ ...good(), chainOfTrustVersion: 2 }).code).toBe('DOCUMENT_UNSUPPORTED_VERSION');
    expect(problemsOf({ ...good(), chainOfTrustVersion: '1' }).code).toBe('DOCUMENT_INVALID');
  });

  it('refuses non-objects', () => {
    expect(problemsOf([]).code).toBe('DOCUMENT_INVALID');
    expect(problemsOf(null).code).toBe('DOCUMENT_INVALID');
  });

  it('buildDocument never returns an invalid document', () => {
    expect(() =>
      buildDocument({
        task: { payload: {} },
        taskId: TASK_ID,
        runId: 0,
        workerGroup: 'g',
        workerId: 'w',
        artifacts: {},
      }),
    ).toThrow(DocumentError);
    const d = buildDocument({
      task: sampleTask(),
      taskId: TASK_ID,
      runId: 3,
      workerGroup: 'g',
      workerId: 'w',
      workerType: 'b-linux',
      artifacts: {},
    });
    expect(d.chainOfTrustVersion).toBe(1);
    expect(d.environment).toEqual({});
    expect(d.workerType).toBe('b-linux');
  });
});
