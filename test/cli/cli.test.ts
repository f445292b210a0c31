import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ED25519_PUBLIC_KEY_COMMENT } from '../../src/keys/ed25519.js';
import { generateArgs, runCli } from '../helpers/cli.js';
import { HAVE_GPG, HAVE_SHARED, REPO, SHARED_INTEROP, sampleTask, TASK_ID, tempDir } from '../helpers/env.js';
import { Gpg } from '../helpers/gpg.js';

const NOW = new Date('2026-11-25T12:00:00Z');

const cot = (...args: string[]) => runCli(NOW, ...args);

let d: string;
beforeAll(async () => {
  d = await tempDir();
  await writeFile(join(d, 'task.json'), JSON.stringify(sampleTask(), null, 2));
  await mkdir(join(d, 'art/public/build'), { recursive: true });
  await writeFile(join(d, 'art/public/build/app.tar.gz'), Buffer.alloc(1000, 3));
  await writeFile(join(d, 'art/public/build/app.txt'), 'hello\n');
});

describe('cot keys new', () => {
  it('writes a 0600 private key, prints the public key, refuses to overwrite', async () => {
    const r = await cot(
      'keys',
      'new',
      '--type',
      'ed25519',
      '--out',
      join(d, 'ed.key'),
      '--pub-out',
      join(d, 'ed.pub'),
    );
    expect(r.code).toBe(0);
    // the public file: a comment line that marks it as public, then the key printed
    expect((await readFile(join(d, 'ed.pub'), 'utf8')).trim().split('\n')).toEqual([
      ED25519_PUBLIC_KEY_COMMENT,
      r.out.trim(),
    ]);
    expect(Buffer.from(r.out.trim(), 'base64')).toHaveLength(32);
    expect((await stat(join(d, 'ed.key'))).mode & 0o777).toBe(0o600);
    const again = await cot('keys', 'new', '--type', 'ed25519', '--out', join(d, 'ed.key'));
    expect(again.code).toBe(5);
    expect(again.err).toMatch(/^cot: FILE_EXISTS: .*already exists/);
    const pgp = await cot(
      'keys',
      'new',
      '--type',
      'openpgp',
      '--curve',
      'ed25519',
      '--user-id',
      'W <w@example.com>',
      '--out',
      join(d, 'pgp.key'),
      '--pub-out',
      join(d, 'pgp.pub'),
    );
    expect(pgp.code).toBe(0);
    expect(pgp.out).toContain('-----BEGIN PGP PUBLIC KEY BLOCK-----');
    expect((await stat(join(d, 'pgp.key'))).mode & 0o777).toBe(0o600);
  });
});

