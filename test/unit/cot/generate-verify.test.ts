import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CotError,
  generateChainOfTrust,
  generateKeyPair,
  loadSigningKey,
  loadVerificationKeys,
  type SigningKey,
  verifyLink,
} from '../../../src/index.js';
import { parseJson } from '../../../src/json/parse.js';
import { codeOf, sampleTask, TASK_ID, tempDir } from '../../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');
let dir: string;
let edKey: SigningKey;
let pgpKey: SigningKey;
let pubs: string[];

async function artifactDir(name: string): Promise<string> {
  const art = join(dir, name);
  await mkdir(join(art, 'public/build'), { recursive: true });
  await mkdir(join(art, 'public/logs'), { recursive: true });
  await writeFile(join(art, 'public/build/target.zip'), Buffer.alloc(3 * 1024 * 1024 + 5, 9));
  await writeFile(join(art, 'public/logs/live_backing.log'), 'exit code: 0\n');
  return art;
}

const base = () => ({
  task: sampleTask(),
  taskId: TASK_ID,
  runId: 1,
  workerGroup: 'us-east-1',
  workerId: 'i-123',
  workerType: 'b-linux',
  environment: { privateIpAddress: '10.0.0.1' },
  now: NOW,
});

beforeAll(async () => {
  dir = await tempDir();
  await generateKeyPair({ type: 'ed25519', out: join(dir, 'ed'), pubOut: join(dir, 'ed.pub'), now: NOW });
  await generateKeyPair({
    type: 'openpgp',
    pgpAlgorithm: 'ed25519',
    out: join(dir, 'pgp'),
    pubOut: join(dir, 'pgp.pub'),
    now: new Date(NOW.getTime() - 1000),
  });
  edKey = await loadSigningKey(join(dir, 'ed'));
  pgpKey = await loadSigningKey(join(dir, 'pgp'));
  pubs = [join(dir, 'ed.pub'), join(dir, 'pgp.pub')];
});

