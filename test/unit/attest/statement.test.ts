import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildProvenance,
  buildVerificationSummary,
  type InTotoStatement,
  type ResourceDescriptor,
  taskUri,
  VERIFIED_LEVEL,
} from '../../../src/attest/statement.js';
import { summaryPolicy } from '../../../src/cli/attest-io.js';
import { buildDemoLab } from '../../../src/demo/builder.js';
import { DEMO_REVISION } from '../../../src/demo/tree.js';
import { type ChainReport, type JsonObject, loadPolicy, verifyChain } from '../../../src/index.js';
import { parseCleartext } from '../../../src/pgp/cleartext.js';
import { DirectoryQueue } from '../../../src/queue.js';
import { validateStatement } from '../../helpers/attest-schemas.js';
import { buildTestChain, type Lab, labFrom, putStatus, type TestChain } from '../../helpers/chain.js';
import { codeOf, tempDir } from '../../helpers/env.js';

// buildProvenance and buildVerificationSummary on chains verifyChain checked: every field against what the store
// holds, read and hashed here without the verifier's help.

const NOW = new Date('2026-11-25T12:00:00Z');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

let d: string;
let good: TestChain;
let tampered: TestChain;

beforeAll(async () => {
  d = await tempDir('cot-statement-');
  good = await buildTestChain(join(d, 'good'), NOW);
  expect(good.report.ok).toBe(true);
  tampered = await buildTestChain(join(d, 'tampered'), NOW, { tamper: true });
  expect(tampered.report.ok).toBe(false);
});

/** verifyChain of `root` in a lab's store with its policy (optionally edited first) at NOW. */
async function verify(dir: string, root: string, policyEdit?: (p: string) => string): Promise<ChainReport> {
  const policy = join(dir, 'policy.yml');
  if (policyEdit) await writeFile(policy, policyEdit(await readFile(policy, 'utf8')));
  const loaded = await loadPolicy(policy);
  return verifyChain(new DirectoryQueue(join(dir, 'queue')), root, {
    policy: loaded.policy,
    trust: loaded.trust,
    at: NOW,
  });
}

/** The chain-of-trust file a run holds in the store (the .json a generic-worker signs, else the .asc) and its bytes. */
async function storedDocument(
  chain: TestChain,
  taskId: string,
): Promise<{ name: string; bytes: Buffer; doc: JsonObject }> {
  for (const name of ['public/chain-of-trust.json', 'public/chainOfTrust.json.asc']) {
    const bytes = await readFile(chain.queue.artifactPath(taskId, 0, name)).catch(() => undefined);
    if (!bytes) continue;
    const text = name.endsWith('.asc') ? parseCleartext(bytes.toString('utf8')).text : bytes.toString('utf8');
    return { name, bytes, doc: JSON.parse(text) as JsonObject };
  }
  throw new Error(`task ${taskId} has no chain-of-trust file`);
}

/** The artifacts a signed document lists, as {name: sha256}. */
const signedDigests = (doc: JsonObject) =>
  Object.fromEntries(
    Object.entries(doc.artifacts as Record<string, { sha256: string }>).map(([n, a]) => [n, a.sha256]),
  );

const predicate = (s: InTotoStatement) =>
  s.predicate as unknown as {
    buildDefinition: {
      buildType: string;
      externalParameters: { task: JsonObject; source: JsonObject };
      internalParameters: JsonObject;
      resolvedDependencies: ResourceDescriptor[];
    };
    runDetails: {
      builder: { id: string };
      metadata: { invocationId: string; startedOn?: string; finishedOn?: string };
      byproducts?: ResourceDescriptor[];
    };
  };

