import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { upstreamOf } from '../../src/mirror/fetch.js';
import { DirectoryQueue, fetchChain } from '../../src/queue.js';
import { codeOf, sampleTask, tempDir } from '../helpers/env.js';

// slugids for a chain t0 <- t1 <- t2 ... (each task's parent is the next one)
const IDS = [
  'AAAAAAAAQACAAAAAAAAAAA',
  'BBBBBBBBQBCBBBBBBBBBBA',
  'CCCCCCCCQCCCCCCCCCCCCA',
  'DDDDDDDDQDCDDDDDDDDDDA',
  'EEEEEEEEQECEEEEEEEEEEA',
];

describe('fetchChain bounds', () => {
  it('reads upstream links from the parent, inputs and upstreamArtifacts', () => {
    const t = sampleTask({
      taskGroupId: IDS[4],
      extra: { parent: IDS[1], chainOfTrust: { inputs: { 'docker-image': IDS[2] } } },
      payload: { upstreamArtifacts: [{ taskId: IDS[3], paths: ['public/a', 'public/b'] }] },
    });
    const up = upstreamOf(t as never);
    expect([...up.keys()].sort()).toEqual([IDS[1], IDS[2], IDS[3]].sort());
    expect([...up.get(IDS[3]!)!]).toEqual(['public/a', 'public/b']);
  });

  it('follows each task once (a cycle ends), and stops at the depth and task bounds', async () => {
    const d = await tempDir();
    const src = new DirectoryQueue(join(d, 'src'));
    for (let i = 0; i < IDS.length; i++) {
      // a chain 0 -> 1 -> 2 -> 3 -> 4, and 4's parent is 0 again: a cycle
      await src.putTask(IDS[i]!, sampleTask({ taskGroupId: IDS[(i + 1) % IDS.length] }));
      await src.ensureRun(IDS[i]!, 0);
    }
    const all = await fetchChain(src, IDS[0]!, join(d, 'm1'));
    expect(all.tasks.map((t) => t.taskId)).toEqual(IDS);
    // these tasks carry no chain-of-trust documents: every link but the one fetched is reported for it
    expect(all.missing.map((m) => m.code).sort()).toEqual([
      ...Array(4).fill('CHAIN_COT_MISSING'),
      'CHAIN_CYCLE',
    ]);
    expect(all.complete).toBe(false);
    // cut short by a bound: what was reached is kept, and the result says it is incomplete
    const shallow = await fetchChain(src, IDS[0]!, join(d, 'm2'), { depth: 2 });
    expect(shallow.tasks.map((t) => t.depth)).toEqual([0, 1, 2]);
    expect(shallow).toMatchObject({ truncated: true, complete: false });
    expect(shallow.missing.map((m) => m.code)).toContain('CHAIN_TOO_DEEP');
    const few = await fetchChain(src, IDS[0]!, join(d, 'm3'), { maxTasks: 3 });
    expect(few).toMatchObject({ truncated: true, complete: false });
    expect(few.missing.map((m) => m.code)).toContain('CHAIN_TOO_MANY_TASKS');
    expect(await new DirectoryQueue(join(d, 'm3')).task(IDS[0]!)).toMatchObject({ taskGroupId: IDS[1] });
    expect(await codeOf(fetchChain(src, 'Se-5NNn4TB65_9383YGsJA', join(d, 'm4')))).toBe('QUEUE_NOT_FOUND');
  });
});