describe('generateChainOfTrust', () => {
  it('--format both writes the 2019 transition layout; each verifies and carries the canonical bytes', async () => {
    const art = await artifactDir('both');
    const r = await generateChainOfTrust({
      ...base(),
      artifactDir: art,
      keys: [edKey, pgpKey],
      format: 'both',
      outDir: join(art, 'public'),
    });
    expect(r.files.map((f) => f.artifact)).toEqual([
      'public/chain-of-trust.json',
      'public/chain-of-trust.json.sig',
      'public/chainOfTrust.json.asc',
    ]);
    expect(Object.keys(r.document.artifacts)).toEqual([
      'public/build/target.zip',
      'public/logs/live_backing.log',
    ]);
    const json = await readFile(join(art, 'public/chain-of-trust.json'));
    expect(json.toString('latin1')).toBe(r.canonical);
    expect(json[json.length - 1]).not.toBe(0x0a);
    const keys = await loadVerificationKeys(pubs);
    const viaEd = await verifyLink({
      data: json,
      signature: await readFile(join(art, 'public/chain-of-trust.json.sig')),
      keys,
      at: NOW,
    });
    const viaPgp = await verifyLink({
      data: await readFile(join(art, 'public/chainOfTrust.json.asc')),
      keys,
      at: NOW,
    });
    expect(viaEd.signedBytes.equals(viaPgp.signedBytes)).toBe(true);
    expect(viaEd.document).toEqual(parseJson(r.canonical));

    // a re-run in the same folder excludes its own previous output and gives the same document
    const again = await generateChainOfTrust({
      ...base(),
      artifactDir: art,
      keys: [edKey],
      format: 'ed25519',
      outDir: join(art, 'public'),
    });
    expect(again.canonical).toBe(r.canonical);
  });

  it('explicit NAME=PATH artifacts, names differing from paths, with sha256 and sha512', async () => {
    const d = join(dir, 'pairs');
    await mkdir(d);
    await writeFile(join(d, 'x.bin'), 'foo\n');
    const r = await generateChainOfTrust({
      ...base(),
      artifacts: [{ name: 'public/build/renamed.bin', path: join(d, 'x.bin'), resolved: false }],
      keys: [edKey],
      format: 'ed25519',
      outDir: join(d, 'out'),
      hashAlgorithms: ['sha256', 'sha512'],
    });
    expect(r.document.artifacts).toEqual({
      'public/build/renamed.bin': {
        sha256: 'b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c',
        sha512:
          '0cf9180a764aba863a67b6d72f0918bc131c6772642cb2dce5a34f0a702f9470ddc2bf125c12198b1995c233c34b4afd346c54a2334c350a948a51b6e8b4e6b6',
      },
    });
  });

  it('never signs an invalid document, and writes nothing', async () => {
    const art = await artifactDir('invalid');
    const err = await generateChainOfTrust({
      ...base(),
      task: { payload: {} },
      runId: -1,
      artifactDir: art,
      keys: [edKey],
      format: 'ed25519',
      outDir: join(art, 'public'),
    }).catch((e: unknown) => e as CotError);
    expect(err).toBeInstanceOf(CotError);
    expect((err as CotError).code).toBe('DOCUMENT_INVALID');
    expect((err as CotError).message).toMatch(/runId.*task\.dependencies|task\.dependencies.*runId/s);
    expect((await readdir(join(art, 'public'))).sort()).toEqual(['build', 'logs']);
  });

  it('a failed OpenPGP signature writes no file at all, not even the ed25519 ones', async () => {
    const expired = (
      await openpgp.generateKey({
        type: 'ecc',
        curve: 'ed25519Legacy',
        userIDs: [{ email: 'expired@example.com' }],
        date: new Date(NOW.getTime() - 10 * 86400_000),
        keyExpirationTime: 86400,
        format: 'object',
      })
    ).privateKey;
    const art = await artifactDir('failedsig');
    const badPgp: SigningKey = {
      kind: 'openpgp',
      key: expired,
      fingerprint: expired.getFingerprint(),
      userIds: [],
      source: 'expired',
    };
    expect(
      await codeOf(
        generateChainOfTrust({
          ...base(),
          artifactDir: art,
          keys: [edKey, badPgp],
          format: 'both',
          outDir: join(art, 'public'),
        }),
      ),
    ).toBe('SIGNING_FAILED');
    expect((await readdir(join(art, 'public'))).sort()).toEqual(['build', 'logs']);
  });

  it('an unwritable destination fails cleanly with no temp file left behind', async () => {
    const art = await artifactDir('unwritable');
    await mkdir(join(art, 'out'));
    await mkdir(join(art, 'out/chain-of-trust.json.sig')); // a folder where a file must go: rename fails
    expect(
      await codeOf(
        generateChainOfTrust({
          ...base(),
          artifactDir: join(art, 'public'),
          keys: [edKey],
          format: 'ed25519',
          outDir: join(art, 'out'),
        }),
      ),
    ).toBe('OUTPUT_FAILED');
    expect((await readdir(join(art, 'out'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses keys that do not match the format, and stale chain-of-trust files among the artifacts', async () => {
    const art = await artifactDir('mismatch');
    expect(
      await codeOf(
        generateChainOfTrust({
          ...base(),
          artifactDir: art,
          keys: [edKey],
          format: 'both',
          outDir: join(art, 'public'),
        }),
      ),
    ).toBe('OPTIONS_INVALID');
    expect(
      await codeOf(
        generateChainOfTrust({
          ...base(),
          artifactDir: art,
          keys: [pgpKey],
          format: 'ed25519',
          outDir: join(art, 'public'),
        }),
      ),
    ).toBe('OPTIONS_INVALID');
    await writeFile(join(art, 'public/chain-of-trust.json'), '{}');
    expect(
      await codeOf(
        generateChainOfTrust({
          ...base(),
          artifactDir: art,
          keys: [edKey],
          format: 'ed25519',
          outDir: join(dir, 'elsewhere'),
        }),
      ),
    ).toBe('ARTIFACT_RESERVED_NAME');
  });
});

describe('verifyLink', () => {
  let art: string;
  let json: Buffer;
  let sig: Buffer;
  beforeAll(async () => {
    art = await artifactDir('verify');
    await generateChainOfTrust({
      ...base(),
      artifactDir: art,
      keys: [edKey],
      format: 'ed25519',
      outDir: join(art, 'public'),
    });
    json = await readFile(join(art, 'public/chain-of-trust.json'));
    sig = await readFile(join(art, 'public/chain-of-trust.json.sig'));
  });
  const link = async (extra: Partial<Parameters<typeof verifyLink>[0]> = {}) =>
    verifyLink({ data: json, signature: sig, keys: await loadVerificationKeys(pubs), at: NOW, ...extra });

  it('checks ids and artifacts, and reports what it did not check', async () => {
    const r = await link({
      expected: { taskId: TASK_ID, runId: 1, workerGroup: 'us-east-1', workerId: 'i-123' },
      artifacts: [
        { name: 'public/build/target.zip', path: join(art, 'public/build/target.zip'), resolved: false },
      ],
    });
    expect(r.artifacts.map((a) => a.name)).toEqual(['public/build/target.zip']);
    expect(r.unchecked).toEqual(['public/logs/live_backing.log']);
  });

  it('HASH_MISMATCH names the task, the artifact, both digests', async () => {
    const tampered = join(dir, 'tampered.zip');
    await writeFile(tampered, 'evil');
    const err = (await link({
      artifacts: [{ name: 'public/build/target.zip', path: tampered, resolved: false }],
    }).catch((e: unknown) => e)) as CotError;
    expect(err.code).toBe('HASH_MISMATCH');
    expect(err.message).toContain(`task ${TASK_ID} run 1`);
    expect(err.message).toContain('public/build/target.zip');
    expect(err.details).toMatchObject({ artifact: 'public/build/target.zip', algorithm: 'sha256' });
  });

  it('ARTIFACT_NOT_LISTED, LINK_ID_MISMATCH, HASH_UNSUPPORTED_ALGORITHM', async () => {
    const f = join(art, 'public/build/target.zip');
    expect(
      await codeOf(link({ artifacts: [{ name: 'public/build/other.zip', path: f, resolved: false }] })),
    ).toBe('ARTIFACT_NOT_LISTED');
    expect(await codeOf(link({ expected: { taskId: 'Se-5NNn4TB65_9383YGsJA' } }))).toBe('LINK_ID_MISMATCH');
    expect(await codeOf(link({ expected: { runId: 0 } }))).toBe('LINK_ID_MISMATCH');
    expect(await codeOf(link({ expected: { workerId: 'i-999' } }))).toBe('LINK_ID_MISMATCH');
    expect(
      await codeOf(
        link({
          hashAlgorithms: ['sha512'],
          artifacts: [{ name: 'public/build/target.zip', path: f, resolved: false }],
        }),
      ),
    ).toBe('HASH_UNSUPPORTED_ALGORITHM');
  });

  it('ARTIFACT_MISSING when every listed artifact is required and one is absent', async () => {
    const f = join(art, 'public/build/target.zip');
    const err = (await link({
      requireAllArtifacts: true,
      artifacts: [{ name: 'public/build/target.zip', path: f, resolved: false }],
    }).catch((e: unknown) => e)) as CotError;
    expect(err.code).toBe('ARTIFACT_MISSING');
    expect(err.details.missing).toEqual(['public/logs/live_backing.log']);
  });

  it('reports every failing artifact at once', async () => {
    const bad = join(dir, 'bad');
    await writeFile(bad, 'x');
    const err = (await link({
      artifacts: [
        { name: 'public/build/target.zip', path: bad, resolved: false },
        { name: 'public/logs/live_backing.log', path: bad, resolved: false },
      ],
    }).catch((e: unknown) => e)) as CotError;
    expect(err.code).toBe('HASH_MISMATCH');
    expect((err.details.failures as unknown[]).length).toBe(2);
  });

  it('a missing signature, a wrong-length signature, and a document signed by nobody allowed', async () => {
    expect(await codeOf(verifyLink({ data: json, keys: await loadVerificationKeys(pubs), at: NOW }))).toBe(
      'SIGNATURE_MISSING',
    );
    expect(await codeOf(link({ signature: sig.subarray(0, 63) }))).toBe('SIGNATURE_MALFORMED');
    expect(await codeOf(link({ keys: await loadVerificationKeys([join(dir, 'pgp.pub')]) }))).toBe(
      'KEY_NOT_FOUND',
    );
  });

  it('an OpenPGP signature block holding a packet OpenPGP.js cannot parse is SIGNATURE_MALFORMED (found by fuzzing)', async () => {
    // 0xE8 0x00: a new-format packet of unknown tag 40, which OpenPGP.js keeps as an unparseable packet
    expect(await codeOf(link({ signature: Buffer.from([0xe8, 0x00]) }))).toBe('SIGNATURE_MALFORMED');
  });
});
