import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateArgs, runCli } from '../helpers/cli.js';
import { sampleTask, tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const cot = (...args: string[]) => runCli(NOW, ...args);

let d: string;
beforeAll(async () => {
  d = await tempDir();
  await writeFile(join(d, 'task.json'), JSON.stringify(sampleTask()));
  await cot('keys', 'new', '--type', 'ed25519', '--out', join(d, 'ed.key'), '--pub-out', join(d, 'ed.pub'));
  await mkdir(join(d, 'art/public/build'), { recursive: true });
  await writeFile(join(d, 'art/public/build/target.checksums'), 'sums\n');
  await writeFile(join(d, 'art/public/build/target.tar.gz'), Buffer.alloc(100, 1));
  const g = await cot(
    ...generateArgs(join(d, 'task.json'), '--artifacts', join(d, 'art'), '--key', join(d, 'ed.key')),
  );
  expect(g.code, g.err).toBe(0);
});

describe('the tool says what to do about a folder it cannot use as given', () => {
  it('generate: chain-of-trust files left in the artifact folder by an earlier run, --out elsewhere', async () => {
    const g = await cot(
      ...generateArgs(
        join(d, 'task.json'),
        '--artifacts',
        join(d, 'art'),
        '--key',
        join(d, 'ed.key'),
        '--out',
        join(d, 'elsewhere'),
      ),
    );
    expect(g.code).toBe(4);
    expect(g.err.trim().split('\n')).toHaveLength(1);
    expect(g.err).toMatch(/^cot: ARTIFACT_RESERVED_NAME: /);
    // what it is, and the two ways out
    expect(g.err).toMatch(/public\/chain-of-trust\.json .*left .*earlier run/);
    expect(g.err).toMatch(/delete (it|them)/);
    expect(g.err).toMatch(/--out .*art\/public/);
    const j = await cot(
      ...generateArgs(
        join(d, 'task.json'),
        '--artifacts',
        join(d, 'art'),
        '--key',
        join(d, 'ed.key'),
        '--out',
        join(d, 'elsewhere'),
        '--json',
      ),
    );
    expect(JSON.parse(j.out).error).toMatchObject({
      code: 'ARTIFACT_RESERVED_NAME',
      leftovers: ['public/chain-of-trust.json', 'public/chain-of-trust.json.sig'],
    });
  });

  it('verify-link --artifacts skips the chain-of-trust files, and says so', async () => {
    const v = await cot(
      'verify-link',
      join(d, 'art/public/chain-of-trust.json'),
      '--key',
      join(d, 'ed.pub'),
      '--artifacts',
      join(d, 'art'),
      '--json',
    );
    expect(v.code, v.out).toBe(0);
    expect(JSON.parse(v.out).skipped).toEqual([
      'public/chain-of-trust.json',
      'public/chain-of-trust.json.sig',
    ]);
  });

  it('verify-link --artifacts one level too deep: the chain-of-trust files skipped, and the names the document lists', async () => {
    const v = await cot(
      'verify-link',
      join(d, 'art/public/chain-of-trust.json'),
      '--key',
      join(d, 'ed.pub'),
      '--artifacts',
      join(d, 'art/public'),
    );
    expect(v.code).toBe(1);
    expect(v.err.trim().split('\n')).toHaveLength(1);
    expect(v.err).toMatch(/^cot: ARTIFACT_NOT_LISTED: /);
    expect(v.err).not.toMatch(/artifact chain-of-trust\.json/);
    expect(v.err).toMatch(/the document lists public\/build\/target\.checksums/);
    expect(v.err).toMatch(/one level too deep/);
    const j = await cot(
      'verify-link',
      join(d, 'art/public/chain-of-trust.json'),
      '--key',
      join(d, 'ed.pub'),
      '--artifacts',
      join(d, 'art/public'),
      '--json',
    );
    expect(JSON.parse(j.out).error).toMatchObject({ code: 'ARTIFACT_NOT_LISTED', missingPrefix: 'public/' });
  });

  it('one artifact given under a shorter name than the document lists: that name is suggested', async () => {
    const v = await cot(
      'verify-link',
      join(d, 'art/public/chain-of-trust.json'),
      '--key',
      join(d, 'ed.pub'),
      '--artifact',
      `build/target.tar.gz=${join(d, 'art/public/build/target.tar.gz')}`,
    );
    expect(v.code).toBe(1);
    expect(v.err).toMatch(
      /artifact build\/target\.tar\.gz is not listed .*the document lists public\/build\/target\.tar\.gz/,
    );
  });
});

describe('generate warns, and the library returns its warnings (never prints them)', () => {
  const gen = (...extra: string[]) =>
    cot(
      ...generateArgs(
        join(d, 'task.json'),
        '--artifacts',
        join(d, 'art'),
        '--key',
        join(d, 'ed.key'),
        ...extra,
      ),
    );

  it("--worker-type that differs from the task's workerType: signed, with a warning on stderr and in --json", async () => {
    const g = await gen('--worker-type', 'b-win2022');
    expect(g.code).toBe(0);
    expect(g.err).toMatch(
      /^cot: warning: the worker type given \(b-win2022\) differs from the task's workerType b-linux \(proj-releng\/b-linux\)/m,
    );
    const j = await gen('--worker-type', 'b-win2022', '--json');
    expect(j.code).toBe(0);
    expect(j.err).toBe('');
    expect(JSON.parse(j.out).warnings).toEqual([
      expect.objectContaining({
        kind: 'worker-type-mismatch',
        message: expect.stringContaining('b-win2022'),
      }),
    ]);
  });

  it('the same worker type, bare or with its provisioner: no warning', async () => {
    for (const wt of ['b-linux', 'proj-releng/b-linux']) {
      const j = await gen('--worker-type', wt, '--json');
      expect(j.code).toBe(0);
      expect(JSON.parse(j.out).warnings).toEqual([]);
      const t = await gen('--worker-type', wt);
      expect(t.err).toBe('');
    }
  });

  it('the library: generateChainOfTrust returns the warning', async () => {
    const { generateChainOfTrust, loadSigningKey } = await import('../../src/index.js');
    const r = await generateChainOfTrust({
      task: sampleTask() as never,
      taskId: 'LnshJjNXTfeBlPNrAzyy9w',
      runId: 0,
      workerGroup: 'g',
      workerId: 'w',
      workerType: 'other',
      artifactDir: join(d, 'art'),
      keys: [await loadSigningKey(join(d, 'ed.key'))],
      format: 'ed25519',
      outDir: join(d, 'art/public'),
      now: NOW,
    });
    expect(r.warnings.map((w) => w.kind)).toEqual(['worker-type-mismatch']);
  });

  it('--artifacts given as the public/ folder itself: its chain-of-trust files would be listed, with a warning', async () => {
    const g = await cot(
      ...generateArgs(
        join(d, 'task.json'),
        '--artifacts',
        join(d, 'art/public'),
        '--key',
        join(d, 'ed.key'),
        '--out',
        join(d, 'out-deep'),
        '--json',
      ),
    );
    expect(g.code, g.out).toBe(0);
    expect(JSON.parse(g.out).warnings).toEqual([
      expect.objectContaining({
        kind: 'artifact-folder-too-deep',
        message: expect.stringMatching(/chain-of-trust\.json.*one level too deep/),
      }),
    ]);
  });
});
