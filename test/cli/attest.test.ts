import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTestChain, labFrom, provenanceArgs, type TestChain, verifyArgs } from '../helpers/chain.js';
import { runCli } from '../helpers/cli.js';
import { REPO, tempDir } from '../helpers/env.js';

// cot attest provenance, cot verify --attest, cot verify-attestation: what they write, what they refuse, and the
// exit codes (in-process through runCli, and the built bin/cot.js as a user runs it).

const NOW = new Date('2026-11-25T12:00:00Z');
const cot = (...args: string[]) => runCli(NOW, ...args);
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** The built CLI in its own process (dist/ must be built: npm run build). */
function bin(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/cot.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

let d: string;
let good: TestChain;
let tampered: TestChain;
/** the verifier's key pair (cot keys new) and another one */
let vKey: string;
let vPub: string;
let otherPub: string;

beforeAll(async () => {
  d = await tempDir('cot-attest-cli-');
  good = await buildTestChain(join(d, 'good'), NOW);
  tampered = await buildTestChain(join(d, 'tampered'), NOW, { tamper: true });
  expect(good.report.ok).toBe(true);
  expect(tampered.report.ok).toBe(false);
  vKey = join(d, 'verifier.key');
  vPub = join(d, 'verifier.pub');
  otherPub = join(d, 'other.pub');
  const k = await cot('keys', 'new', '--type', 'ed25519', '--out', vKey, '--pub-out', vPub);
  expect(k.code, k.err).toBe(0);
  const o = await cot(
    'keys',
    'new',
    '--type',
    'ed25519',
    '--out',
    join(d, 'other.key'),
    '--pub-out',
    otherPub,
  );
  expect(o.code, o.err).toBe(0);
});

const manifestOf = (c: TestChain) => c.queue.artifactPath(c.taskId, 0, 'public/manifest.json');

describe('cot attest provenance', () => {
  it('a chain that verifies: exactly the envelope and the bundle, which verify-attestation accepts with the real file', async () => {
    const out = join(d, 'prov-good');
    const r = await cot(...provenanceArgs(good, vKey, out));
    expect(r.code, r.err).toBe(0);
    const envelope = `${good.taskId}.provenance.intoto.json`;
    const bundle = `${good.taskId}.provenance.sigstore.json`;
    expect((await readdir(out)).sort()).toEqual([envelope, bundle].sort());
    expect(r.out).toContain(`provenance of task ${good.taskId}: 1 subject, source not traced`);
    const artifact = `public/manifest.json=${manifestOf(good)}`;
    for (const f of [envelope, bundle]) {
      const v = await cot('verify-attestation', join(out, f), '--key', vPub, '--artifact', artifact);
      expect(v.code, v.err).toBe(0);
      expect(v.out).toContain('predicate: https://slsa.dev/provenance/v1');
      expect(v.out).toContain(`invocation: ${good.taskId}/0`);
      expect(v.out).toMatch(/artifact public\/manifest\.json: matches its subject \(sha256 [0-9a-f]{64}\)/);
      expect(v.err).toBe('');
    }
    // a modified copy of the file: refused under the same name
    const copy = join(d, 'manifest-copy.json');
    await writeFile(copy, Buffer.concat([await readFile(manifestOf(good)), Buffer.from('\n')]));
    for (const f of [envelope, bundle]) {
      const v = await cot(
        'verify-attestation',
        join(out, f),
        '--key',
        vPub,
        '--artifact',
        `public/manifest.json=${copy}`,
      );
      expect(v.code).toBe(1);
      expect(v.err).toMatch(/^cot: ATTESTATION_SUBJECT_MISMATCH: .*public\/manifest\.json/);
    }
    // and an unmodified copy is accepted: the name and the bytes count, not the path
    const same = join(d, 'manifest-same.json');
    await copyFile(manifestOf(good), same);
    const ok = await cot(
      'verify-attestation',
      join(out, envelope),
      '--key',
      vPub,
      '--artifact',
      `public/manifest.json=${same}`,
    );
    expect(ok.code, ok.err).toBe(0);
  });

  it('--json: the chain report with the files written, the key id and the source', async () => {
    const out = join(d, 'prov-json');
    const r = await cot(...provenanceArgs(good, vKey, out, '--json'));
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ schemaVersion: 1, ok: true, root: good.taskId });
    expect(j.attestation).toMatchObject({
      envelope: join(out, `${good.taskId}.provenance.intoto.json`),
      bundle: join(out, `${good.taskId}.provenance.sigstore.json`),
      predicateType: 'https://slsa.dev/provenance/v1',
      subjects: 1,
      source: { traced: false },
    });
    expect(j.attestation.keyId).toMatch(/^SHA256:[0-9a-f]{64}$/);
    const envelope = JSON.parse(await readFile(j.attestation.envelope, 'utf8'));
    expect(envelope.signatures[0].keyid).toBe(j.attestation.keyId);
  });

  it('a chain that does not verify: exit 1 and nothing written, not even the --out folder', async () => {
    const out = join(d, 'prov-tampered');
    const r = await cot(...provenanceArgs(tampered, vKey, out));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^cot: CHAIN_VERIFICATION_FAILED: .*no provenance written/);
    expect(await exists(out)).toBe(false);
    // an existing --out folder stays empty
    const existing = join(d, 'prov-tampered-existing');
    await mkdir(existing);
    const again = await cot(...provenanceArgs(tampered, vKey, existing, '--json'));
    expect(again.code).toBe(1);
    expect(JSON.parse(again.out)).toMatchObject({ ok: false, error: { code: 'CHAIN_VERIFICATION_FAILED' } });
    expect(JSON.parse(again.out)).not.toHaveProperty('attestation');
    expect(await readdir(existing)).toEqual([]);
  });

  it('a worker key as --key: ATTEST_KEY_REFUSED (exit 4) before any verification', async () => {
    // the tampered chain: had it been verified, the exit would be 1 and its report printed
    for (const [key, reason] of [
      ['keys/generic-worker.key', /is a generic-worker worker key of the policy's trust store/],
      ['keys/docker-worker.key', /is an OpenPGP key/],
    ] as const) {
      const out = join(d, `prov-${key.replace(/\W/g, '-')}`);
      const r = await cot(...provenanceArgs(tampered, join(tampered.dir, key), out));
      expect(r.code, r.err).toBe(4);
      expect(r.err).toMatch(/^cot: ATTEST_KEY_REFUSED: /);
      expect(r.err).toMatch(reason);
      expect(r.out).toBe('');
      expect(await exists(out)).toBe(false);
    }
  });

  it('a public key as --key: KEY_INVALID; an --out that is a file: FILE_NOT_DIRECTORY', async () => {
    const out = join(d, 'prov-pub');
    const r = await cot(...provenanceArgs(good, vPub, out));
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/^cot: KEY_INVALID: .*is a public key/);
    expect(await exists(out)).toBe(false);
    const file = join(d, 'not-a-folder');
    await writeFile(file, 'keep me\n');
    const f = await cot(...provenanceArgs(good, vKey, file));
    expect(f.code).toBe(5);
    expect(f.err).toMatch(/^cot: FILE_NOT_DIRECTORY: --out .*not-a-folder is not a folder/);
    expect(await readFile(file, 'utf8')).toBe('keep me\n');
  });
});

