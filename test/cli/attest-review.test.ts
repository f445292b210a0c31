import { chmod, copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTestChain, labFrom, provenanceArgs, type TestChain, verifyArgs } from '../helpers/chain.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/env.js';
import { schemaProblems } from '../helpers/schemas.js';

// Attestations used as a new user would (issue 14 review): output paths, key mix-ups and --json results that the
// first tests of attest provenance and verify --attest did not cover.

const NOW = new Date('2026-11-25T12:00:00Z');
const cot = (...args: string[]) => runCli(NOW, ...args);

let d: string;
let good: TestChain;
let vKey: string;

beforeAll(async () => {
  d = await tempDir('cot-attest-review-');
  good = await buildTestChain(join(d, 'good'), NOW);
  expect(good.report.ok).toBe(true);
  vKey = join(d, 'verifier.key');
  const k = await cot('keys', 'new', '--type', 'ed25519', '--out', vKey);
  expect(k.code, k.err).toBe(0);
});

describe('attest provenance: the Sigstore bundle is an output like the envelope', () => {
  it('--key at the bundle path in --out: USAGE (exit 2), the key kept, nothing written', async () => {
    const out = join(d, 'bundle-over-key');
    await mkdir(out);
    const key = join(out, `${good.taskId}.provenance.sigstore.json`);
    await copyFile(vKey, key);
    await chmod(key, 0o600);
    const before = await readFile(key);
    const r = await cot(...provenanceArgs(good, key, out));
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/^cot: USAGE: the Sigstore bundle .* and --key .* are the same file/);
    expect(await readFile(key)).toEqual(before);
    expect(await readdir(out)).toEqual([`${good.taskId}.provenance.sigstore.json`]);
  });
});

describe('attestation keys', () => {
  it('an OpenPGP key is refused with the option that makes an ed25519 key (keys new --type ed25519)', async () => {
    const r = await cot(...provenanceArgs(good, join(good.dir, 'keys/docker-worker.key'), join(d, 'pgp')));
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/^cot: ATTEST_KEY_REFUSED: .*is an OpenPGP key/);
    expect(r.err).toContain('cot keys new --type ed25519');
    expect(r.err).not.toContain('--format');
  });

  it('verify --attest-key readable by others: refused, and --allow-insecure-key-permissions (as the error says) accepts it', async () => {
    const loose = join(d, 'loose.key');
    await copyFile(vKey, loose);
    await chmod(loose, 0o644);
    const env = join(d, 'loose-vsa.intoto.json');
    const r = await cot(...verifyArgs(good, '--attest', env, '--attest-key', loose));
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/^cot: KEY_INSECURE_PERMISSIONS: .*--allow-insecure-key-permissions/);
    const ok = await cot(
      ...verifyArgs(good, '--attest', env, '--attest-key', loose, '--allow-insecure-key-permissions'),
    );
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/^verification summary \(PASSED\): /m);
  });
});

describe('verify --attest --json: ok agrees with the exit code', () => {
  it('a chain that verifies but has no subject to name: ok false, error ATTEST_NO_SUBJECT, exit 2', async () => {
    const lab = await labFrom(good, d, 'json-no-subject', NOW);
    const policy = join(lab.dir, 'policy.yml');
    await writeFile(policy, `${await readFile(policy, 'utf8')}\nverifyRootTask: false\n`);
    const root = good.report.links.find(
      (l) => !l.decision && !l.consumed?.length && !l.image?.verified,
    )!.taskId;
    const r = await cot(
      'verify',
      root,
      '--queue',
      join(lab.dir, 'queue'),
      '--policy',
      policy,
      '--attest',
      join(d, 'json-none.intoto.json'),
      '--attest-key',
      vKey,
      '--json',
    );
    expect(r.code, r.err).toBe(2);
    const j = JSON.parse(r.out);
    expect(j.ok).toBe(false);
    expect(j.error).toMatchObject({ code: 'ATTEST_NO_SUBJECT' });
    expect(j.attestationError).toMatchObject({ code: 'ATTEST_NO_SUBJECT' });
    expect(j.errors).toEqual([]);
    expect(schemaProblems('chain-report', j)).toEqual([]);
  });
});
