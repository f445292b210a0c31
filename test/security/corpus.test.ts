/**
 * The adversarial corpus: one row per attack, each asserting the exact error code (or, for the two framing
 * variations that must NOT change the meaning, that the verified bytes are exactly the signed ones).
 * Real keys, real signatures, real HTTP on 127.0.0.1; gpg-made material where OpenPGP.js refuses to produce it.
 */
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enumerateArtifactDir, parseArtifactPair } from '../../src/hashing/artifacts.js';
import {
  type ErrorCode,
  generateChainOfTrust,
  generateKeyPair,
  hashArtifacts,
  loadKeyRepo,
  loadPolicy,
  loadSigningKey,
  type TrustStore,
  verifyChain,
  verifyLink,
} from '../../src/index.js';
import { canonicalize } from '../../src/json/canonical.js';
import { ed25519Sign } from '../../src/keys/ed25519.js';
import { clearsign } from '../../src/pgp/openpgp.js';
import { DirectoryQueue, uploadArtifacts } from '../../src/queue.js';
import { httpGet } from '../../src/transport/http.js';
import { buildTestChain, type TestChain } from '../helpers/chain.js';
import { HAVE_GPG, sampleDocument, sampleTask, TASK_ID, tempDir } from '../helpers/env.js';
import { Gpg } from '../helpers/gpg.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const DAY = 86400_000;
const DOC = canonicalize(sampleDocument());
let d: string;
let store: TrustStore;
let edPriv: import('node:crypto').KeyObject; // generic-worker
let otherEdPriv: import('node:crypto').KeyObject; // docker-worker
let pgpPriv: openpgp.PrivateKey; // docker-worker (flat)
let swPriv: openpgp.PrivateKey; // scriptworker, certified
let rootPriv: openpgp.PrivateKey;
let demo: TestChain;
let gpg: Gpg | undefined;

const genPgp = async (
  email: string,
  date = new Date(NOW.getTime() - 30 * DAY),
  extra: Partial<Parameters<typeof openpgp.generateKey>[0]> = {},
) =>
  (
    await openpgp.generateKey({
      type: 'ecc',
      curve: 'ed25519Legacy',
      userIDs: [{ email }],
      date,
      format: 'object',
      ...extra,
    } as never)
  ).privateKey as unknown as openpgp.PrivateKey;

async function repoWith(name: string, files: Record<string, string>): Promise<TrustStore> {
  const r = join(d, name);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(r, rel, '..'), { recursive: true });
    await writeFile(join(r, rel), text);
  }
  return loadKeyRepo(r);
}

const asImpl = (
  implementation: string,
  data: Buffer | string,
  signature?: Buffer,
  s: TrustStore = store,
  at = NOW,
) =>
  verifyLink({
    data: Buffer.from(data),
    ...(signature ? { signature } : {}),
    trust: { store: s, implementation },
    at,
  });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ACCEPTED';
  } catch (e) {
    if (e && typeof e === 'object' && 'code' in e) return String((e as { code: unknown }).code);
    throw e;
  }
}

beforeAll(async () => {
  d = await tempDir();
  for (const n of ['gw', 'dw'])
    await generateKeyPair({ type: 'ed25519', out: join(d, n), pubOut: join(d, `${n}.pub`), now: NOW });
  const gw = await loadSigningKey(join(d, 'gw'));
  const dw = await loadSigningKey(join(d, 'dw'));
  if (gw.kind !== 'ed25519' || dw.kind !== 'ed25519') throw new Error('kind');
  edPriv = gw.privateKey;
  otherEdPriv = dw.privateKey;
  pgpPriv = await genPgp('docker-worker@example.com');
  rootPriv = await genPgp('root@example.com');
  swPriv = await genPgp('scriptworker@example.com');
  const certified = await swPriv.toPublic().signAllUsers([rootPriv], new Date(NOW.getTime() - 20 * DAY));
  store = await repoWith('repo', {
    'generic-worker/gw.pub': await readFile(join(d, 'gw.pub'), 'utf8'),
    'docker-worker/dw.pub': await readFile(join(d, 'dw.pub'), 'utf8'),
    'docker-worker/pgp.pub': pgpPriv.toPublic().armor(),
    'scriptworker/trusted/root.pub': rootPriv.toPublic().armor(),
    'scriptworker/valid/sw.pub': certified.armor(),
  });
  demo = await buildTestChain(join(d, 'demo'), NOW);
  if (HAVE_GPG) gpg = await Gpg.create(d);
});