describe('cot generate / verify-link / verify-signature / hash', () => {
  const gen = (...extra: string[]) => cot(...generateArgs(join(d, 'task.json'), ...extra));

  it('generates both formats into <artifacts>/public and verifies each, with artifacts', async () => {
    const g = await gen(
      '--artifacts',
      join(d, 'art'),
      '--key',
      join(d, 'ed.key'),
      '--key',
      join(d, 'pgp.key'),
    );
    expect(g.code).toBe(0);
    expect((await readdir(join(d, 'art/public'))).sort()).toEqual([
      'build',
      'chain-of-trust.json',
      'chain-of-trust.json.sig',
      'chainOfTrust.json.asc',
    ]);
    const v1 = await cot(
      'verify-link',
      join(d, 'art/public/chain-of-trust.json'),
      '--key',
      join(d, 'ed.pub'),
      '--artifacts',
      join(d, 'art'),
      '--task-id',
      TASK_ID,
    );
    expect(v1.code).toBe(0);
    expect(v1.out).toMatch(/^verified: task LnshJjNXTfeBlPNrAzyy9w run 0 \(ed25519\).* 2 artifacts checked/);
    const v2 = await cot(
      'verify-link',
      join(d, 'art/public/chainOfTrust.json.asc'),
      '--key',
      join(d, 'pgp.pub'),
      '--json',
    );
    expect(v2.code).toBe(0);
    const j = JSON.parse(v2.out);
    expect(j).toMatchObject({ ok: true, signatureKind: 'openpgp-cleartext', taskId: TASK_ID, runId: 0 });
    expect(j.artifactsNotChecked).toEqual(['public/build/app.tar.gz', 'public/build/app.txt']);
  });

  it('a tampered artifact: exit 1, one line naming the code, the task and the artifact', async () => {
    const bad = join(d, 'bad');
    await writeFile(bad, 'tampered');
    const v = await cot(
      'verify-link',
      join(d, 'art/public/chain-of-trust.json'),
      '--key',
      join(d, 'ed.pub'),
      '--artifact',
      `public/build/app.txt=${bad}`,
    );
    expect(v.code).toBe(1);
    expect(v.err.trim().split('\n')).toHaveLength(1);
    expect(v.err).toMatch(
      /^cot: HASH_MISMATCH: .*task LnshJjNXTfeBlPNrAzyy9w run 0: artifact public\/build\/app\.txt/,
    );
    const j = await cot(
      'verify-link',
      join(d, 'art/public/chain-of-trust.json'),
      '--key',
      join(d, 'ed.pub'),
      '--artifact',
      `public/build/app.txt=${bad}`,
      '--json',
    );
    expect(j.code).toBe(1);
    expect(JSON.parse(j.out)).toMatchObject({
      ok: false,
      error: { code: 'HASH_MISMATCH', artifact: 'public/build/app.txt' },
    });
  });

  it('a wrong key: exit 1 with SIGNATURE_INVALID / KEY_NOT_FOUND', async () => {
    await cot(
      'keys',
      'new',
      '--type',
      'ed25519',
      '--out',
      join(d, 'other.key'),
      '--pub-out',
      join(d, 'other.pub'),
    );
    const v = await cot(
      'verify-link',
      join(d, 'art/public/chain-of-trust.json'),
      '--key',
      join(d, 'other.pub'),
    );
    expect(v.code).toBe(1);
    expect(v.err).toMatch(/^cot: SIGNATURE_INVALID: /);
    const w = await cot(
      'verify-link',
      join(d, 'art/public/chainOfTrust.json.asc'),
      '--key',
      join(d, 'ed.pub'),
    );
    expect(w.code).toBe(1);
    expect(w.err).toMatch(/^cot: KEY_NOT_FOUND: /);
  });

  it('verify-signature: the signature layer alone, writing exactly the verified bytes', async () => {
    const out = join(d, 'verified.json');
    const v = await cot(
      'verify-signature',
      join(d, 'art/public/chainOfTrust.json.asc'),
      '--key',
      join(d, 'pgp.pub'),
      '--output',
      out,
    );
    expect(v.code).toBe(0);
    expect(await readFile(out)).toEqual(await readFile(join(d, 'art/public/chain-of-trust.json')));
    const e = await cot(
      'verify-signature',
      join(d, 'art/public/chain-of-trust.json'),
      '--sig',
      join(d, 'art/public/chain-of-trust.json.sig'),
      '--key',
      join(d, 'ed.pub'),
      '--json',
    );
    expect(JSON.parse(e.out)).toMatchObject({ ok: true, kind: 'ed25519' });
  });

  it('hash prints the artifacts map the generator writes', async () => {
    const h = await cot('hash', join(d, 'art'));
    expect(h.code).toBe(0);
    const doc = JSON.parse(await readFile(join(d, 'art/public/chain-of-trust.json'), 'utf8'));
    expect(JSON.parse(h.out)).toEqual(doc.artifacts);
    expect(h.err).toContain('skipped the chain-of-trust files');
    const f = await cot(
      'hash',
      '--hash-algorithm',
      'sha256,sha512',
      `public/x=${join(d, 'art/public/build/app.txt')}`,
    );
    expect(Object.keys(JSON.parse(f.out)['public/x'])).toEqual(['sha256', 'sha512']);
  });

  it('refuses an insecure private key (exit 4) unless --allow-insecure-key-permissions', async () => {
    await chmod(join(d, 'ed.key'), 0o644);
    try {
      const app = `public/app.txt=${join(d, 'art/public/build/app.txt')}`;
      const g = await gen('--artifact', app, '--key', join(d, 'ed.key'), '--out', join(d, 'o1'));
      expect(g.code).toBe(4);
      expect(g.err).toMatch(
        /^cot: KEY_INSECURE_PERMISSIONS: private key .*ed\.key is not protected: its mode is 0644/,
      );
      const ok = await gen(
        '--artifact',
        app,
        '--key',
        join(d, 'ed.key'),
        '--out',
        join(d, 'o1'),
        '--allow-insecure-key-permissions',
      );
      expect(ok.code).toBe(0);
    } finally {
      await chmod(join(d, 'ed.key'), 0o600);
    }
  });

  it('an invalid task definition: every bad path listed, nothing written', async () => {
    const genWith = (task: string) =>
      cot(
        ...generateArgs(
          task,
          '--artifacts',
          join(d, 'art/public/build'),
          '--key',
          join(d, 'ed.key'),
          '--out',
          join(d, 'o2'),
        ),
      );
    await writeFile(join(d, 'badtask.json'), JSON.stringify({ payload: [], scopes: 'x' }));
    const g = await genWith(join(d, 'badtask.json'));
    expect(g.code).toBe(4);
    expect(g.err).toMatch(/DOCUMENT_INVALID: .*task\.dependencies is required.*task\.payload.*task\.scopes/);
    await expect(stat(join(d, 'o2'))).rejects.toThrow();
    await writeFile(join(d, 'duptask.json'), '{"payload": {}, "payload": {}}');
    const dup = await genWith(join(d, 'duptask.json'));
    expect(dup.code).toBe(4);
    expect(dup.err).toMatch(/JSON_INVALID: task definition .*duplicate key "payload"/);
  });

  it('usage errors exit 2', async () => {
    expect((await cot('generate')).code).toBe(2);
    expect((await cot('nonsense')).code).toBe(2);
    expect((await gen('--artifacts', join(d, 'art'), '--key', join(d, 'ed.key'), '--run-id', 'x')).code).toBe(
      2,
    );
    expect((await cot('verify-link', join(d, 'art/public/chain-of-trust.json'))).code).toBe(2);
    expect((await cot('verify-link', join(d, 'nope.json'), '--key', join(d, 'ed.pub'))).code).toBe(4);
  });
});