describe('buildProvenance', () => {
  it('the subjects are the root document’s artifacts: names and the sha256 of the bytes the worker signed', async () => {
    const root = good.taskId;
    const st = buildProvenance(good.report);
    expect(st._type).toBe('https://in-toto.io/Statement/v1');
    expect(st.predicateType).toBe('https://slsa.dev/provenance/v1');
    const { doc } = await storedDocument(good, root);
    const signed = signedDigests(doc);
    expect(st.subject).toEqual(
      Object.keys(signed)
        .sort()
        .map((name) => ({ name, digest: { sha256: signed[name] } })),
    );
    // and the artifact bytes in the store hash to them
    for (const s of st.subject)
      expect(sha256(await readFile(good.queue.artifactPath(root, 0, s.name!))), s.name).toBe(
        s.digest!.sha256,
      );
    // a root with several artifacts: the signing task (subjects sorted by name)
    const signingReport = await verify(good.dir, good.tasks.signing!);
    expect(signingReport.ok).toBe(true);
    const signing = buildProvenance(signingReport);
    const signingDoc = signedDigests((await storedDocument(good, good.tasks.signing!)).doc);
    expect(signing.subject.map((s) => s.name)).toEqual([
      'public/build/target.tar.gz',
      'public/build/target.zip',
    ]);
    expect(Object.keys(signingDoc).sort()).toEqual(signing.subject.map((s) => s.name));
    for (const s of signing.subject) expect(s.digest).toEqual({ sha256: signingDoc[s.name!] });
    // well formed by the published schemas (test/schemas)
    expect(validateStatement(JSON.parse(JSON.stringify(st)))).toEqual([]);
    expect(validateStatement(JSON.parse(JSON.stringify(signing)))).toEqual([]);
  });

  it('resolvedDependencies: exactly the artifacts the root consumed, with the digests their producer signed', async () => {
    const st = buildProvenance(good.report);
    const signing = good.tasks.signing!;
    // what the beetmover task's payload names (the demo graph), and what the signing task's document lists
    const task = (await good.queue.task(good.taskId)) as { payload: { upstreamArtifacts: JsonObject[] } };
    const consumed = task.payload.upstreamArtifacts.flatMap((u) =>
      (u.paths as string[]).map((p) => ({ taskId: u.taskId as string, name: p })),
    );
    expect(consumed.map((c) => c.taskId)).toEqual([signing, signing]);
    const producerDigests = signedDigests((await storedDocument(good, signing)).doc);
    expect(predicate(st).buildDefinition.resolvedDependencies).toEqual(
      consumed.map((c) => ({
        name: c.name,
        digest: { sha256: producerDigests[c.name] },
        annotations: { taskId: signing, runId: 0 },
      })),
    );
    // with the deployment's root URL each one names its queue URL
    const withUrl = buildProvenance(good.report, { rootUrl: 'https://tc.example.com/' });
    expect(predicate(withUrl).buildDefinition.resolvedDependencies.map((r) => r.uri)).toEqual(
      consumed.map((c) => `https://tc.example.com/api/queue/v1/task/${signing}/runs/0/artifacts/${c.name}`),
    );
    expect(predicate(withUrl).buildDefinition.internalParameters.rootUrl).toBe('https://tc.example.com');
  });

  it("a build on an in-graph docker image depends on that image, with the digest of the image task's document", async () => {
    const linux = good.tasks['build-linux64']!;
    const image = good.tasks['docker-image']!;
    const st = buildProvenance(await verify(good.dir, linux));
    const imageDigest = signedDigests((await storedDocument(good, image)).doc)['public/image.tar.zst'];
    expect(imageDigest).toBe(
      sha256(await readFile(good.queue.artifactPath(image, 0, 'public/image.tar.zst'))),
    );
    expect(predicate(st).buildDefinition.resolvedDependencies).toEqual([
      {
        name: 'public/image.tar.zst',
        digest: { sha256: imageDigest },
        annotations: { taskId: image, runId: 0, dockerImage: true },
      },
    ]);
    // a prebuilt image (the decision task's) is named with the imageHash its worker signed
    const decision = good.tasks.decision!;
    const dst = buildProvenance(await verify(good.dir, decision));
    const env = (await storedDocument(good, decision)).doc.environment as { imageHash: string };
    expect(predicate(dst).buildDefinition.resolvedDependencies).toEqual([
      expect.objectContaining({
        digest: { sha256: env.imageHash.replace(/^sha256:/, '') },
        annotations: expect.objectContaining({ dockerImage: true, type: 'prebuilt' }),
      }),
    ]);
  });

  it('invocationId is taskId/runId, the builder names implementation, provisionerId and workerType', () => {
    const st = predicate(buildProvenance(good.report));
    expect(st.runDetails.metadata.invocationId).toBe(`${good.taskId}/0`);
    expect(st.runDetails.builder.id).toBe(
      'https://cot.invalid/attestations/builder/scriptworker/scriptworker-k8s/beetmover-3',
    );
    expect(st.buildDefinition.buildType).toBe('https://cot.invalid/attestations/taskcluster-task/v1');
    expect(st.buildDefinition.internalParameters).toMatchObject({
      taskId: good.taskId,
      runId: 0,
      provisionerId: 'scriptworker-k8s',
      workerType: 'beetmover-3',
      workerGroup: 'scriptworker-k8s',
      workerId: 'scriptworker-1',
    });
  });

  it('byproducts: the chain-of-trust file verified, with the sha256 of its bytes as stored', async () => {
    const { name, bytes } = await storedDocument(good, good.taskId);
    expect(name).toBe('public/chainOfTrust.json.asc');
    const st = predicate(buildProvenance(good.report));
    expect(st.runDetails.byproducts).toEqual([
      {
        name,
        digest: { sha256: sha256(bytes) },
        annotations: { chainOfTrust: true, signatureKind: 'openpgp-cleartext' },
      },
    ]);
    // an ed25519 document (generic-worker): its .json, the file the signature covers
    const win = good.tasks['build-win64']!;
    const w = await storedDocument(good, win);
    expect(w.name).toBe('public/chain-of-trust.json');
    const ws = predicate(buildProvenance(await verify(good.dir, win)));
    expect(ws.runDetails.byproducts).toEqual([
      {
        name: w.name,
        digest: { sha256: sha256(w.bytes) },
        annotations: { chainOfTrust: true, signatureKind: 'ed25519' },
      },
    ]);
    expect(ws.runDetails.builder.id).toBe(
      'https://cot.invalid/attestations/builder/generic-worker/releng-3/b-win2022',
    );
  });

  it("startedOn and finishedOn are the run's started and resolved times from the queue's status, else absent", async () => {
    const plain = predicate(buildProvenance(good.report)).runDetails.metadata;
    expect(plain).not.toHaveProperty('startedOn');
    expect(plain).not.toHaveProperty('finishedOn');
    const lab: Lab = await labFrom(good, d, 'status', NOW);
    const started = '2026-11-25T11:30:00.000Z';
    const resolved = '2026-11-25T11:59:00.000Z';
    await putStatus(lab, good.taskId, [
      { runId: 0, state: 'completed', reasonCreated: 'scheduled', started, resolved },
    ]);
    const report = await verify(lab.dir, good.taskId);
    expect(report.ok).toBe(true);
    const m = predicate(buildProvenance(report)).runDetails.metadata;
    expect(m).toEqual({ invocationId: `${good.taskId}/0`, startedOn: started, finishedOn: resolved });
  });

  it('source not traced (a policy without a tree section): traced false and why, no revision anywhere', () => {
    const st = buildProvenance(good.report);
    const source = predicate(st).buildDefinition.externalParameters.source;
    expect(source.traced).toBe(false);
    expect(source.reason).toMatch(/not rebuilt from its tree/);
    expect(source).not.toHaveProperty('revision');
    const json = JSON.stringify(st);
    expect(json).not.toContain('"revision"');
    expect(json).not.toContain(DEMO_REVISION);
    expect(json).not.toContain('gitCommit');
    expect(predicate(st).buildDefinition.resolvedDependencies.map((r) => r.name)).not.toContain('source');
  });

  it('source traced (the demo with its tree): the repository and revision its decision task was rebuilt from', async () => {
    const lab = await buildDemoLab({ dir: join(d, 'tree'), now: NOW, tree: true });
    const report = await verify(lab.dir, lab.taskId);
    expect(report.ok).toBe(true);
    const st = buildProvenance(report);
    expect(predicate(st).buildDefinition.externalParameters.source).toEqual({
      traced: true,
      repository: 'https://hg.example.com/releases',
      revision: DEMO_REVISION,
      tasksFor: 'hg-push',
      parentTaskId: lab.tasks.decision,
    });
    const src = predicate(st).buildDefinition.resolvedDependencies.find((r) => r.name === 'source');
    expect(src).toEqual({
      name: 'source',
      uri: `hg+https://hg.example.com/releases@${DEMO_REVISION}`,
      annotations: {
        repository: 'https://hg.example.com/releases',
        revision: DEMO_REVISION,
        tasksFor: 'hg-push',
      },
    });
    expect(validateStatement(JSON.parse(JSON.stringify(st)))).toEqual([]);
  });

  it('refuses a chain that did not verify (CHAIN_VERIFICATION_FAILED) and one whose root document was waived (ATTEST_NO_SUBJECT)', async () => {
    expect(tampered.report.rootEvidence).toBeDefined();
    expect(await codeOf(() => buildProvenance(tampered.report))).toBe('CHAIN_VERIFICATION_FAILED');
    const { rootEvidence: _, ...withoutEvidence } = good.report;
    expect(await codeOf(() => buildProvenance(withoutEvidence))).toBe('ATTEST_NO_SUBJECT');
    const lab = await labFrom(good, d, 'waived', NOW);
    const waived = await verify(lab.dir, good.taskId, (p) => `${p}verifyRootTask: false\n`);
    expect(waived.ok).toBe(true);
    expect(waived.rootEvidence).toBeUndefined();
    expect(await codeOf(() => buildProvenance(waived))).toBe('ATTEST_NO_SUBJECT');
  });
});

