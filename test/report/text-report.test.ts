import { cp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChainReport, loadPolicy, renderChainText, verifyChain } from '../../src/index.js';
import { DirectoryQueue, startQueueServer, TaskclusterQueue, type TaskQueue } from '../../src/queue.js';
import { buildTestChain, type TestChain } from '../helpers/chain.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const SLUGID = /[A-Za-z0-9_-]{8}[Q-T][A-Za-z0-9_-][CGKOSWaeimquy26-][A-Za-z0-9_-]{10}[AQgw]/g;

let demo: TestChain;
let d: string;
let broken: string;
let server: Awaited<ReturnType<typeof startQueueServer>>;

beforeAll(async () => {
  d = await tempDir();
  demo = await buildTestChain(join(d, 'demo'), NOW);
  // a chain broken three ways: a task the queue does not have (the docker-image task), a consumed artifact
  // missing, another changed after signing
  broken = join(d, 'broken');
  await cp(demo.dir, broken, { recursive: true });
  const q = new DirectoryQueue(join(broken, 'queue'));
  await rm(q.taskDir(demo.tasks['docker-image']!), { recursive: true });
  await rm(q.artifactPath(demo.tasks['build-win64']!, 0, 'public/build/target.zip'));
  await writeFile(q.artifactPath(demo.tasks['build-linux64']!, 0, 'public/build/target.tar.gz'), 'changed');
  server = await startQueueServer({ dir: join(broken, 'queue') });
});
afterAll(async () => {
  await server?.close();
});

async function verify(dir: string, queue: TaskQueue, root = demo.taskId): Promise<ChainReport> {
  const loaded = await loadPolicy(join(dir, 'policy.yml'));
  return verifyChain(queue, root, { policy: loaded.policy, trust: loaded.trust, at: NOW });
}

/**
 * Every message names each task once: no "task X: task X not found", no artifact named twice by two layers. URLs
 * (which hold ids) and what a server answered (quoted after `HTTP <status>:`) are not cot's words and do not count.
 */
function repeatedSubjects(r: ChainReport): string[] {
  const out: string[] = [];
  for (const e of r.errors) {
    if (e.code === 'CHAIN_CYCLE') continue; // a cycle names its first task again, by design
    const words = e.message.replace(/HTTP \d{3}: .*$/, '').replace(/https?:\/\/\S+/g, 'URL');
    const ids: string[] = [...(words.match(SLUGID) ?? [])];
    const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (twice.length > 0) out.push(`${e.code}: ${e.message}`);
  }
  return out;
}

describe('the words of the reports', () => {
  it('no message names its task twice (directory store, and the Taskcluster client against cot queue serve)', async () => {
    for (const queue of [
      new DirectoryQueue(join(broken, 'queue')),
      new TaskclusterQueue({ rootUrl: server.rootUrl, retries: 0 }),
    ]) {
      const r = await verify(broken, queue);
      expect(r.ok).toBe(false);
      const codes = r.errors.map((e) => e.code);
      expect(codes).toEqual(expect.arrayContaining(['QUEUE_NOT_FOUND', 'ARTIFACT_MISSING', 'HASH_MISMATCH']));
      expect(repeatedSubjects(r), queue.description).toEqual([]);
      const text = renderChainText(r);
      expect(text).not.toMatch(/task ([\w-]{22}): task \1/);
      // a task whose definition could not be fetched says so, rather than an empty worker type
      expect(text).toMatch(new RegExp(`FAIL ${demo.tasks['docker-image']} .*no definition`));
    }
  });

  it('the consumer of a changed artifact is named once, with the producer, the artifact and its run', async () => {
    const r = await verify(broken, new DirectoryQueue(join(broken, 'queue')));
    const e = r.errors.find((x) => x.code === 'HASH_MISMATCH')!;
    expect(e.message).toMatch(
      new RegExp(
        `public/build/target\\.tar\\.gz of task ${demo.tasks['build-linux64']} run 0: sha256 is [0-9a-f]{64}, the signed document lists [0-9a-f]{64} \\(consumed by task ${demo.tasks.signing}\\)`,
      ),
    );
    // recorded on the consumer, with the producer named: the text report marks the producer under its own line
    expect(e).toMatchObject({
      taskId: demo.tasks.signing,
      producer: demo.tasks['build-linux64'],
      artifact: 'public/build/target.tar.gz',
    });
    const lines = renderChainText(r).split('\n');
    const producerLine = lines.findIndex(
      (l) => new RegExp(`(ok  |FAIL) ${demo.tasks['build-linux64']} `).test(l) && !l.includes('(see above)'),
    );
    expect(producerLine).toBeGreaterThan(0);
    const mark = lines.findIndex((l, i) => i > producerLine && /^\W*! produced /.test(l));
    expect(lines[mark]).toContain(
      `! produced public/build/target.tar.gz, which failed a check of task ${demo.tasks.signing}: HASH_MISMATCH`,
    );
    expect(lines.slice(producerLine + 1, mark).some((l) => /(ok {2}|FAIL) \S{22} /.test(l))).toBe(false);
  });

  it('one name per role: the report speaks of tasks, never links or nodes', async () => {
    const r = await verify(broken, new DirectoryQueue(join(broken, 'queue')));
    const text = renderChainText(r);
    expect(text).not.toMatch(/\blinks?\b|\bnodes?\b/i);
    expect(text).toMatch(/^NOT VERIFIED: 6 tasks, 3 failed/m);
    const cli = await runCli(
      NOW,
      'verify',
      demo.taskId,
      '--queue',
      join(broken, 'queue'),
      '--policy',
      join(broken, 'policy.yml'),
    );
    expect(cli.code).toBe(1);
    expect(`${cli.out}${cli.err}`).not.toMatch(/\blinks?\b|\bnodes?\b/i);
  });

  it('the bytes are said for what they were: artifacts hashed, documents and task graphs read', async () => {
    // the Linux build consumes no artifact: only documents and its decision task's task graph are read
    const r = await verify(
      demo.dir,
      new DirectoryQueue(join(demo.dir, 'queue')),
      demo.tasks['build-linux64'],
    );
    expect(r.ok).toBe(true);
    expect(r.stats).toMatchObject({ artifactsChecked: 0, bytesHashed: 0, taskGraphsRead: 1 });
    expect(r.stats.documentsRead).toBe(r.links.length);
    expect(r.stats.documentBytes).toBeGreaterThan(0);
    const summary = renderChainText(r).trim().split('\n').at(-1)!;
    expect(summary).not.toMatch(/0 artifacts? hash-checked \(\d+/);
    expect(summary).toMatch(
      /no artifact hash-checked; 3 chain-of-trust documents and 1 task graph read \([\d.]+ kB\)/,
    );
    // the whole demo: artifacts hashed with their own bytes, documents apart
    const all = await verify(demo.dir, new DirectoryQueue(join(demo.dir, 'queue')));
    expect(renderChainText(all)).toMatch(
      /^VERIFIED: 6 tasks, 0 failed; 5 artifacts hash-checked \([\d.]+ MB\); 6 chain-of-trust documents and 1 task graph read \([\d.]+ kB\)/m,
    );
  });
});
