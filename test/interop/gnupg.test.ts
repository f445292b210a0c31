import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  generateChainOfTrust,
  generateKeyPair,
  loadSigningKey,
  parseVerificationKeys,
  verifyLink,
  verifySignature,
} from '../../src/index.js';
import { canonicalize } from '../../src/json/canonical.js';
import { codeOf, errorOf, HAVE_GPG, sampleDocument, sampleTask, TASK_ID, tempDir } from '../helpers/env.js';
import { Gpg } from '../helpers/gpg.js';

// cot signs at a fixed reference time; gpg signs at the wall clock, so its signatures are checked as of now
const NOW = new Date('2026-11-25T12:00:00Z');

async function makeArtifacts(dir: string): Promise<string> {
  const art = join(dir, 'art');
  await mkdir(join(art, 'public/build'), { recursive: true });
  await writeFile(join(art, 'public/build/target.tar.gz'), Buffer.alloc(10_000, 1));
  await writeFile(join(art, 'public/build/notes-é.txt'), 'release notes 💩\n');
  return art;
}

describe.skipIf(!HAVE_GPG)('GnuPG verifies what cot signs (real gpg, default settings)', () => {
  let dir: string;
  let gpg: Gpg;
  beforeAll(async () => {
    dir = await tempDir();
    gpg = await Gpg.create(dir);
  });

  for (const algo of ['rsa4096', 'ed25519'] as const) {
    it(`${algo}: gpg --verify says GOODSIG, and the signed text is exactly what gpg --clearsign frames`, async () => {
      const d = join(dir, algo);
      await mkdir(d);
      await generateKeyPair({
        type: 'openpgp',
        pgpAlgorithm: algo,
        userId: `cot ${algo} <cot-${algo}@example.com>`,
        out: join(d, 'key'),
        pubOut: join(d, 'key.pub'),
        now: new Date(NOW.getTime() - 86400_000),
      });
      const key = await loadSigningKey(join(d, 'key'));
      const art = await makeArtifacts(d);
      const r = await generateChainOfTrust({
        task: sampleTask(),
        taskId: TASK_ID,
        runId: 2,
        workerGroup: 'us-east-1',
        workerId: 'i-0abc',
        workerType: 'b-linux',
        environment: { publicIpAddress: '203.0.113.7', note: 'ünïcödé' },
        artifactDir: art,
        keys: [key],
        format: 'openpgp',
        outDir: join(art, 'public'),
        now: NOW,
      });
      const ascPath = join(art, 'public/chainOfTrust.json.asc');
      const asc = await readFile(ascPath, 'utf8');
      expect(asc).not.toContain('\r');
      expect(asc.startsWith('-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{\n')).toBe(true);

      gpg.ok(['--import', join(d, 'key.pub')]);
      const v = gpg.run(['--status-fd', '1', '--verify', ascPath]);
      expect(v.status).toBe(0);
      const status = v.stdout.toString();
      expect(status).toContain('[GNUPG:] GOODSIG');
      expect(status).toMatch(new RegExp(`VALIDSIG ${key.kind === 'openpgp' ? key.fingerprint : ''}`));

      // gpg --decrypt gives the canonical bytes followed by the line end gpg itself adds (same as for its own clearsign)
      const decrypted = gpg.ok(['--decrypt', ascPath]);
      expect(decrypted.toString('latin1')).toBe(`${r.canonical}\n`);

      // framing: identical to gpg --clearsign of the same canonical bytes
      const canonicalPath = join(d, 'canonical.json');
      await writeFile(canonicalPath, r.canonical);
      const fpr = key.kind === 'openpgp' ? key.fingerprint : '';
      gpg.ok(['--import', join(d, 'key')]);
      const theirs = gpg
        .ok(['--local-user', fpr, '--digest-algo', 'SHA512', '--clearsign', '--output', '-', canonicalPath])
        .toString();
      const head = (s: string) => s.slice(0, s.indexOf('-----BEGIN PGP SIGNATURE-----'));
      expect(head(asc)).toBe(head(theirs));
      // and cot verifies gpg's own signature over the same document, getting the same verified bytes
      const vk = await parseVerificationKeys(await readFile(join(d, 'key.pub')), 'key.pub');
      const mine = await verifyLink({ data: Buffer.from(theirs), keys: vk, at: new Date() });
      expect(mine.signedBytes.toString('latin1')).toBe(r.canonical);
    });
  }
});

