import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  envelopeFromJson,
  IN_TOTO_PAYLOAD_TYPE,
  MAX_ENVELOPE_SIGNATURES,
  signEnvelope,
  verifyEnvelope,
} from '../../../src/attest/dsse.js';
import { signStatement } from '../../../src/attest/sign.js';
import { buildProvenance, type InTotoStatement } from '../../../src/attest/statement.js';
import { checkStatement, verifyAttestation } from '../../../src/attest/verify.js';
import { summaryPolicy } from '../../../src/cli/attest-io.js';
import { policyInputs } from '../../../src/cli/commands/verify.js';
import { buildDemoLab } from '../../../src/demo/builder.js';
import { DEMO_REVISION } from '../../../src/demo/tree.js';
import { type ChainReport, type JsonValue, loadPolicy, verifyChain } from '../../../src/index.js';
import { DirectoryQueue } from '../../../src/queue.js';
import { buildTestChain, labFrom, putStatus, type TestChain } from '../../helpers/chain.js';
import { codeOf, errorOf, tempDir } from '../../helpers/env.js';

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

describe('summaryPolicy: the trust files are named as they are on disk', () => {
  it("a trust file or key file with '#' in its name keeps its whole name (the digest can be recomputed)", async () => {
    const lab = await labFrom(good, d, 'hash-names', NOW);
    await rename(join(lab.dir, 'ed25519-keys.json'), join(lab.dir, 'keys#1.json'));
    const repoDir = join(lab.dir, 'key-repo/docker-worker');
    const [sub] = await readdir(repoDir);
    const [file] = await readdir(join(repoDir, sub!));
    await rename(join(repoDir, sub!, file!), join(repoDir, sub!, 'docker#worker.pub'));
    const policy = join(lab.dir, 'policy.yml');
    await writeFile(
      policy,
      (await readFile(policy, 'utf8')).replace(
        'ed25519Keys: ed25519-keys.json',
        'ed25519Keys: "keys#1.json"',
      ),
    );
    const loaded = await loadPolicy(policy);
    const files = (summaryPolicy(loaded).annotations!.files as { name: string; sha256: string }[]).map(
      (f) => f.name,
    );
    expect(files).toContain('keys#1.json');
    expect(files).toContain(`key-repo/docker-worker/${sub}/docker#worker.pub`);
    for (const name of files) await expect(stat(join(lab.dir, name))).resolves.toBeTruthy();
    const inputs = policyInputs(policy, loaded).map((p) => p.path);
    expect(inputs).toContain(join(lab.dir, 'keys#1.json'));
    expect(inputs).toContain(join(repoDir, sub!, 'docker#worker.pub'));
  });
});

describe('buildProvenance: the source dependency is hg or git as the rebuild read the repository', () => {
  it('only a github.com repository is git (gitCommit); any other host is hg, even one whose name holds "github.com"', async () => {
    const lab = await buildDemoLab({ dir: join(d, 'tree'), now: NOW, tree: true });
    const report = await verify(lab.dir, lab.taskId);
    expect(report.ok).toBe(true);
    const withRepository = (repository: string, tasksFor: string): ChainReport => ({
      ...report,
      links: report.links.map((l) =>
        l.tree?.rebuild
          ? { ...l, tree: { ...l.tree, rebuild: { ...l.tree.rebuild, repository, tasksFor } } }
          : l,
      ),
    });
    const source = (r: ChainReport) =>
      (
        buildProvenance(r).predicate as {
          buildDefinition: { resolvedDependencies: { name: string; uri: string; digest?: object }[] };
        }
      ).buildDefinition.resolvedDependencies.find((x) => x.name === 'source')!;
    for (const repository of [
      'https://hg.github.community.example/releases',
      'https://hg.example.com/mirrors/github.com/releases',
    ]) {
      const s = source(withRepository(repository, 'hg-push'));
      expect(s.uri).toBe(`hg+${repository}@${DEMO_REVISION}`);
      expect(s).not.toHaveProperty('digest');
    }
    const gh = source(withRepository('https://github.com/mozilla-mobile/fenix', 'cron'));
    expect(gh.uri).toBe(`git+https://github.com/mozilla-mobile/fenix@${DEMO_REVISION}`);
    expect(gh.digest).toEqual({ gitCommit: DEMO_REVISION });
  });
});

