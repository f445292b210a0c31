/**
 * Issue 14 review: attestations of a chain read from a live queue whose root URL comes from the environment
 * (TASKCLUSTER_ROOT_URL, the documented default of --root-url) name that deployment as --root-url does; a task's
 * proxy (TASKCLUSTER_PROXY_URL alone) is no address for others, and is never named.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startQueueServer } from '../../src/queue.js';
import { buildTestChain, type TestChain } from '../helpers/chain.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-30T12:00:00Z');
const ENV = ['TASKCLUSTER_ROOT_URL', 'TASKCLUSTER_PROXY_URL'] as const;
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));

let d: string;
let demo: TestChain;
let server: Awaited<ReturnType<typeof startQueueServer>>;
let key: string;

// biome-ignore lint/suspicious/noExplicitAny: a parsed statement; the assertions check its shape
async function predicateOf(file: string): Promise<Record<string, any>> {
  const env = JSON.parse(await readFile(file, 'utf8')) as { payload: string };
  return JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')).predicate;
}

beforeAll(async () => {
  d = await tempDir('cot-attest-review-online-');
  demo = await buildTestChain(join(d, 'demo'), NOW);
  server = await startQueueServer({ dir: join(demo.dir, 'queue') });
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  key = join(d, 'verifier.key');
  await writeFile(key, der.subarray(der.length - 32).toString('base64'), { mode: 0o600 });
});

afterEach(() => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

afterAll(async () => {
  await server?.close();
});

async function attestBoth(tag: string): Promise<{ provenance: string; summary: string }> {
  const out = join(d, tag);
  const policy = join(demo.dir, 'policy.yml');
  const p = await runCli(
    NOW,
    'attest',
    'provenance',
    demo.taskId,
    '--policy',
    policy,
    '--key',
    key,
    '--out',
    out,
  );
  expect(p.code, p.err).toBe(0);
  const summary = join(d, `${tag}-vsa.intoto.json`);
  const v = await runCli(
    NOW,
    'verify',
    demo.taskId,
    '--policy',
    policy,
    '--attest',
    summary,
    '--attest-key',
    key,
  );
  expect(v.code, v.err).toBe(0);
  return { provenance: join(out, `${demo.taskId}.provenance.intoto.json`), summary };
}

describe('the root URL from the environment', () => {
  it('TASKCLUSTER_ROOT_URL: the provenance and the summary name the deployment as with --root-url', async () => {
    delete process.env.TASKCLUSTER_PROXY_URL;
    process.env.TASKCLUSTER_ROOT_URL = server.rootUrl;
    const { provenance, summary } = await attestBoth('env-root');
    const p = await predicateOf(provenance);
    expect(p.buildDefinition.internalParameters.rootUrl).toBe(server.rootUrl);
    expect(p.runDetails.byproducts[0].uri).toMatch(
      new RegExp(`^${server.rootUrl}/api/queue/v1/task/${demo.taskId}/runs/0/artifacts/`),
    );
    expect((await predicateOf(summary)).resourceUri).toBe(`${server.rootUrl}/tasks/${demo.taskId}`);
  });

  it('TASKCLUSTER_PROXY_URL alone: the chain is read through it, and no URI names it', async () => {
    delete process.env.TASKCLUSTER_ROOT_URL;
    process.env.TASKCLUSTER_PROXY_URL = server.rootUrl;
    const { provenance, summary } = await attestBoth('env-proxy');
    const p = await predicateOf(provenance);
    expect(p.buildDefinition.internalParameters).not.toHaveProperty('rootUrl');
    expect(JSON.stringify(p)).not.toContain(server.rootUrl);
    expect((await predicateOf(summary)).resourceUri).toBe(`urn:taskcluster:task:${demo.taskId}`);
  });
});