describe.skipIf(!HAVE_GPG)('cot verifies what GnuPG signs', () => {
  let dir: string;
  let gpg: Gpg;
  const keys: Record<string, string> = {};
  const doc = canonicalize(sampleDocument());
  beforeAll(async () => {
    dir = await tempDir();
    gpg = await Gpg.create(dir);
    keys.rsa = gpg.genKey('RSA Signer <rsa@example.com>', 'rsa2048');
    keys.ed = gpg.genKey('Ed Signer <ed@example.com>', 'ed25519');
    await writeFile(join(dir, 'doc.json'), doc);
  });

  const clearsign = (fpr: string, digest: string) =>
    gpg.ok([
      '--local-user',
      fpr,
      '--digest-algo',
      digest,
      '--clearsign',
      '--output',
      '-',
      join(dir, 'doc.json'),
    ]);

  for (const [k, digest] of [
    ['rsa', 'SHA256'],
    ['rsa', 'SHA512'],
    ['ed', 'SHA256'],
    ['ed', 'SHA512'],
  ] as const) {
    it(`${k === 'rsa' ? 'RSA' : 'ed25519'} key, ${digest}`, async () => {
      const asc = clearsign(keys[k]!, digest);
      expect(asc.toString()).toContain(`Hash: ${digest}`);
      const vk = await parseVerificationKeys(Buffer.from(gpg.exportPublic(keys[k]!)), k);
      const r = await verifyLink({
        data: asc,
        keys: vk,
        at: new Date(),
        expected: { taskId: TASK_ID, runId: 0 },
      });
      expect(r.signedBytes.toString('latin1')).toBe(doc);
      expect(r.signers[0]).toMatchObject({ kind: 'openpgp', fingerprint: keys[k], hashAlgorithm: digest });
    });
  }

  it('a detached gpg signature (binary and armored) over exact bytes', async () => {
    const sigBin = gpg.ok([
      '--local-user',
      keys.ed!,
      '--detach-sign',
      '--output',
      '-',
      join(dir, 'doc.json'),
    ]);
    const sigAsc = gpg.ok([
      '--local-user',
      keys.ed!,
      '--armor',
      '--detach-sign',
      '--output',
      '-',
      join(dir, 'doc.json'),
    ]);
    const vk = await parseVerificationKeys(Buffer.from(gpg.exportPublic(keys.ed!)), 'ed');
    for (const signature of [sigBin, sigAsc]) {
      const r = await verifySignature({ data: Buffer.from(doc), signature, keys: vk, at: new Date() });
      expect(r.kind).toBe('openpgp-detached');
      expect(
        await codeOf(verifySignature({ data: Buffer.from(`${doc} `), signature, keys: vk, at: new Date() })),
      ).toBe('SIGNATURE_INVALID');
    }
  });

  it('refuses a SHA-1 signature made by gpg', async () => {
    const asc = clearsign(keys.rsa!, 'SHA1');
    const vk = await parseVerificationKeys(Buffer.from(gpg.exportPublic(keys.rsa!)), 'rsa');
    expect(await codeOf(verifyLink({ data: asc, keys: vk, at: new Date() }))).toBe('SIGNATURE_WEAK_HASH');
  });

  it('refuses RSA-1024 keys made by gpg', async () => {
    const weak = gpg.genKey('Weak <weak@example.com>', 'rsa1024');
    const asc = clearsign(weak, 'SHA512');
    const vk = await parseVerificationKeys(Buffer.from(gpg.exportPublic(weak)), 'weak');
    expect(await codeOf(verifyLink({ data: asc, keys: vk, at: new Date() }))).toBe('KEY_WEAK');
  });

  it('refuses DSA keys made by gpg', async () => {
    const dsa = gpg.genKey('Dsa <dsa@example.com>', 'dsa2048');
    const asc = clearsign(dsa, 'SHA256');
    const vk = await parseVerificationKeys(Buffer.from(gpg.exportPublic(dsa)), 'dsa');
    expect(await codeOf(verifyLink({ data: asc, keys: vk, at: new Date() }))).toBe('KEY_WEAK');
  });

  it('refuses a signature from a key other than the allowed ones', async () => {
    const asc = clearsign(keys.rsa!, 'SHA512');
    const vk = await parseVerificationKeys(Buffer.from(gpg.exportPublic(keys.ed!)), 'ed');
    expect(await codeOf(verifyLink({ data: asc, keys: vk, at: new Date() }))).toBe('KEY_NOT_FOUND');
  });

  it('refuses a signature made before the key existed (gpg with a faked clock)', async () => {
    const asc = gpg.ok([
      '--faked-system-time',
      '20200101T000000!',
      '--ignore-time-conflict',
      '--local-user',
      keys.ed!,
      '--clearsign',
      '--output',
      '-',
      join(dir, 'doc.json'),
    ]);
    const vk = await parseVerificationKeys(Buffer.from(gpg.exportPublic(keys.ed!)), 'ed');
    expect(await codeOf(verifyLink({ data: asc, keys: vk, at: new Date() }))).toBe('KEY_NOT_YET_VALID');
  });

  it('refuses a signature dated after the reference time plus skew', async () => {
    const asc = clearsign(keys.ed!, 'SHA512');
    const vk = await parseVerificationKeys(Buffer.from(gpg.exportPublic(keys.ed!)), 'ed');
    const past = new Date(Date.now() - 3600_000);
    expect(await codeOf(verifyLink({ data: asc, keys: vk, at: past, skewSeconds: 60 }))).toBe(
      'SIGNATURE_FROM_FUTURE',
    );
    await verifyLink({ data: asc, keys: vk, at: past, skewSeconds: 7200 });
  });
});

