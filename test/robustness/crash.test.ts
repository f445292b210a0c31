import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, loadVerificationKeys, verifyLink } from '../../src/index.js';
import { generateArgs } from '../helpers/cli.js';
import { REPO, sampleTask, tempDir } from '../helpers/env.js';

const COT_FILES = ['chain-of-trust.json', 'chain-of-trust.json.sig', 'chainOfTrust.json.asc'];

function runBin(
  args: string[],
  killAfterMs?: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(REPO, 'bin/cot.js'), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (c: Buffer) => (stderr += c));
    if (killAfterMs !== undefined) setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    p.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

let d: string;
beforeAll(async () => {
  d = await tempDir();
  await generateKeyPair({
    type: 'ed25519',
    out: join(d, 'ed.key'),
    pubOut: join(d, 'ed.pub'),
    now: new Date(),
  });
  await generateKeyPair({
    type: 'openpgp',
    pgpAlgorithm: 'ed25519',
    out: join(d, 'pgp.key'),
    pubOut: join(d, 'pgp.pub'),
    now: new Date(Date.now() - 60_000),
  });
  await writeFile(join(d, 'task.json'), JSON.stringify(sampleTask()));
});

async function bigArtifacts(dir: string, mib: number): Promise<void> {
  await mkdir(join(dir, 'public/build'), { recursive: true });
  const chunk = randomBytes(1024 * 1024);
  for (let i = 0; i < 8; i++) {
    const parts = Array.from({ length: mib / 8 }, () => chunk);
    await writeFile(join(dir, `public/build/part-${i}.bin`), Buffer.concat(parts));
  }
}

/** Every chain-of-trust file at its destination is complete and verifies; none is partial or empty. */
async function assertNoPartialFiles(out: string): Promise<string[]> {
  const present = (await readdir(out).catch(() => [] as string[])).filter((n) => COT_FILES.includes(n));
  for (const n of present) expect((await stat(join(out, n))).size, n).toBeGreaterThan(0);
  const keys = await loadVerificationKeys([join(d, 'ed.pub'), join(d, 'pgp.pub')]);
  if (present.includes('chain-of-trust.json') || present.includes('chain-of-trust.json.sig')) {
    // the json and its signature are renamed one after the other: a kill between them may leave the json alone,
    // never a sig without its json, and whatever is there verifies
    if (present.includes('chain-of-trust.json.sig')) {
      await verifyLink({
        data: await readFile(join(out, 'chain-of-trust.json')),
        signature: await readFile(join(out, 'chain-of-trust.json.sig')),
        keys,
        at: new Date(),
      });
    }
  }
  if (present.includes('chainOfTrust.json.asc'))
    await verifyLink({ data: await readFile(join(out, 'chainOfTrust.json.asc')), keys, at: new Date() });
  return present;
}

describe('crash and concurrency tolerance (real processes)', () => {
  it('SIGKILL of `cot generate` at random moments never leaves a partial or empty document, and a re-run succeeds', async () => {
    const art = join(d, 'killed');
    await bigArtifacts(art, 256);
    const args = generateArgs(
      join(d, 'task.json'),
      '--artifacts',
      art,
      '--key',
      join(d, 'ed.key'),
      '--key',
      join(d, 'pgp.key'),
    );
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await runBin(args, 50 + Math.floor(Math.random() * 700));
      outcomes.push(r.signal ?? `exit ${r.code}`);
      await assertNoPartialFiles(join(art, 'public'));
    }
    const ok = await runBin(args);
    expect(ok.code, ok.stderr).toBe(0);
    const present = await assertNoPartialFiles(join(art, 'public'));
    expect(present.sort()).toEqual([...COT_FILES].sort());
    // the re-run listed no leftover temp file as an artifact
    const doc = JSON.parse(await readFile(join(art, 'public/chain-of-trust.json'), 'utf8'));
    expect(Object.keys(doc.artifacts).filter((n) => n.includes('.tmp'))).toEqual([]);
    expect((await readdir(join(art, 'public'))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(outcomes.length).toBe(8);
  });

  it('eight generators running at once in separate folders do not interfere', async () => {
    const runs = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const art = join(d, `parallel-${i}`);
        await mkdir(join(art, 'public'), { recursive: true });
        await writeFile(join(art, 'public/only-mine.txt'), `generator ${i}\n`);
        await writeFile(join(art, `public/data-${i}.bin`), randomBytes(2 * 1024 * 1024));
        const r = await runBin(
          generateArgs(join(d, 'task.json'), '--artifacts', art, '--key', join(d, 'ed.key')),
        );
        return { i, art, r };
      }),
    );
    const keys = await loadVerificationKeys([join(d, 'ed.pub')]);
    for (const { i, art, r } of runs) {
      expect(r.code, r.stderr).toBe(0);
      const v = await verifyLink({
        data: await readFile(join(art, 'public/chain-of-trust.json')),
        signature: await readFile(join(art, 'public/chain-of-trust.json.sig')),
        keys,
        at: new Date(),
      });
      expect(Object.keys(v.document.artifacts).sort()).toEqual([
        `public/data-${i}.bin`,
        'public/only-mine.txt',
      ]);
    }
  });
});
