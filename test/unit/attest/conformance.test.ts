/**
 * Issue 14 (proof): the statements cot makes conform to the published field definitions. Each statement built from a
 * verified (and a tampered) demo chain is validated against the JSON Schemas in test/schemas, written from the
 * in-toto Statement v1 and SLSA v1.0 Provenance / Verification Summary specifications (each schema's $comment names
 * its source file and commit): the provenance of a verified chain, its summary PASSED, and the summary FAILED of a
 * chain whose upstream artifact was changed; then the same statements after signing, read back from the envelope.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildProvenance,
  buildVerificationSummary,
  type InTotoStatement,
  policyDigest,
  signStatement,
  verifyAttestation,
} from '../../../src/attest.js';
import type { ChainReport } from '../../../src/index.js';
import { validateStatement } from '../../helpers/attest-schemas.js';
import { buildTestChain, labFrom, type TestChain, verifyLab } from '../../helpers/chain.js';
import { tempDir } from '../../helpers/env.js';

const NOW = new Date('2026-11-30T12:00:00Z');
let demo: TestChain;
let failed: ChainReport;
const policy = policyDigest(
  { name: 'policy.yml', sha256: createHash('sha256').update('policy').digest('hex') },
  [{ name: 'keys/trust.json', sha256: createHash('sha256').update('trust').digest('hex') }],
  'file:///etc/cot/policy.yml',
);
const summaryOf = (r: ChainReport) =>
  buildVerificationSummary(r, { verifier: { version: { cot: '0.1.0' } }, policy });

beforeAll(async () => {
  const d = await tempDir('cot-attest-conformance-');
  demo = await buildTestChain(join(d, 'demo'), NOW);
  expect(demo.report.ok).toBe(true);
  // a chain whose consumed artifact was changed after it was signed: the verification fails (HASH_MISMATCH)
  const lab = await labFrom(demo, d, 'tampered', NOW);
  const consumed = demo.report.links.find((l) => l.taskId === demo.taskId)!.consumed![0]!;
  const file = join(lab.queue.runDir(consumed.taskId, 0), 'artifacts', consumed.artifact);
  await writeFile(file, Buffer.concat([await readFile(file), Buffer.from('x')]));
  failed = await verifyLab(lab, demo.taskId);
  expect(failed.ok).toBe(false);
});

describe('statements validate against the in-toto / SLSA schemas (test/schemas)', () => {
  const cases: [string, () => InTotoStatement][] = [
    ['provenance of a verified chain', () => buildProvenance(demo.report)],
    ['summary PASSED', () => summaryOf(demo.report)],
    ['summary FAILED', () => summaryOf(failed)],
  ];
  for (const [name, make] of cases)
    it(name, () => {
      const statement = make();
      expect(validateStatement(JSON.parse(JSON.stringify(statement)))).toEqual([]);
    });

  it('the schemas are not vacuous here: a statement cot would never write is refused', () => {
    const bad = JSON.parse(JSON.stringify(summaryOf(failed)));
    bad.predicate.verifiedLevels = [];
    expect(validateStatement(bad).length).toBeGreaterThan(0);
    const noType = JSON.parse(JSON.stringify(buildProvenance(demo.report)));
    delete noType.predicate.buildDefinition.buildType;
    expect(validateStatement(noType).length).toBeGreaterThan(0);
  });

  it('signed and read back, the payload is the same statement and still validates', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    for (const statement of [buildProvenance(demo.report), summaryOf(demo.report), summaryOf(failed)]) {
      const signed = signStatement(statement, privateKey);
      for (const file of [signed.envelope, signed.bundle]) {
        const v = verifyAttestation(Buffer.from(JSON.stringify(file)), {
          keys: [publicKey],
          acceptFailed: true,
        });
        expect(v.statement).toEqual(JSON.parse(JSON.stringify(statement)));
        expect(validateStatement(v.statement)).toEqual([]);
      }
    }
  });
});