describe('output paths that are folders are refused before any verification (FILE_IS_DIRECTORY, exit 5)', () => {
  // the tampered chain: had it been verified, the exit would be 1 and its report printed
  it('attest provenance: the envelope or the bundle path in --out is a folder', async () => {
    for (const suffix of ['intoto', 'sigstore']) {
      const out = join(d, `prov-folder-${suffix}`);
      await mkdir(join(out, `${tampered.taskId}.provenance.${suffix}.json`), { recursive: true });
      const r = await cot(...provenanceArgs(tampered, vKey, out));
      expect(r.code, r.err).toBe(5);
      expect(r.err).toMatch(
        new RegExp(`^cot: FILE_IS_DIRECTORY: .*provenance\\.${suffix}\\.json is a folder`),
      );
      expect(r.out).toBe('');
      expect(await readdir(out)).toEqual([`${tampered.taskId}.provenance.${suffix}.json`]);
    }
  });

  it('verify --attest: the envelope or the Sigstore bundle beside it is a folder', async () => {
    for (const suffix of ['intoto', 'sigstore']) {
      const dir = join(d, `vsa-folder-${suffix}`);
      await mkdir(join(dir, `vsa.${suffix}.json`), { recursive: true });
      const report = join(dir, 'report.html');
      const r = await cot(
        ...verifyArgs(
          tampered,
          '--attest',
          join(dir, 'vsa.intoto.json'),
          '--attest-key',
          vKey,
          '--report',
          report,
        ),
      );
      expect(r.code, r.err).toBe(5);
      expect(r.err).toMatch(new RegExp(`^cot: FILE_IS_DIRECTORY: .*vsa\\.${suffix}\\.json is a folder`));
      expect(r.out).toBe('');
      expect(await exists(report)).toBe(false);
    }
  });
});