describe.skipIf(!HAVE_SHARED)('cot verify-link on the real 2017 artifact', () => {
  it('verifies with the signing-linux-3 key and names the key', async () => {
    const key = join(
      SHARED_INTEROP,
      'mozilla-2017/cot-gpg-keys/scriptworker/valid/cltsign@signing-linux-3.srv.releng.use1.mozilla.com.pub',
    );
    const v = await cot(
      'verify-link',
      join(SHARED_INTEROP, 'mozilla-2017/chainOfTrust.json.asc'),
      '--key',
      key,
      '--task-id',
      'LnshJjNXTfeBlPNrAzyy9w',
    );
    expect(v.code).toBe(0);
    expect(v.out).toContain('FAD6F73ED15A6620149115BBD79913CEFD45E8A9');
    expect(v.out).toContain('key expired since 2018-');
  });
});

describe.skipIf(!HAVE_SHARED)('cot verify-link with the trust model on the real 2017 repository', () => {
  const repo = join(SHARED_INTEROP, 'mozilla-2017/cot-gpg-keys');
  const asc = join(SHARED_INTEROP, 'mozilla-2017/chainOfTrust.json.asc');
  it('scriptworker: verified, naming the key and its certifying root', async () => {
    const v = await cot('verify-link', asc, '--key-repo', repo, '--worker-impl', 'scriptworker');
    expect(v.code).toBe(0);
    expect(v.out).toMatch(
      /\(openpgp-cleartext, scriptworker\) signed by OpenPGP key FAD6F73ED15A6620149115BBD79913CEFD45E8A9 .*certified by trusted root [0-9A-F]*4654904BB484B6B2 Aki Sasaki/,
    );
    const j = JSON.parse(
      (await cot('verify-link', asc, '--key-repo', repo, '--worker-impl', 'scriptworker', '--json')).out,
    );
    expect(j.workerImplementation).toBe('scriptworker');
    expect(j.signers[0].certifiedBy.fingerprint).toMatch(/4654904BB484B6B2$/);
  });
  it('docker-worker: KEY_WRONG_IMPLEMENTATION, exit 1; options misuse is a usage error', async () => {
    const v = await cot('verify-link', asc, '--key-repo', repo, '--worker-impl', 'docker-worker');
    expect(v.code).toBe(1);
    expect(v.err).toMatch(/^cot: KEY_WRONG_IMPLEMENTATION: .*a key of scriptworker/);
    expect((await cot('verify-link', asc, '--key-repo', repo)).code).toBe(2);
    expect(
      (await cot('verify-link', asc, '--worker-impl', 'scriptworker', '--key', join(d, 'pgp.pub'))).code,
    ).toBe(2);
    expect((await cot('verify-link', asc, '--key-repo', repo, '--worker-impl', 'nope')).code).toBe(2);
  });
});