describe.skipIf(!HAVE_GPG)('revocation, with keys revoked by real gpg', () => {
  let dir: string;
  let gpg: Gpg;
  beforeAll(async () => {
    dir = await tempDir();
    gpg = await Gpg.create(dir);
    await writeFile(join(dir, 'doc.json'), canonicalize(sampleDocument()));
  });
  const sign = (g: Gpg, fpr: string, at?: Date) =>
    g.ok([
      ...(at ? ['--faked-system-time', `${Math.floor(at.getTime() / 1000)}!`] : []),
      '--local-user',
      fpr,
      '--clearsign',
      '--output',
      '-',
      join(dir, 'doc.json'),
    ]);
  const keysOf = async (fpr: string) => parseVerificationKeys(Buffer.from(gpg.exportPublic(fpr)), fpr);

  it('a HARD revocation (gpg default revocation certificate: no reason) voids a signature made before it', async () => {
    const fpr = gpg.genKey('Hard <hard@example.com>', 'ed25519');
    const asc = sign(gpg, fpr);
    await verifyLink({ data: asc, keys: await keysOf(fpr), at: new Date() });
    const cert = (await readFile(join(gpg.home, 'openpgp-revocs.d', `${fpr}.rev`), 'utf8')).replace(
      /^:-----BEGIN/m,
      '-----BEGIN',
    );
    gpg.ok(['--import'], cert);
    const err = await errorOf(verifyLink({ data: asc, keys: await keysOf(fpr), at: new Date() }));
    expect(err).toMatchObject({ code: 'KEY_REVOKED' });
    expect(err.message).toMatch(/hard revocation voids every signature/);
  });

  it('a HARD revocation (key compromised) voids past signatures too', async () => {
    const fpr = gpg.genKey('Compromised <compromised@example.com>', 'ed25519');
    const asc = sign(gpg, fpr);
    gpg.revoke(fpr, 1, new Date(Date.now() + 3600_000));
    expect(await codeOf(verifyLink({ data: asc, keys: await keysOf(fpr), at: new Date() }))).toBe(
      'KEY_REVOKED',
    );
  });

  for (const [reason, name] of [
    [2, 'superseded'],
    [3, 'retired'],
  ] as const) {
    it(`a SOFT revocation (${name}) keeps earlier signatures and voids later ones`, async () => {
      const fpr = gpg.genKey(`Soft ${name} <soft-${name}@example.com>`, 'ed25519');
      // a copy of the secret key from before the revocation, as a stolen or stale worker image would hold
      const stale = await Gpg.create(join(dir, `stale-${name}`));
      stale.ok(['--pinentry-mode', 'loopback', '--passphrase', '', '--import'], gpg.exportSecret(fpr));
      const before = sign(gpg, fpr);
      gpg.revoke(fpr, reason, new Date(Date.now() + 3600_000));
      const after = sign(stale, fpr, new Date(Date.now() + 7200_000));
      const keys = await keysOf(fpr);
      const ok = await verifyLink({ data: before, keys, at: new Date() });
      expect(ok.signers[0]).toMatchObject({ fingerprint: fpr });
      const err = await errorOf(verifyLink({ data: after, keys, at: new Date(Date.now() + 7200_000) }));
      expect(err).toMatchObject({ code: 'KEY_REVOKED' });
      expect(err.message).toMatch(/soft revocation voids signatures made from then on/);
    });
  }
});