describe('cot verify --attest', () => {
  it('--attest must name a <name>.intoto.json file, and goes with --attest-key (USAGE, exit 2)', async () => {
    const plain = join(d, 'vsa.json');
    const r = await cot(...verifyArgs(good, '--attest', plain, '--attest-key', vKey));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^cot: USAGE: --attest .*vsa\.json: the DSSE envelope file is named <name>\.intoto\.json/,
    );
    expect(await exists(plain)).toBe(false);
    const alone = await cot(...verifyArgs(good, '--attest', join(d, 'alone.intoto.json')));
    expect(alone.code).toBe(2);
    expect(alone.err).toMatch(/^cot: USAGE: --attest and --attest-key go together: give --attest-key/);
    const keyAlone = await cot(...verifyArgs(good, '--attest-key', vKey));
    expect(keyAlone.code).toBe(2);
    expect(keyAlone.err).toMatch(/^cot: USAGE: --attest and --attest-key go together: give --attest <file>/);
    expect(await exists(join(d, 'alone.intoto.json'))).toBe(false);
    expect(await exists(join(d, 'alone.sigstore.json'))).toBe(false);
  });

  it('a chain that verifies: a PASSED summary and its bundle, exit 0', async () => {
    const env = join(d, 'vsa-good.intoto.json');
    const r = await cot(...verifyArgs(good, '--attest', env, '--attest-key', vKey));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('verification summary (PASSED)');
    for (const f of [env, join(d, 'vsa-good.sigstore.json')]) {
      const v = await cot(
        'verify-attestation',
        f,
        '--key',
        vPub,
        '--artifact',
        `public/manifest.json=${manifestOf(good)}`,
      );
      expect(v.code, v.err).toBe(0);
      expect(v.out).toContain('result: PASSED (SLSA_BUILD_LEVEL_2)');
    }
  });

  it('a tampered chain: a FAILED summary, exit 1; verify-attestation says ATTESTATION_FAILED, exit 1', async () => {
    const env = join(d, 'vsa-tampered.intoto.json');
    const bundle = join(d, 'vsa-tampered.sigstore.json');
    const r = await cot(...verifyArgs(tampered, '--attest', env, '--attest-key', vKey, '--json'));
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      ok: false,
      attestation: { envelope: env, bundle, verificationResult: 'FAILED' },
    });
    for (const f of [env, bundle]) {
      const v = await cot('verify-attestation', f, '--key', vPub);
      expect(v.code).toBe(1);
      expect(v.err).toMatch(/^cot: ATTESTATION_FAILED: .*the verification FAILED/);
      expect(v.out).toContain('result: FAILED');
      const vj = await cot('verify-attestation', f, '--key', vPub, '--json');
      expect(vj.code).toBe(1);
      expect(JSON.parse(vj.out)).toMatchObject({
        schemaVersion: 1,
        ok: false,
        verificationResult: 'FAILED',
        predicateType: 'https://slsa.dev/verification_summary/v1',
        error: { code: 'ATTESTATION_FAILED' },
      });
    }
  });
});