describe('the installed bin', () => {
  it('npx-style `cot --help` works from the built package', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'bin/cot.js'), '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('verify-link');
  });

  it.skipIf(!HAVE_GPG)(
    'a full run through the bin: keys, generate, gpg --verify, verify-link, tamper',
    async () => {
      const w = await tempDir();
      const bin = (...a: string[]) =>
        spawnSync(process.execPath, [join(REPO, 'bin/cot.js'), ...a], { encoding: 'utf8' });
      expect(
        bin(
          'keys',
          'new',
          '--type',
          'openpgp',
          '--curve',
          'ed25519',
          '--out',
          join(w, 'k'),
          '--pub-out',
          join(w, 'k.pub'),
        ).status,
      ).toBe(0);
      await mkdir(join(w, 'art'));
      await writeFile(join(w, 'art/a.txt'), 'a');
      await writeFile(join(w, 'task.json'), JSON.stringify(sampleTask()));
      const g = bin(
        'generate',
        '--task',
        join(w, 'task.json'),
        '--task-id',
        TASK_ID,
        '--run-id',
        '0',
        '--worker-group',
        'g',
        '--worker-id',
        'w',
        '--artifacts',
        join(w, 'art'),
        '--key',
        join(w, 'k'),
      );
      expect(g.status, g.stderr).toBe(0);
      const gpg = await Gpg.create(w);
      gpg.ok(['--import', join(w, 'k.pub')]);
      expect(gpg.run(['--verify', join(w, 'art/public/chainOfTrust.json.asc')]).status).toBe(0);
      expect(
        bin(
          'verify-link',
          join(w, 'art/public/chainOfTrust.json.asc'),
          '--key',
          join(w, 'k.pub'),
          '--artifacts',
          join(w, 'art'),
        ).status,
      ).toBe(0);
      await writeFile(join(w, 'art/a.txt'), 'b');
      const t = bin(
        'verify-link',
        join(w, 'art/public/chainOfTrust.json.asc'),
        '--key',
        join(w, 'k.pub'),
        '--artifacts',
        join(w, 'art'),
      );
      expect(t.status).toBe(1);
      expect(t.stderr).toMatch(/^cot: HASH_MISMATCH: /);
    },
  );
});