describe('DSSE envelopes: bounded work before any signature verifies', () => {
  it(`more than ${MAX_ENVELOPE_SIGNATURES} signatures: ATTESTATION_INVALID at once (each would hash the whole payload again)`, async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const payload = Buffer.alloc(4 << 20, 0x20);
    const genuine = signEnvelope(payload, IN_TOTO_PAYLOAD_TYPE, privateKey);
    const junk = { keyid: '', sig: Buffer.alloc(64, 1).toString('base64') };
    const many = {
      ...genuine,
      signatures: [...Array.from({ length: MAX_ENVELOPE_SIGNATURES }, () => junk), genuine.signatures[0]!],
    };
    const started = Date.now();
    expect(await codeOf(() => envelopeFromJson(many as unknown as JsonValue, 'many'))).toBe(
      'ATTESTATION_INVALID',
    );
    expect(Date.now() - started).toBeLessThan(1000);
    // up to the bound, every signature is still tried: the genuine one last verifies
    const bounded = {
      ...genuine,
      signatures: [
        ...Array.from({ length: MAX_ENVELOPE_SIGNATURES - 1 }, () => junk),
        genuine.signatures[0]!,
      ],
    };
    const env = envelopeFromJson(bounded as unknown as JsonValue, 'bounded');
    expect(verifyEnvelope(env, [publicKey], 'bounded').payload.equals(payload)).toBe(true);
  });
});

describe('Sigstore bundles with a timestamp: refused, never a crash', () => {
  it('an RFC 3161 timestamp (well formed or not) cannot be checked offline with a key: ATTESTATION_INVALID', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signed = signStatement(buildProvenance(good.report), privateKey);
    for (const signedTimestamp of ['AAAA', randomBytes(300).toString('base64')]) {
      const bundle = structuredClone(signed.bundle) as { verificationMaterial: Record<string, unknown> };
      bundle.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp }] };
      const e = await errorOf(
        (async () =>
          verifyAttestation(Buffer.from(JSON.stringify(bundle)), { keys: [publicKey], source: 'tsa' }))(),
      );
      expect(e.code).toBe('ATTESTATION_INVALID');
      expect(e.message).toMatch(/timestamp/);
    }
  });
});

describe('Sigstore bundles that set two members of one oneof: ATTESTATION_INVALID, never one of them ignored', () => {
  it('a certificate or a certificate chain beside the public key, a message signature beside the envelope', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signed = signStatement(buildProvenance(good.report), privateKey);
    type Bundle = { verificationMaterial: Record<string, unknown> } & Record<string, unknown>;
    const edits: [string, (b: Bundle) => void][] = [
      ['certificate', (b) => (b.verificationMaterial.certificate = { rawBytes: 'AAAA' })],
      ['x509CertificateChain', (b) => (b.verificationMaterial.x509CertificateChain = { certificates: [] })],
      [
        'messageSignature',
        (b) =>
          (b.messageSignature = {
            messageDigest: { algorithm: 'SHA2_256', digest: randomBytes(32).toString('base64') },
            signature: 'AAAA',
          }),
      ],
    ];
    // the bundle as written is accepted
    expect(verifyAttestation(Buffer.from(JSON.stringify(signed.bundle)), { keys: [publicKey] }).format).toBe(
      'sigstore-bundle',
    );
    for (const [what, edit] of edits) {
      const bundle = structuredClone(signed.bundle) as Bundle;
      edit(bundle);
      const e = await errorOf(
        (async () =>
          verifyAttestation(Buffer.from(JSON.stringify(bundle)), { keys: [publicKey], source: what }))(),
      );
      expect(e.code, what).toBe('ATTESTATION_INVALID');
      expect(e.message, what).toContain(what);
    }
  });
});