describe('outputs inside the --queue store, and chains that could not be verified', () => {
  it('--out or --attest inside the store the verification reads: USAGE (exit 2), nothing written', async () => {
    const inside = join(good.dir, 'queue', 'attestations');
    const r = await cot(...provenanceArgs(good, vKey, inside));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^cot: USAGE: --out .* lies inside the --queue store/);
    expect(await exists(inside)).toBe(false);
    const env = join(good.dir, 'queue', 'vsa.intoto.json');
    const v = await cot(...verifyArgs(good, '--attest', env, '--attest-key', vKey));
    expect(v.code).toBe(2);
    expect(v.err).toMatch(/^cot: USAGE: --attest .* lies inside the --queue store/);
    expect(await exists(env)).toBe(false);
  });

  it('a chain that could not be verified (a task missing from the store): no summary, the chain decides the exit', async () => {
    const lab = await labFrom(good, d, 'missing-task', NOW);
    const producer = good.report.links.find((l) => l.taskId === good.taskId)!.consumed![0]!.taskId;
    await rm(lab.queue.taskDir(producer), { recursive: true });
    const env = join(d, 'vsa-missing.intoto.json');
    const args = [
      'verify',
      good.taskId,
      '--queue',
      join(lab.dir, 'queue'),
      '--policy',
      join(lab.dir, 'policy.yml'),
    ];
    const r = await cot(...args, '--attest', env, '--attest-key', vKey, '--json');
    expect(r.code).toBe(4);
    const j = JSON.parse(r.out);
    expect(j.error.code).toBe('QUEUE_NOT_FOUND');
    expect(j.attestationError).toMatchObject({ code: 'QUEUE_NOT_FOUND' });
    expect(j.attestationError.message).toMatch(/neither PASSED nor FAILED/);
    expect(j.attestation).toBeUndefined();
    expect(await exists(env)).toBe(false);
    expect(await exists(join(d, 'vsa-missing.sigstore.json'))).toBe(false);
    const t = await cot(...args, '--attest', env, '--attest-key', vKey);
    expect(t.code).toBe(4);
    expect(t.err).toMatch(
      /cot: QUEUE_NOT_FOUND: no verification summary written: the chain could not be verified/,
    );
  });

  it('a chain that verifies with nothing to name (root waived, consumes nothing): the report, then ATTEST_NO_SUBJECT', async () => {
    const lab = await labFrom(good, d, 'no-subject', NOW);
    const policy = join(lab.dir, 'policy.yml');
    await writeFile(policy, `${await readFile(policy, 'utf8')}\nverifyRootTask: false\n`);
    // a task that consumes nothing (a build task) as the root, its own document waived
    const decision = good.report.links.find(
      (l) => !l.decision && !l.consumed?.length && !l.image?.verified,
    )!.taskId;
    const env = join(d, 'vsa-none.intoto.json');
    const r = await cot(
      'verify',
      decision,
      '--queue',
      join(lab.dir, 'queue'),
      '--policy',
      policy,
      '--attest',
      env,
      '--attest-key',
      vKey,
    );
    expect(r.code, r.err).toBe(2);
    expect(r.out).toMatch(/^VERIFIED: /m);
    expect(r.err).toMatch(/^cot: ATTEST_NO_SUBJECT: no verification summary written: /);
    expect(await exists(env)).toBe(false);
  });
});

describe('the policy a summary names includes the options that widen what the verification accepts', () => {
  it('--allow-reference-artifacts and --allow-host change the policy digest, and are listed', async () => {
    const policyOf = async (name: string, ...extra: string[]) => {
      const env = join(d, `${name}.intoto.json`);
      const r = await cot(...verifyArgs(good, '--attest', env, '--attest-key', vKey, ...extra));
      expect(r.code, r.err).toBe(0);
      const e = JSON.parse(await readFile(env, 'utf8')) as { payload: string };
      return JSON.parse(Buffer.from(e.payload, 'base64').toString('utf8')).predicate.policy as {
        digest: { sha256: string };
        annotations: { files: { name: string; sha256: string }[]; commandLine?: Record<string, unknown> };
      };
    };
    const plain = await policyOf('vsa-plain');
    const widened = await policyOf(
      'vsa-widened',
      '--allow-reference-artifacts',
      '--allow-host',
      'b.example.com',
      '--allow-host',
      'a.example.com',
    );
    expect(plain.annotations.commandLine).toBeUndefined();
    const commandLine = { allowHosts: ['a.example.com', 'b.example.com'], allowReferenceArtifacts: true };
    expect(widened.annotations.commandLine).toEqual(commandLine);
    expect(widened.annotations.files).toEqual(plain.annotations.files);
    expect(widened.digest.sha256).not.toBe(plain.digest.sha256);
    // recomputed from the files' lines and the options' canonical JSON (sorted keys, two-space indent)
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    const lines = plain.annotations.files.map((f) => `${f.sha256}  ${f.name}\n`).join('');
    expect(sha(lines)).toBe(plain.digest.sha256);
    const canonical = JSON.stringify(commandLine, null, 2);
    expect(sha(`${lines}${sha(canonical)}  (command line)\n`)).toBe(widened.digest.sha256);
  });
});