const edSig = (text: string | Buffer, key = edPriv) => ed25519Sign(Buffer.from(text), key);
const asc = (text: string, key = pgpPriv, date = NOW) => clearsign(text, key, date);

type Row = [name: string, run: () => Promise<string>, expected: ErrorCode | 'SAME_TEXT'];

const signatureRows: Row[] = [
  [
    'ed25519: a flipped byte in the signed text',
    async () => code(asImpl('generic-worker', Buffer.from(DOC.replace('"w"', '"x"')), edSig(DOC))),
    'SIGNATURE_INVALID',
  ],
  [
    'ed25519: a flipped byte in the signature',
    async () => {
      const s = edSig(DOC);
      s[10] = s[10]! ^ 1;
      return code(asImpl('generic-worker', DOC, s));
    },
    'SIGNATURE_INVALID',
  ],
  [
    'OpenPGP: a flipped byte in the signed text',
    async () => code(asImpl('docker-worker', (await asc(DOC)).replace('"workerId": "w"', '"workerId": "x"'))),
    'SIGNATURE_INVALID',
  ],
  [
    'a valid signature over a different document',
    async () => code(asImpl('generic-worker', DOC, edSig(canonicalize(sampleDocument({ runId: 1 }))))),
    'SIGNATURE_INVALID',
  ],
  [
    'a good ed25519 signature by a key of another implementation',
    async () => code(asImpl('generic-worker', DOC, edSig(DOC, otherEdPriv))),
    'KEY_WRONG_IMPLEMENTATION',
  ],
  [
    'a good OpenPGP signature by a key of another implementation',
    async () => code(asImpl('scriptworker', await asc(DOC))),
    'KEY_WRONG_IMPLEMENTATION',
  ],
  [
    'a scriptworker key certified by no root',
    async () => {
      const s = await repoWith('uncert', {
        'scriptworker/trusted/root.pub': rootPriv.toPublic().armor(),
        'scriptworker/valid/sw.pub': swPriv.toPublic().armor(),
      });
      return code(asImpl('scriptworker', await asc(DOC, swPriv), undefined, s));
    },
    'KEY_UNCERTIFIED',
  ],
  [
    'a scriptworker key certified by an untrusted key',
    async () => {
      const stranger = await genPgp('stranger@example.com');
      const s = await repoWith('untrusted', {
        'scriptworker/trusted/root.pub': rootPriv.toPublic().armor(),
        'scriptworker/valid/sw.pub': (await swPriv.toPublic().signAllUsers([stranger], NOW)).armor(),
      });
      return code(asImpl('scriptworker', await asc(DOC, swPriv), undefined, s));
    },
    'KEY_CERTIFIER_UNKNOWN',
  ],
  [
    'a hard-revoked key (compromised), for a signature made before the revocation',
    async () => {
      const k = await genPgp('hard@example.com');
      const sigText = await asc(DOC, k, new Date(NOW.getTime() - 2 * DAY));
      const revoked = (
        await openpgp.revokeKey({
          key: k,
          reasonForRevocation: { flag: openpgp.enums.reasonForRevocation.keyCompromised },
          date: new Date(NOW.getTime() - DAY),
          format: 'object',
        })
      ).publicKey;
      const s = await repoWith('hard', { 'docker-worker/k.pub': revoked.armor() });
      return code(asImpl('docker-worker', sigText, undefined, s));
    },
    'KEY_REVOKED',
  ],
  [
    'a soft-revoked key (superseded), for a signature made after the revocation',
    async () => {
      const k = await genPgp('soft@example.com');
      const sigText = await asc(DOC, k, NOW);
      const revoked = (
        await openpgp.revokeKey({
          key: k,
          reasonForRevocation: { flag: openpgp.enums.reasonForRevocation.keySuperseded },
          date: new Date(NOW.getTime() - DAY),
          format: 'object',
        })
      ).publicKey;
      const s = await repoWith('soft', { 'docker-worker/k.pub': revoked.armor() });
      return code(asImpl('docker-worker', sigText, undefined, s));
    },
    'KEY_REVOKED',
  ],
  [
    'a key expired at signing time',
    async () => {
      const k = await genPgp('expired@example.com', new Date(NOW.getTime() - 30 * DAY));
      const sigText = await asc(DOC, k, NOW); // signed with the non-expiring copy...
      const published = await openpgp.reformatKey({
        privateKey: k,
        userIDs: [{ email: 'expired@example.com' }],
        keyExpirationTime: 5 * 86400,
        date: new Date(NOW.getTime() - 30 * DAY),
        format: 'object',
      });
      const s = await repoWith('expired', { 'docker-worker/k.pub': published.publicKey.armor() }); // ...but the published key expired
      return code(asImpl('docker-worker', sigText, undefined, s));
    },
    'KEY_EXPIRED',
  ],
  [
    'a far-future signature',
    async () => code(asImpl('docker-worker', await asc(DOC, pgpPriv, new Date(NOW.getTime() + 365 * DAY)))),
    'SIGNATURE_FROM_FUTURE',
  ],
  [
    'two signatures by two allowed keys, one of them over other text',
    async () => {
      // two signers: one signer twice is refused earlier, as a duplicate (test/security/trust-time.test.ts)
      const second = await genPgp('docker-worker-2@example.com');
      const twoSigners = await repoWith('two-signers', {
        'docker-worker/pgp.pub': pgpPriv.toPublic().armor(),
        'docker-worker/pgp2.pub': second.toPublic().armor(),
      });
      const a = await openpgp.sign({
        message: await openpgp.createMessage({ text: DOC }),
        signingKeys: pgpPriv,
        detached: true,
        format: 'binary',
        date: NOW,
        config: { preferredHashAlgorithm: openpgp.enums.hash.sha512 },
      });
      const b = await openpgp.sign({
        message: await openpgp.createMessage({ text: `${DOC} ` }),
        signingKeys: second,
        detached: true,
        format: 'binary',
        date: NOW,
        config: { preferredHashAlgorithm: openpgp.enums.hash.sha512 },
      });
      const both = await openpgp.readSignature({
        binarySignature: new Uint8Array([...(a as Uint8Array), ...(b as Uint8Array)]),
      });
      const framed = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n${DOC}\n${both.armor()}`;
      return code(asImpl('docker-worker', framed, undefined, twoSigners));
    },
    'SIGNATURE_INVALID',
  ],
];

const cleartextRows: Row[] = [
  [
    'text before BEGIN',
    async () => code(asImpl('docker-worker', `{"taskId":"evil"}\n${await asc(DOC)}`)),
    'SIGNATURE_MALFORMED',
  ],
  [
    'text after END',
    async () => code(asImpl('docker-worker', `${await asc(DOC)}{"taskId":"evil"}\n`)),
    'SIGNATURE_MALFORMED',
  ],
  [
    'a second signed block appended',
    async () =>
      code(
        asImpl('docker-worker', `${await asc(DOC)}${await asc(canonicalize(sampleDocument({ runId: 9 })))}`),
      ),
    'SIGNATURE_MALFORMED',
  ],
  [
    'a line starting with "-" that is not dash-escaped',
    async () =>
      code(
        asImpl(
          'docker-worker',
          (await asc(DOC)).replace('\n}\n-----BEGIN PGP SIGNATURE', '\n-}\n-----BEGIN PGP SIGNATURE'),
        ),
      ),
    'SIGNATURE_MALFORMED',
  ],
  [
    'a dash-escaped line (framing only: same verified text)',
    async () => {
      const r = await asImpl('docker-worker', (await asc(DOC)).replace('\n{\n', '\n- {\n'));
      return r.signedBytes.toString('latin1') === DOC ? 'SAME_TEXT' : 'CHANGED';
    },
    'SAME_TEXT',
  ],
  [
    'CRLF line endings (framing only: same verified text)',
    async () => {
      const r = await asImpl('docker-worker', (await asc(DOC)).replace(/\n/g, '\r\n'));
      return r.signedBytes.toString('latin1') === DOC ? 'SAME_TEXT' : 'CHANGED';
    },
    'SAME_TEXT',
  ],
  [
    'trailing whitespace added to a signed line',
    async () => code(asImpl('docker-worker', (await asc(DOC)).replace('"runId": 0,', '"runId": 0, '))),
    'SIGNATURE_MALFORMED',
  ],
  [
    'a form feed at a line end (CVE-2025-68972 class)',
    async () => code(asImpl('docker-worker', (await asc(DOC)).replace('"runId": 0,', '"runId": 0,\f'))),
    'SIGNATURE_MALFORMED',
  ],
  [
    'a Hash: header that disagrees with the signature',
    async () => code(asImpl('docker-worker', (await asc(DOC)).replace('Hash: SHA512', 'Hash: SHA256'))),
    'SIGNATURE_HASH_HEADER_MISMATCH',
  ],
  [
    'an inline-signed message passed as cleartext',
    async () =>
      code(
        asImpl(
          'docker-worker',
          await openpgp.sign({
            message: await openpgp.createMessage({ text: DOC }),
            signingKeys: pgpPriv,
            date: NOW,
          }),
        ),
      ),
    'SIGNATURE_MALFORMED',
  ],
  [
    'a detached signature passed as cleartext',
    async () =>
      code(
        asImpl(
          'docker-worker',
          await openpgp.sign({
            message: await openpgp.createMessage({ text: DOC }),
            signingKeys: pgpPriv,
            detached: true,
            date: NOW,
          }),
        ),
      ),
    'SIGNATURE_MALFORMED',
  ],
];

const signedDoc = (text: string) => asImpl('generic-worker', text, edSig(text));
const docRows: Row[] = [
  ['invalid JSON, validly signed', async () => code(signedDoc('{"taskId": ')), 'DOCUMENT_INVALID'],
  [
    'duplicate keys, validly signed (never "last wins")',
    async () => code(signedDoc(DOC.replace('"taskId":', '"taskId": "LnshJjNXTfeBlPNrAzyy9w",\n  "taskId":'))),
    'DOCUMENT_INVALID',
  ],
  [
    'deep nesting, validly signed',
    async () => code(signedDoc(`${'['.repeat(5000)}${']'.repeat(5000)}`)),
    'DOCUMENT_INVALID',
  ],
  [
    'a very large document (over 64 MiB), validly signed',
    async () => code(signedDoc(`{"x": "${'a'.repeat(65 * 1024 * 1024)}"}`)),
    'DOCUMENT_INVALID',
  ],
  [
    'chainOfTrustVersion 2',
    async () => code(signedDoc(canonicalize(sampleDocument({ chainOfTrustVersion: 2 })))),
    'DOCUMENT_UNSUPPORTED_VERSION',
  ],
  [
    'an uppercase digest',
    async () =>
      code(
        signedDoc(canonicalize(sampleDocument({ artifacts: { 'public/a': { sha256: 'A'.repeat(64) } } }))),
      ),
    'DOCUMENT_INVALID',
  ],
  [
    'a digest of the wrong length',
    async () =>
      code(
        signedDoc(canonicalize(sampleDocument({ artifacts: { 'public/a': { sha256: 'a'.repeat(63) } } }))),
      ),
    'DOCUMENT_INVALID',
  ],
  [
    'a non-hex digest',
    async () =>
      code(
        signedDoc(canonicalize(sampleDocument({ artifacts: { 'public/a': { sha256: 'g'.repeat(64) } } }))),
      ),
    'DOCUMENT_INVALID',
  ],
  [
    'an unknown hash algorithm only',
    async () => {
      const text = canonicalize(
        sampleDocument({ artifacts: { 'public/a': { md5: 'd41d8cd98f00b204e9800998ecf8427e' } } }),
      );
      await writeFile(join(d, 'a'), '');
      return code(
        verifyLink({
          data: Buffer.from(text),
          signature: edSig(text),
          trust: { store, implementation: 'generic-worker' },
          at: NOW,
          artifacts: [parseArtifactPair(`public/a=${join(d, 'a')}`)],
        }),
      );
    },
    'HASH_UNSUPPORTED_ALGORITHM',
  ],
  [
    'a document replayed from another task',
    async () =>
      code(
        verifyLink({
          data: Buffer.from(DOC),
          signature: edSig(DOC),
          trust: { store, implementation: 'generic-worker' },
          at: NOW,
          expected: { taskId: 'Se-5NNn4TB65_9383YGsJA' },
        }),
      ),
    'LINK_ID_MISMATCH',
  ],
  [
    'a document replayed from another run',
    async () =>
      code(
        verifyLink({
          data: Buffer.from(DOC),
          signature: edSig(DOC),
          trust: { store, implementation: 'generic-worker' },
          at: NOW,
          expected: { taskId: TASK_ID, runId: 3 },
        }),
      ),
    'LINK_ID_MISMATCH',
  ],
];

const artifactRows: Row[] = [
  [
    'an artifact name with ".."',
    async () => code(Promise.resolve().then(() => parseArtifactPair('public/../../etc/passwd=/etc/passwd'))),
    'ARTIFACT_NAME_INVALID',
  ],
  [
    'an absolute artifact name',
    async () => code(Promise.resolve().then(() => parseArtifactPair('/etc/passwd=/etc/passwd'))),
    'ARTIFACT_NAME_INVALID',
  ],
  [
    'an artifact name with NUL',
    async () => code(Promise.resolve().then(() => parseArtifactPair('public/a\u0000b=/etc/passwd'))),
    'ARTIFACT_NAME_INVALID',
  ],
  [
    'a symlink escaping the artifact folder',
    async () => {
      const a = join(d, 'escape');
      await mkdir(a, { recursive: true });
      await symlink('/etc/shadow', join(a, 'shadow'));
      return code(enumerateArtifactDir(a));
    },
    'ARTIFACT_UNSAFE_FILE',
  ],
  [
    'a payload artifact claiming a chain-of-trust name',
    async () =>
      code(hashArtifacts([{ name: 'public/chain-of-trust.json', path: join(d, 'gw.pub'), resolved: false }])),
    'ARTIFACT_RESERVED_NAME',
  ],
  [
    'a listed artifact missing when all are required',
    async () =>
      code(
        verifyLink({
          data: Buffer.from(DOC),
          signature: edSig(DOC),
          trust: { store, implementation: 'generic-worker' },
          at: NOW,
          artifacts: [],
          requireAllArtifacts: true,
        }),
      ),
    'ARTIFACT_MISSING',
  ],
  [
    'a consumed artifact the producer never listed',
    async () =>
      code(
        verifyLink({
          data: Buffer.from(DOC),
          signature: edSig(DOC),
          trust: { store, implementation: 'generic-worker' },
          at: NOW,
          artifacts: [parseArtifactPair(`public/other=${join(d, 'gw.pub')}`)],
        }),
      ),
    'ARTIFACT_NOT_LISTED',
  ],
  [
    'an artifact changed between hashing and upload (the document is never uploaded)',
    async () => {
      const art = join(d, 'changing');
      await mkdir(join(art, 'public'), { recursive: true });
      await writeFile(join(art, 'public/a.bin'), 'original');
      const q = new DirectoryQueue(join(d, 'changing-queue'));
      await q.putTask(TASK_ID, sampleTask());
      await q.ensureRun(TASK_ID, 0);
      const key = await loadSigningKey(join(d, 'gw'));
      const r = await generateChainOfTrust({
        task: sampleTask(),
        taskId: TASK_ID,
        runId: 0,
        workerGroup: 'g',
        workerId: 'w',
        artifactDir: art,
        keys: [key],
        format: 'ed25519',
        outDir: join(art, 'public'),
        now: NOW,
      });
      await writeFile(join(art, 'public/a.bin'), 'swapped after hashing');
      const files = [
        ...r.artifacts.map((a) => ({ name: a.name, path: a.path, sha256: a.digests.sha256! })),
        ...r.files.map((f) => ({ name: f.artifact, path: f.path, sha256: f.sha256 })),
      ];
      const got = await code(uploadArtifacts(q, files, { taskId: TASK_ID, runId: 0 }));
      const names = (await q.listArtifacts(TASK_ID, 0)).map((a) => a.name);
      return names.includes('public/chain-of-trust.json') || names.includes('public/a.bin')
        ? 'SOMETHING_UPLOADED'
        : got;
    },
    'ARTIFACT_CHANGED',
  ],
  [
    'an artifact whose bytes changed after signing',
    async () => {
      const text = canonicalize(
        sampleDocument({
          artifacts: {
            'public/a': { sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
          },
        }),
      );
      await writeFile(join(d, 'a2'), 'not empty any more');
      return code(
        verifyLink({
          data: Buffer.from(text),
          signature: edSig(text),
          trust: { store, implementation: 'generic-worker' },
          at: NOW,
          artifacts: [parseArtifactPair(`public/a=${join(d, 'a2')}`)],
        }),
      );
    },
    'HASH_MISMATCH',
  ],
];

async function demoCopy(name: string) {
  const dir = join(d, `chain-${name}`);
  await cp(demo.dir, dir, { recursive: true });
  return { dir, queue: new DirectoryQueue(join(dir, 'queue')) };
}
async function chainCodes(
  dir: string,
  root = demo.taskId,
  policyEdit?: (p: string) => string,
): Promise<string> {
  if (policyEdit)
    await writeFile(join(dir, 'policy.yml'), policyEdit(await readFile(join(dir, 'policy.yml'), 'utf8')));
  const loaded = await loadPolicy(join(dir, 'policy.yml'));
  const r = await verifyChain(new DirectoryQueue(join(dir, 'queue')), root, {
    policy: loaded.policy,
    trust: loaded.trust,
    at: NOW,
  });
  return [...new Set(r.errors.map((e) => e.code))].sort().join(',') || 'ACCEPTED';
}
const chainRows: Row[] = [
  [
    'a decision task on a non-decision worker type',
    async () =>
      // with its only decision task refused, the chain also reaches no verified decision task
      (
        await chainCodes((await demoCopy('dwt')).dir, demo.taskId, (p) =>
          p.replace('[releng-3/decision]', '[releng-3/images]'),
        )
      ).replace('CHAIN_DECISION_WORKER_TYPE,CHAIN_NO_DECISION', 'CHAIN_DECISION_WORKER_TYPE'),
    'CHAIN_DECISION_WORKER_TYPE',
  ],
  [
    'a task definition that differs between queue and signed document',
    async () => {
      const { dir, queue } = await demoCopy('diverge');
      const id = demo.tasks.signing!;
      await queue.putTask(id, {
        ...(await queue.task(id)),
        scopes: ['project:releng:signing:cert:release-signing', 'project:releng:signing:cert:dep-signing'],
      });
      // the queue's definition also no longer matches the task graph: both are reported
      const codes = await chainCodes(dir);
      return codes === 'CHAIN_TASK_GRAPH_MISMATCH,CHAIN_TASK_MISMATCH' ? 'CHAIN_TASK_MISMATCH' : codes;
    },
    'CHAIN_TASK_MISMATCH',
  ],
  [
    'a task missing from task-graph.json (re-signed by the decision worker)',
    async () => {
      const { dir, queue } = await demoCopy('graph');
      const p = queue.artifactPath(demo.tasks.decision!, 0, 'public/task-graph.json');
      const g = JSON.parse(await readFile(p, 'utf8'));
      delete g[demo.tasks.signing!];
      await writeFile(p, JSON.stringify(g));
      const runDir = join(queue.runDir(demo.tasks.decision!, 0), 'artifacts');
      await generateChainOfTrust({
        task: await queue.task(demo.tasks.decision!),
        taskId: demo.tasks.decision!,
        runId: 0,
        workerGroup: 'g',
        workerId: 'w',
        artifactDir: runDir,
        keys: [await loadSigningKey(join(dir, 'keys/docker-worker.key'))],
        format: 'openpgp',
        outDir: join(runDir, 'public'),
        now: NOW,
      });
      return chainCodes(dir);
    },
    'CHAIN_NOT_IN_TASK_GRAPH',
  ],
  [
    'a cycle of upstream links',
    async () => {
      const q = new DirectoryQueue(join(d, 'cycle'));
      const a = 'AAAAAAAAQACAAAAAAAAAAA';
      const b = 'BBBBBBBBQBCBBBBBBBBBBA';
      await q.putTask(
        a,
        sampleTask({ taskGroupId: a, payload: { upstreamArtifacts: [{ taskId: b, paths: ['public/x'] }] } }),
      );
      await q.putTask(
        b,
        sampleTask({ taskGroupId: a, payload: { upstreamArtifacts: [{ taskId: a, paths: ['public/y'] }] } }),
      );
      const loaded = await loadPolicy(demo.policy);
      const r = await verifyChain(q, b, { policy: loaded.policy, trust: loaded.trust, at: NOW });
      return r.errors.some((e) => e.code === 'CHAIN_CYCLE') ? 'CHAIN_CYCLE' : 'NO_CYCLE_REPORTED';
    },
    'CHAIN_CYCLE',
  ],
  [
    'a depth bomb (a long chain of parents)',
    async () => {
      const q = new DirectoryQueue(join(d, 'deep'));
      const ids = Array.from(
        { length: 40 },
        (_, i) =>
          `${String.fromCharCode(65 + (i % 26))}${'A'.repeat(7)}QAC${'A'.repeat(9)}${String.fromCharCode(65 + Math.floor(i / 26))}A`,
      );
      for (let i = 0; i < ids.length; i++)
        await q.putTask(ids[i]!, sampleTask({ taskGroupId: ids[i + 1] ?? ids[i] }));
      const loaded = await loadPolicy(demo.policy);
      const r = await verifyChain(q, ids[0]!, { policy: loaded.policy, trust: loaded.trust, at: NOW });
      return r.errors.some((e) => e.code === 'CHAIN_TOO_DEEP') ? 'CHAIN_TOO_DEEP' : 'NOT_BOUNDED';
    },
    'CHAIN_TOO_DEEP',
  ],
  [
    'a fan-out bomb (one task consuming from hundreds)',
    async () => {
      const q = new DirectoryQueue(join(d, 'fan'));
      const kids = Array.from(
        { length: 150 },
        (_, i) => `${i.toString(36).padStart(2, '0').toUpperCase()}${'A'.repeat(6)}QAC${'A'.repeat(10)}A`,
      );
      const root = 'RRRRRRRRQRCRRRRRRRRRRA';
      await q.putTask(
        root,
        sampleTask({
          taskGroupId: root,
          payload: { upstreamArtifacts: kids.map((k) => ({ taskId: k, paths: ['public/x'] })) },
        }),
      );
      for (const k of kids) await q.putTask(k, sampleTask({ taskGroupId: root }));
      const loaded = await loadPolicy(demo.policy); // maxTasks: 100
      const r = await verifyChain(q, root, { policy: loaded.policy, trust: loaded.trust, at: NOW });
      return r.errors.some((e) => e.code === 'CHAIN_TOO_MANY_TASKS') ? 'CHAIN_TOO_MANY_TASKS' : 'NOT_BOUNDED';
    },
    'CHAIN_TOO_MANY_TASKS',
  ],
];

// a hostile HTTP server on 127.0.0.1
let hostile: http.Server;
let base = '';
const transportRows: Row[] = [
  [
    'a redirect to a disallowed host',
    async () => code(httpGet(`${base}/to-metadata`, { retries: 0 })),
    'TRANSPORT_REDIRECT_REFUSED',
  ],
  [
    'a redirect loop',
    async () => code(httpGet(`${base}/loop-a`, { retries: 0 })),
    'TRANSPORT_REDIRECT_REFUSED',
  ],
  [
    'too many redirects',
    async () => code(httpGet(`${base}/chain/0`, { retries: 0 })),
    'TRANSPORT_REDIRECT_REFUSED',
  ],
  [
    'a truncated body',
    async () => code(readBody(httpGet(`${base}/truncated`, { retries: 0 }))),
    'TRANSPORT_NETWORK',
  ],
  [
    'a wrong content-length (longer than the body)',
    async () => code(readBody(httpGet(`${base}/short`, { retries: 0 }))),
    'TRANSPORT_NETWORK',
  ],
  [
    'a server that stalls',
    async () => code(readBody(httpGet(`${base}/stall`, { retries: 1, timeoutMs: 200, retryDelayMs: 1 }))),
    'TRANSPORT_NETWORK',
  ],
  [
    'a 5xx storm (bounded retries, then a clear error)',
    async () => code(httpGet(`${base}/storm`, { retries: 3, retryDelayMs: 1 })),
    'TRANSPORT_HTTP',
  ],
  [
    'a gzip bomb on download',
    async () => code(readBody(httpGet(`${base}/bomb`, { retries: 0, maxBytes: 10 * 1024 * 1024 }))),
    'TRANSPORT_TOO_LARGE',
  ],
];
async function readBody(p: Promise<{ stream: NodeJS.ReadableStream }>) {
  const b = await p;
  for await (const _ of b.stream as AsyncIterable<Buffer>) {
    // drain
  }
}

beforeAll(async () => {
  const bomb = gzipSync(Buffer.alloc(200 * 1024 * 1024));
  hostile = http.createServer((req, res) => {
    const u = req.url ?? '';
    if (u === '/to-metadata') res.writeHead(302, { location: 'http://169.254.169.254/latest/' }).end();
    else if (u === '/loop-a') res.writeHead(302, { location: '/loop-b' }).end();
    else if (u === '/loop-b') res.writeHead(302, { location: '/loop-a' }).end();
    else if (u.startsWith('/chain/'))
      res.writeHead(302, { location: `/chain/${Number(u.slice(7)) + 1}` }).end();
    else if (u === '/truncated') {
      res.writeHead(200, { 'content-length': '100000' });
      res.write(Buffer.alloc(1000));
      setTimeout(() => res.socket?.destroy(), 20);
    } else if (u === '/short') {
      res.writeHead(200, { 'content-length': '5000' });
      res.end(Buffer.alloc(10));
    } else if (u === '/stall') setTimeout(() => res.end('late'), 2000);
    else if (u === '/storm') res.writeHead(503).end();
    else if (u === '/bomb')
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(bomb.length) }).end(bomb);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
});
afterAll(() => {
  hostile.closeAllConnections();
  hostile.close();
});

/** A document clearsigned by a fresh gpg key of `algo`, verified against a repository holding only that key. */
async function gpgSigned(
  name: string,
  algo: 'ed25519' | 'dsa2048' | 'rsa1024',
  gpgArgs: string[] = [],
): Promise<string> {
  const fpr = gpg!.genKey(`${name} <${name}@example.com>`, algo);
  await writeFile(join(d, 'doc.json'), DOC);
  const s = await repoWith(`gpg-${name}`, { 'docker-worker/k.pub': gpg!.exportPublic(fpr) });
  const signed = gpg!.ok([
    ...gpgArgs,
    '--local-user',
    fpr,
    '--clearsign',
    '--output',
    '-',
    join(d, 'doc.json'),
  ]);
  return code(asImpl('docker-worker', signed, undefined, s, new Date()));
}

const gpgRows: Row[] = [
  [
    'a SHA-1 signature (gpg)',
    () => gpgSigned('sha1', 'ed25519', ['--digest-algo', 'SHA1']),
    'SIGNATURE_WEAK_HASH',
  ],
  ['DSA key material (gpg)', () => gpgSigned('dsa', 'dsa2048'), 'KEY_WEAK'],
  ['RSA-1024 key material (gpg)', () => gpgSigned('rsa1024', 'rsa1024'), 'KEY_WEAK'],
  [
    'a signature made before the key existed (gpg, faked clock)',
    () =>
      gpgSigned('young', 'ed25519', ['--faked-system-time', '20200101T000000!', '--ignore-time-conflict']),
    'KEY_NOT_YET_VALID',
  ],
];

describe('adversarial corpus', () => {
  const all = [
    ...signatureRows,
    ...cleartextRows,
    ...docRows,
    ...artifactRows,
    ...chainRows,
    ...transportRows,
  ];
  it(`holds at least 40 distinct attacks (${all.length + gpgRows.length})`, () => {
    expect(new Set([...all, ...gpgRows].map((r) => r[0])).size).toBeGreaterThanOrEqual(40);
  });
  describe('signatures', () =>
    it.each(signatureRows)('%s', async (_n, run, expected) => expect(await run()).toBe(expected)));
  describe('cleartext tricks', () =>
    it.each(cleartextRows)('%s', async (_n, run, expected) => expect(await run()).toBe(expected)));
  describe('documents', () =>
    it.each(docRows)('%s', async (_n, run, expected) => expect(await run()).toBe(expected)));
  describe('artifacts', () =>
    it.each(artifactRows)('%s', async (_n, run, expected) => expect(await run()).toBe(expected)));
  describe('chains', () =>
    it.each(chainRows)('%s', async (_n, run, expected) => expect(await run()).toBe(expected)));
  describe('transport', () =>
    it.each(transportRows)('%s', async (_n, run, expected) => expect(await run()).toBe(expected)));
  describe.skipIf(!HAVE_GPG)('weak and odd material made by gpg', () =>
    it.each(gpgRows)('%s', async (_n, run, expected) => expect(await run()).toBe(expected)),
  );
});