describe('buildVerificationSummary', () => {
  const summary = async (chain: TestChain, report: ChainReport, rootUrl?: string) =>
    buildVerificationSummary(report, {
      verifier: { version: { cot: '0.1.0' } },
      policy: summaryPolicy(await loadPolicy(chain.policy)),
      ...(rootUrl ? { rootUrl } : {}),
    });
  const vsa = (s: InTotoStatement) =>
    s.predicate as unknown as {
      verifier: { id: string; version: Record<string, string> };
      timeVerified: string;
      resourceUri: string;
      policy: { name: string; uri: string; digest: { sha256: string }; annotations: { files: unknown[] } };
      inputAttestations: ResourceDescriptor[];
      verificationResult: string;
      verifiedLevels: string[];
    };

  /** One input attestation per task of the demo chain: its chain-of-trust file as stored, hashed here. */
  async function expectedInputs(chain: TestChain): Promise<ResourceDescriptor[]> {
    const ids = Object.values(chain.tasks).sort();
    return Promise.all(
      ids.map(async (id) => {
        const { name, bytes } = await storedDocument(chain, id);
        return { name: `${id}/${name}`, digest: { sha256: sha256(bytes) } };
      }),
    );
  }

  it('a chain that verified: PASSED with [SLSA_BUILD_LEVEL_2], the root artifacts, every document read', async () => {
    const st = await summary(good, good.report);
    expect(st.predicateType).toBe('https://slsa.dev/verification_summary/v1');
    const p = vsa(st);
    expect(p.verificationResult).toBe('PASSED');
    expect(p.verifiedLevels).toEqual([VERIFIED_LEVEL]);
    expect(VERIFIED_LEVEL).toBe('SLSA_BUILD_LEVEL_2');
    expect(st.subject).toEqual(buildProvenance(good.report).subject);
    expect(p.inputAttestations).toEqual(await expectedInputs(good));
    expect(p.inputAttestations).toHaveLength(6);
    expect(p.timeVerified).toBe(NOW.toISOString());
    expect(p.resourceUri).toBe(`urn:taskcluster:task:${good.taskId}`);
    expect(p.verifier).toEqual({
      id: 'https://cot.invalid/attestations/verifier/cot',
      version: { cot: '0.1.0' },
    });
    expect(validateStatement(JSON.parse(JSON.stringify(st)))).toEqual([]);
    // with the deployment's root URL: the task's page and each document's queue URL
    const online = vsa(await summary(good, good.report, 'https://tc.example.com/'));
    expect(online.resourceUri).toBe(`https://tc.example.com/tasks/${good.taskId}`);
    expect(online.resourceUri).toBe(taskUri('https://tc.example.com', good.taskId));
    for (const a of online.inputAttestations) {
      const [id, ...name] = a.name!.split('/');
      expect(a.uri).toBe(`https://tc.example.com/api/queue/v1/task/${id}/runs/0/artifacts/${name.join('/')}`);
    }
  });

  it('a tampered chain: FAILED, no level verified, every document that was read still listed', async () => {
    const st = await summary(tampered, tampered.report);
    const p = vsa(st);
    expect(p.verificationResult).toBe('FAILED');
    // SLSA VSA v1.0: verifiedLevels says FAILED when the verification failed, never a level
    expect(p.verifiedLevels).toEqual(['FAILED']);
    expect(p.verifiedLevels).not.toContain(VERIFIED_LEVEL);
    // one per link whose document verified, with the digest of the file in the store
    const withDocument = tampered.report.links.filter((l) => l.document).map((l) => l.taskId);
    expect(withDocument.sort()).toEqual(Object.values(tampered.tasks).sort());
    expect(p.inputAttestations).toEqual(await expectedInputs(tampered));
    expect(validateStatement(JSON.parse(JSON.stringify(st)))).toEqual([]);
  });

  it("the root's document waived (verifyRootTask: false): the subjects are the artifacts it consumed", async () => {
    const lab = await labFrom(good, d, 'waived-vsa', NOW);
    const report = await verify(lab.dir, good.taskId, (p) => `${p}verifyRootTask: false\n`);
    expect(report.ok).toBe(true);
    const policy = summaryPolicy(await loadPolicy(join(lab.dir, 'policy.yml')));
    // without rootDocumentWaived, a root without its own verified document has no subject: never its inputs
    expect(
      await codeOf(() =>
        buildVerificationSummary(report, { verifier: { version: { cot: '0.1.0' } }, policy }),
      ),
    ).toBe('ATTEST_NO_SUBJECT');
    const st = buildVerificationSummary(report, {
      verifier: { version: { cot: '0.1.0' } },
      policy,
      rootDocumentWaived: true,
    });
    const signing = good.tasks.signing!;
    const producer = signedDigests((await storedDocument(good, signing)).doc);
    expect(st.subject).toEqual(
      ['public/build/target.tar.gz', 'public/build/target.zip'].map((name) => ({
        name,
        digest: { sha256: producer[name] },
        annotations: { taskId: signing },
      })),
    );
    // the root's own document was not read: not an input
    expect(vsa(st).inputAttestations.map((a) => a.name!.split('/')[0])).not.toContain(good.taskId);
    expect(vsa(st).verificationResult).toBe('PASSED');
  });

  it('policy: one digest over the sha256sum lines of the policy and its trust files, recomputable', async () => {
    const lab = await labFrom(good, d, 'policy-digest', NOW);
    const policyPath = join(lab.dir, 'policy.yml');
    const policy = summaryPolicy(await loadPolicy(policyPath));
    // the trust files, listed here: the ed25519 key file and every key file of the key repository
    const repoFiles = (await readdir(join(lab.dir, 'key-repo'), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => relative(lab.dir, join(e.parentPath, e.name)));
    const trust = ['ed25519-keys.json', ...repoFiles].sort();
    expect(trust.length).toBeGreaterThan(3);
    // sha256sum prints `<hex>  <name>` per file: its output over the policy, then the sorted trust files, hashed
    const lines = execFileSync('sha256sum', ['policy.yml', ...trust], { cwd: lab.dir, env: { LC_ALL: 'C' } });
    expect(policy.digest.sha256).toBe(sha256(lines));
    expect(policy.name).toBe('policy.yml');
    expect(policy.uri).toBe(pathToFileURL(policyPath).href);
    expect(policy.annotations!.files).toEqual(
      lines
        .toString()
        .trim()
        .split('\n')
        .map((l) => {
          const [hex, name] = l.split('  ');
          return { name, sha256: hex };
        }),
    );
    // the summary carries it as its policy
    const st = buildVerificationSummary(good.report, { verifier: { version: { cot: '0' } }, policy });
    expect(vsa(st).policy).toEqual(policy);
    // a trust file changed (still valid) changes the digest; so does the policy file itself
    await appendFile(join(lab.dir, 'ed25519-keys.json'), '\n');
    const changedTrust = summaryPolicy(await loadPolicy(policyPath));
    expect(changedTrust.digest.sha256).not.toBe(policy.digest.sha256);
    expect(changedTrust.digest.sha256).toBe(
      sha256(execFileSync('sha256sum', ['policy.yml', ...trust], { cwd: lab.dir, env: { LC_ALL: 'C' } })),
    );
    await appendFile(policyPath, '# reviewed\n');
    const changedPolicy = summaryPolicy(await loadPolicy(policyPath));
    expect(changedPolicy.digest.sha256).not.toBe(changedTrust.digest.sha256);
  });
});
