import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProvenance, type InTotoStatement } from '../../../src/attest/statement.js';
import { checkStatement } from '../../../src/attest/verify.js';
import { type ChainReport, loadPolicy, verifyChain } from '../../../src/index.js';
import { DirectoryQueue } from '../../../src/queue.js';
import { buildTestChain, labFrom, putStatus, type TestChain } from '../../helpers/chain.js';
import { tempDir } from '../../helpers/env.js';

// Provenance fields a new user's data can bend (issue 14 review): what the queue says unsigned, and names.

const NOW = new Date('2026-11-25T12:00:00Z');

let d: string;
let good: TestChain;

beforeAll(async () => {
  d = await tempDir('cot-attest-review-unit-');
  good = await buildTestChain(join(d, 'good'), NOW);
  expect(good.report.ok).toBe(true);
});

async function verify(dir: string, root: string): Promise<ChainReport> {
  const loaded = await loadPolicy(join(dir, 'policy.yml'));
  return verifyChain(new DirectoryQueue(join(dir, 'queue')), root, {
    policy: loaded.policy,
    trust: loaded.trust,
    at: NOW,
  });
}

const metadata = (s: InTotoStatement) =>
  (s.predicate as { runDetails: { metadata: Record<string, string> } }).runDetails.metadata;

describe("buildProvenance: the run's times come from the queue, unsigned", () => {
  it('a UTC time as given, one with an offset in UTC, anything else left out: cot never signs what checkStatement refuses', async () => {
    const cases: [string, string | undefined][] = [
      ['2026-11-25T12:30:00.000+01:00', '2026-11-25T11:30:00.000Z'],
      ['2026-11-25T11:30:00Z', '2026-11-25T11:30:00Z'],
      ['2026-11-25t11:30:00z', undefined],
      ['yesterday', undefined],
      ['2026-11-25', undefined],
      ['2026-13-45T99:00:00Z', undefined],
    ];
    for (const [i, [started, expected]] of cases.entries()) {
      const lab = await labFrom(good, d, `times-${i}`, NOW);
      await putStatus(lab, good.taskId, [
        { runId: 0, state: 'completed', started, resolved: '2026-11-25T11:59:00.000Z' },
      ]);
      const report = await verify(lab.dir, good.taskId);
      expect(report.ok).toBe(true);
      const st = buildProvenance(report);
      const m = metadata(st);
      if (expected === undefined) expect(m, started).not.toHaveProperty('startedOn');
      else expect(m.startedOn, started).toBe(expected);
      expect(m.finishedOn).toBe('2026-11-25T11:59:00.000Z');
      expect(() => checkStatement(JSON.parse(JSON.stringify(st)), 'provenance')).not.toThrow();
    }
  });
});