describe('cot verify-attestation refusals', () => {
  let envelope: string;
  beforeAll(async () => {
    const out = join(d, 'prov-for-refusals');
    expect((await cot(...provenanceArgs(good, vKey, out))).code).toBe(0);
    envelope = join(out, `${good.taskId}.provenance.intoto.json`);
  });

  it('another key: ATTESTATION_SIGNATURE_INVALID, exit 1', async () => {
    for (const f of [envelope, envelope.replace(/\.intoto\.json$/, '.sigstore.json')]) {
      const r = await cot('verify-attestation', f, '--key', otherPub);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^cot: ATTESTATION_SIGNATURE_INVALID: /);
      expect(r.out).toBe('');
    }
  });

  it("the signer's private key given as --key: KEY_INVALID naming the mistake, exit 4", async () => {
    const r = await cot('verify-attestation', envelope, '--key', vKey);
    expect(r.code).toBe(4);
    expect(r.err).toMatch(
      /^cot: KEY_INVALID: --key .*verifier\.key holds the private key that signed .*, not its public key/,
    );
    // another private key is no such mistake: the signature simply does not verify
    const other = await cot('verify-attestation', envelope, '--key', join(d, 'other.key'));
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/^cot: ATTESTATION_SIGNATURE_INVALID: /);
  });

  it('the signature is checked before any --artifact is read: a missing file with a wrong key is the signature', async () => {
    const missing = `public/manifest.json=${join(d, 'no-such-file')}`;
    const r = await cot('verify-attestation', envelope, '--key', otherPub, '--artifact', missing);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^cot: ATTESTATION_SIGNATURE_INVALID: /);
    const ok = await cot('verify-attestation', envelope, '--key', vPub, '--artifact', missing);
    expect(ok.code).toBe(4);
    expect(ok.err).toMatch(/^cot: FILE_NOT_FOUND: /);
  });

  it('a file that is not JSON: ATTESTATION_INVALID, exit 4', async () => {
    const f = join(d, 'not-json.intoto.json');
    await writeFile(f, 'this is not an attestation\n');
    const r = await cot('verify-attestation', f, '--key', vPub);
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/^cot: ATTESTATION_INVALID: .*not a DSSE envelope or Sigstore bundle/);
    const j = await cot('verify-attestation', f, '--key', vPub, '--json');
    expect(j.code).toBe(4);
    expect(JSON.parse(j.out)).toMatchObject({ ok: false, error: { code: 'ATTESTATION_INVALID' } });
  });

  it('an OpenPGP public key as --key holds no ed25519 key: KEY_INVALID', async () => {
    const r = await cot('verify-attestation', envelope, '--key', join(good.dir, 'keys/docker-worker.pub'));
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/^cot: KEY_INVALID: --key: attestations are checked with ed25519 public keys/);
  });
});

describe('the built bin/cot.js, as a user runs it', () => {
  it('attest provenance then verify-attestation: exit 0; a tampered chain: exit 1 and no folder', async () => {
    const at = NOW.toISOString();
    const out = join(d, 'bin-good');
    const a = bin(...provenanceArgs(good, vKey, out, '--at', at));
    expect(a.code, a.err).toBe(0);
    const env = join(out, `${good.taskId}.provenance.intoto.json`);
    expect((await readdir(out)).length).toBe(2);
    const v = bin(
      'verify-attestation',
      env,
      '--key',
      vPub,
      '--artifact',
      `public/manifest.json=${manifestOf(good)}`,
      '--json',
    );
    expect(v.code, v.err).toBe(0);
    const j = JSON.parse(v.out);
    expect(j).toMatchObject({ ok: true, format: 'dsse', artifacts: [{ name: 'public/manifest.json' }] });
    expect(j.artifacts[0].digest.sha256).toBe(
      createHash('sha256')
        .update(await readFile(manifestOf(good)))
        .digest('hex'),
    );
    const bad = join(d, 'bin-tampered');
    const t = bin(...provenanceArgs(tampered, vKey, bad, '--at', at));
    expect(t.code).toBe(1);
    expect(t.err).toMatch(/cot: CHAIN_VERIFICATION_FAILED: .*no provenance written/);
    expect(await exists(bad)).toBe(false);
  });
});
