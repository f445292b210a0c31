/**
 * Issue 14: attestations of a chain read from a live queue (`cot queue serve`, the real taskcluster-client), with
 * `--root-url`: the provenance's times come from the queue's status of the run, its URIs are the queue's own
 * (fetching each one returns bytes with the digest the statement gives), and the verification summary's resource
 * is the task's page under the root URL.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQueueServer } from '../../src/queue.js';
import { buildTestChain, type Lab, labFrom, putStatus } from '../helpers/chain.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-30T12:00:00Z');
const STARTED = '2026-11-30T10:01:02.345Z';
const RESOLVED = '2026-11-30T10:09:08.765Z';

let d: string;
let lab: Lab;
let server: Awaited<ReturnType<typeof startQueueServer>>;
let key: string;

type Statement = {
  subject: { name: string; digest: { sha256: string } }[];
  // biome-ignore lint/suspicious/noExplicitAny: a parsed statement; the assertions check its shape
  predicate: Record<string, any>;
};

async function statementOf(file: string): Promise<Statement> {
  const env = JSON.parse(await readFile(file, 'utf8')) as { payload: string };
  return JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as Statement;
}

async function sha256Of(url: string): Promise<string> {
  const r = await fetch(url);
  expect(r.status, url).toBe(200);
  return createHash('sha256')
    .update(Buffer.from(await r.arrayBuffer()))
    .digest('hex');
}

beforeAll(async () => {
  d = await tempDir('cot-attest-online-');
  const demo = await buildTestChain(join(d, 'demo'), NOW);
  lab = await labFrom(demo, d, 'lab', NOW);
  await putStatus(lab, demo.taskId, [
    { runId: 0, state: 'completed', reasonCreated: 'scheduled', started: STARTED, resolved: RESOLVED },
  ]);
  server = await startQueueServer({ dir: join(lab.dir, 'queue') });
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  key = join(d, 'verifier.key');
  await writeFile(key, der.subarray(der.length - 32).toString('base64'), { mode: 0o600 });
});

afterAll(async () => {
  await server?.close();
});

describe('attestations of a chain read through --root-url', () => {
  it('provenance: run times from the queue status, queue URIs whose bytes match their digests', async () => {
    const out = join(d, 'out');
    const taskId = lab.demo.taskId;
    const r = await runCli(
      NOW,
      'attest',
      'provenance',
      taskId,
      '--root-url',
      server.rootUrl,
      '--policy',
      join(lab.dir, 'policy.yml'),
      '--key',
      key,
      '--out',
      out,
    );
    expect(r.code, r.err + r.out).toBe(0);
    const st = await statementOf(join(out, `${taskId}.provenance.intoto.json`));
    const { buildDefinition, runDetails } = st.predicate;
    expect(runDetails.metadata).toEqual({
      invocationId: `${taskId}/0`,
      startedOn: STARTED,
      finishedOn: RESOLVED,
    });
    expect(buildDefinition.internalParameters.rootUrl).toBe(server.rootUrl.replace(/\/+$/, ''));
    const deps = (
      buildDefinition.resolvedDependencies as { uri?: string; digest?: { sha256?: string } }[]
    ).filter((x) => x.uri?.startsWith('http'));
    expect(deps.length).toBeGreaterThan(0);
    for (const dep of [...deps, ...runDetails.byproducts]) {
      expect(dep.uri).toMatch(
        new RegExp(
          `^${server.rootUrl.replace(/\/+$/, '')}/api/queue/v1/task/[\\w-]{22}/runs/0/artifacts/public/`,
        ),
      );
      expect(await sha256Of(dep.uri)).toBe(dep.digest.sha256);
    }
  });

  it('verification summary: the resource is the task page under the root URL, inputs are the queue URLs', async () => {
    const file = join(d, 'vsa.intoto.json');
    const taskId = lab.demo.taskId;
    const r = await runCli(
      NOW,
      'verify',
      taskId,
      '--root-url',
      server.rootUrl,
      '--policy',
      join(lab.dir, 'policy.yml'),
      '--attest',
      file,
      '--attest-key',
      key,
    );
    expect(r.code, r.err).toBe(0);
    const st = await statementOf(file);
    expect(st.predicate.resourceUri).toBe(`${server.rootUrl.replace(/\/+$/, '')}/tasks/${taskId}`);
    expect(st.predicate.timeVerified).toBe(NOW.toISOString());
    const inputs = st.predicate.inputAttestations as { uri: string; digest: { sha256: string } }[];
    expect(inputs.length).toBe(lab.demo.report.links.length);
    for (const input of inputs) expect(await sha256Of(input.uri)).toBe(input.digest.sha256);
  });
});
