import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  artifactsFromPaths,
  artifactsToVerify,
  generateChainOfTrust,
  generateKeyPair,
  loadSigningKey,
  loadVerificationKeys,
  presentSigner,
  readLinkFiles,
  type SigningKey,
  signatureFormatFor,
  toPolicy,
  verifyLink,
} from '../../../src/index.js';
import { policyQueueOptions } from '../../../src/queue.js';
import { codeOf, sampleTask, TASK_ID, tempDir } from '../../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');
let dir: string;
let art: string;
let edKey: SigningKey;
let pgpKey: SigningKey;

beforeAll(async () => {
  dir = await tempDir();
  await generateKeyPair({ type: 'ed25519', out: join(dir, 'ed'), pubOut: join(dir, 'ed.pub'), now: NOW });
  await generateKeyPair({
    type: 'openpgp',
    pgpAlgorithm: 'ed25519',
    userId: 'worker <w@example.com>',
    out: join(dir, 'pgp'),
    pubOut: join(dir, 'pgp.pub'),
    now: new Date(NOW.getTime() - 1000),
  });
  edKey = await loadSigningKey(join(dir, 'ed'));
  pgpKey = await loadSigningKey(join(dir, 'pgp'));
  art = join(dir, 'art');
  await mkdir(join(art, 'public/build'), { recursive: true });
  await writeFile(join(art, 'public/build/x.zip'), 'zip bytes');
  await generateChainOfTrust({
    task: sampleTask(),
    taskId: TASK_ID,
    runId: 0,
    workerGroup: 'g',
    workerId: 'w',
    artifactDir: art,
    keys: [edKey, pgpKey],
    format: 'both',
    outDir: join(art, 'public'),
    now: NOW,
  });
});

describe('readLinkFiles: a document and its signature, as cot verify-link reads them', () => {
  it('finds FILE.sig beside an ed25519 document, and the pair verifies', async () => {
    const doc = join(art, 'public/chain-of-trust.json');
    const files = await readLinkFiles(doc);
    expect(files.signaturePath).toBe(`${doc}.sig`);
    expect(files.signature?.length).toBe(64);
    const r = await verifyLink({
      ...files,
      keys: await loadVerificationKeys([join(dir, 'ed.pub')]),
      at: NOW,
    });
    expect(r.signatureKind).toBe('ed25519');
  });

  it('reads no detached signature for a cleartext-signed document, even with a .sig beside it', async () => {
    const asc = join(dir, 'chainOfTrust.json.asc');
    await copyFile(join(art, 'public/chainOfTrust.json.asc'), asc);
    await writeFile(`${asc}.sig`, 'not a signature');
    const files = await readLinkFiles(asc);
    expect(files.signature).toBeUndefined();
    expect(files.data.equals(await readFile(asc))).toBe(true);
  });

  it('takes the signature given over the one beside the document; none at all when there is none', async () => {
    const lone = join(dir, 'lone.json');
    await copyFile(join(art, 'public/chain-of-trust.json'), lone);
    expect((await readLinkFiles(lone)).signature).toBeUndefined();
    const given = await readLinkFiles(lone, join(art, 'public/chain-of-trust.json.sig'));
    expect(given.signaturePath).toBe(join(art, 'public/chain-of-trust.json.sig'));
    expect(await codeOf(readLinkFiles(join(dir, 'missing.json')))).toBe('FILE_NOT_FOUND');
    expect(await codeOf(readLinkFiles(dir))).toBe('FILE_UNREADABLE');
  });
});

describe('artifactsToVerify and artifactsFromPaths: a folder or NAME=PATH pairs', () => {
  it('a downloaded folder: its chain-of-trust files skipped and named; pairs added after it', async () => {
    const r = await artifactsToVerify(art, [`extra/y.txt=${join(art, 'public/build/x.zip')}`]);
    expect(r.sources.map((s) => s.name)).toEqual(['public/build/x.zip', 'extra/y.txt']);
    expect(r.skipped.sort()).toEqual([
      'public/chain-of-trust.json',
      'public/chain-of-trust.json.sig',
      'public/chainOfTrust.json.asc',
    ]);
    expect((await artifactsToVerify(undefined, [])).sources).toEqual([]);
  });

  it('one folder, or files named by their path or NAME=PATH; a folder with other paths is OPTIONS_INVALID', async () => {
    const folder = await artifactsFromPaths([art]);
    expect(folder.sources.map((s) => s.name)).toEqual(['public/build/x.zip']);
    expect(folder.skipped).toHaveLength(3);
    const zip = join(art, 'public/build/x.zip');
    const files = await artifactsFromPaths([`a/b.zip=${zip}`]);
    expect(files.sources.map((s) => [s.name, s.path])).toEqual([['a/b.zip', zip]]);
    expect(await codeOf(artifactsFromPaths([art, zip]))).toBe('OPTIONS_INVALID');
  });
});

describe('signatureFormatFor: the format the keys make', () => {
  it('both kinds: both; else the one kind', () => {
    expect(signatureFormatFor([edKey, pgpKey])).toBe('both');
    expect(signatureFormatFor([pgpKey])).toBe('openpgp');
    expect(signatureFormatFor([edKey])).toBe('ed25519');
  });
});

describe('policyQueueOptions: what a policy sets on the Taskcluster queue', () => {
  it('extra hosts then the policy hosts, and the policy bounds as the queue defaults', () => {
    const policy = toPolicy({
      workerTypes: {},
      decisionWorkerTypes: [],
      allowedHosts: ['cdn.example.com'],
      bounds: { timeoutMs: 5000, deadlineMs: 60_000, minBytesPerSecond: 0 },
    });
    expect(policyQueueOptions(policy, ['mirror.example.com'])).toEqual({
      allowedHosts: ['mirror.example.com', 'cdn.example.com'],
      timeoutMs: 5000,
      downloadDeadlineMs: 60_000,
      minBytesPerSecond: 0,
    });
  });
});

describe('presentSigner: the one presenter of signers', () => {
  it('gives the sentence, the brief chain form and the JSON of each kind', async () => {
    const keys = await loadVerificationKeys([join(dir, 'ed.pub'), join(dir, 'pgp.pub')]);
    const ed = await verifyLink({
      ...(await readLinkFiles(join(art, 'public/chain-of-trust.json'))),
      keys,
      at: NOW,
    });
    const pgp = await verifyLink({
      ...(await readLinkFiles(join(art, 'public/chainOfTrust.json.asc'))),
      keys,
      at: NOW,
    });
    const e = presentSigner(ed.signers[0]!, NOW);
    expect(e.brief).toBe(`ed25519 ${edKey.kind === 'ed25519' ? edKey.publicKey : ''}`);
    expect(e.text).toMatch(/^ed25519 key \S+ \(.*ed\.pub\)$/);
    expect(e.json).toMatchObject({ kind: 'ed25519' });
    expect(e.certifiedBy).toBeUndefined();
    const p = presentSigner(pgp.signers[0]!, NOW);
    const fpr = pgpKey.kind === 'openpgp' ? pgpKey.fingerprint : '';
    expect(p.brief).toBe(`openpgp ${fpr} (worker <w@example.com>)`);
    expect(p.text).toMatch(new RegExp(`^OpenPGP key ${fpr} worker <w@example.com>, signed \\S+ with \\S+$`));
    expect(p.json).toMatchObject({ kind: 'openpgp', fingerprint: fpr, certifiedBy: null });
  });
});
