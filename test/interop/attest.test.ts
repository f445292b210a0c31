/**
 * Issue 14: the attestations cot writes are read and checked by implementations that share no code with it.
 *   1. @sigstore/verify (with @sigstore/bundle) verifies the `<name>.sigstore.json` bundle offline, holding only the
 *      verifier's public key; another key and a changed payload byte are refused; the bundle is a v0.3 bundle whose
 *      envelope is the `<name>.intoto.json` envelope.
 *   2. OpenSSL verifies the envelope's ed25519 signature over DSSE's pre-authentication encoding, built here from
 *      the DSSE spec (not with cot's function); and OpenSSL's own signature with the same key is cot's, byte for
 *      byte (ed25519 is deterministic), and cot accepts an envelope OpenSSL signed.
 *   3. Real data: the provenance of a chain around the real Firefox maple decision task of 2018
 *      (../shared/interop/scriptworker-cot, test/helpers/tree-chain.ts) names the repository and revision that task
 *      really ran on, read here from its JSON, only when the policy traces the tree.
 *   4. The library round trip (verifyChain, buildProvenance, signStatement, verifyAttestation) gives what the CLI
 *      wrote. The attest functions are not exported from src/index.ts: they are imported from src/attest/*.
 */
import { spawnSync } from 'node:child_process';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertBundle,
  assertBundleLatest,
  BUNDLE_V03_MEDIA_TYPE,
  bundleFromJSON,
  envelopeToJSON,
  type SerializedBundle,
} from '@sigstore/bundle';
import { type TrustMaterial, toSignedEntity, VerificationError, Verifier } from '@sigstore/verify';
import { beforeAll, describe, expect, it } from 'vitest';
import { signStatement } from '../../src/attest/sign.js';
import { buildProvenance, type InTotoStatement } from '../../src/attest/statement.js';
import { verifyAttestation } from '../../src/attest/verify.js';
import { generateKeyPair, type JsonObject, loadPolicy, verifyChain } from '../../src/index.js';
import { buildTestChain, type TestChain } from '../helpers/chain.js';
import { runCli } from '../helpers/cli.js';
import { codeOf, HAVE_SHARED, SHARED_INTEROP, tempDir } from '../helpers/env.js';
import { DECISION, makeTreeChain, NOW, SIGNING, writeTrees } from '../helpers/tree-chain.js';

const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;
if (!HAVE_OPENSSL)
  console.warn('[cot tests] openssl is not on PATH: the OpenSSL interop tests of attest.test.ts are skipped');

interface Written {
  /** the raw bytes of `<name>.intoto.json` and `<name>.sigstore.json` */
  envelopeBytes: Buffer;
  bundleBytes: Buffer;
  envelope: { payloadType: string; payload: string; signatures: { keyid: string; sig: string }[] };
  bundle: SerializedBundle;
}

/** The verifier's key, read from the files `cot keys new` wrote, without cot's key loaders (JWK from raw bytes). */
interface VerifierKey {
  dir: string;
  privatePath: string;
  publicPath: string;
  publicKey: KeyObject;
  privateKey: KeyObject;
}

let d: string;
let demo: TestChain;
let verifier: VerifierKey;
/** what `cot attest provenance` wrote for the demo chain's root */
let written: Written;

const b64url = (b: Buffer) => b.toString('base64url');

async function makeVerifierKey(dir: string): Promise<VerifierKey> {
  const privatePath = join(dir, 'verifier.key');
  const publicPath = join(dir, 'verifier.pub');
  await generateKeyPair({ type: 'ed25519', out: privatePath, pubOut: publicPath, now: NOW });
  const lastLine = (text: string) =>
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .at(-1)!;
  const x = Buffer.from(lastLine(await readFile(publicPath, 'utf8')), 'base64');
  const seed = Buffer.from(lastLine(await readFile(privatePath, 'utf8')), 'base64');
  expect(x.length).toBe(32);
  expect(seed.length).toBe(32);
  const jwk = { kty: 'OKP', crv: 'Ed25519', x: b64url(x) };
  return {
    dir,
    privatePath,
    publicPath,
    publicKey: createPublicKey({ key: jwk, format: 'jwk' }),
    privateKey: createPrivateKey({ key: { ...jwk, d: b64url(seed) }, format: 'jwk' }),
  };
}

/** `cot attest provenance` (in-process CLI) into `out`; the two files it wrote, parsed with JSON.parse. */
async function attestProvenance(
  queueDir: string,
  policy: string,
  taskId: string,
  out: string,
): Promise<Written> {
  const r = await runCli(
    NOW,
    'attest',
    'provenance',
    taskId,
    '--queue',
    queueDir,
    '--policy',
    policy,
    '--key',
    verifier.privatePath,
    '--out',
    out,
  );
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const envelopeBytes = await readFile(join(out, `${taskId}.provenance.intoto.json`));
  const bundleBytes = await readFile(join(out, `${taskId}.provenance.sigstore.json`));
  return {
    envelopeBytes,
    bundleBytes,
    envelope: JSON.parse(envelopeBytes.toString('utf8')) as Written['envelope'],
    bundle: JSON.parse(bundleBytes.toString('utf8')) as SerializedBundle,
  };
}

/** The statement a written envelope carries (decoded here, unverified: the tests above check the signature). */
function statementOf(w: Written): InTotoStatement {
  return JSON.parse(Buffer.from(w.envelope.payload, 'base64').toString('utf8')) as InTotoStatement;
}

/** Trust material holding one public key and nothing else (no log, CA, timestamp authority). */
function keyOnly(publicKey: KeyObject, hints: string[] = []): TrustMaterial {
  return {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: (hint: string) => {
      hints.push(hint);
      return { publicKey, validFor: () => true };
    },
  };
}

/** @sigstore/verify offline: thresholds at 0 (the bundle has no log entry, certificate or timestamp). */
function sigstoreVerify(bundle: SerializedBundle, publicKey: KeyObject, hints: string[] = []) {
  const verifier = new Verifier(keyOnly(publicKey, hints), {
    tlogThreshold: 0,
    ctlogThreshold: 0,
    timestampThreshold: 0,
  });
  return verifier.verify(toSignedEntity(bundleFromJSON(bundle)));
}

/** DSSE v1 PAE, from protocol.md: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body (LEN: ASCII decimal bytes). */
function pae(payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from('DSSEv1', 'ascii'),
    Buffer.from([0x20]),
    Buffer.from(String(type.byteLength), 'ascii'),
    Buffer.from([0x20]),
    type,
    Buffer.from([0x20]),
    Buffer.from(String(body.byteLength), 'ascii'),
    Buffer.from([0x20]),
    body,
  ]);
}

/** A copy of a serialized bundle whose envelope payload has byte `i` changed (xor 0x01). */
function tamperedPayload(bundle: SerializedBundle, i: number): SerializedBundle {
  const copy = structuredClone(bundle) as SerializedBundle & { dsseEnvelope: { payload: string } };
  const bytes = Buffer.from(copy.dsseEnvelope.payload, 'base64');
  bytes[i] = bytes[i]! ^ 0x01;
  copy.dsseEnvelope.payload = bytes.toString('base64');
  return copy;
}

beforeAll(async () => {
  d = await tempDir('cot-attest-interop-');
  demo = await buildTestChain(join(d, 'demo'), NOW);
  verifier = await makeVerifierKey(d);
  written = await attestProvenance(join(demo.dir, 'queue'), demo.policy, demo.taskId, join(d, 'out'));
});

describe('@sigstore/verify checks the Sigstore bundle cot wrote, holding only the public key', () => {
  it('is a Sigstore bundle v0.3 (assertBundle, assertBundleLatest, mediaType) with a public-key hint and no log entry', () => {
    expect(written.bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    const bundle = bundleFromJSON(written.bundle);
    expect(bundle.mediaType).toBe(BUNDLE_V03_MEDIA_TYPE);
    expect(() => assertBundle(bundle)).not.toThrow();
    expect(() => assertBundleLatest(bundle)).not.toThrow();
    expect(bundle.content.$case).toBe('dsseEnvelope');
    const vm = bundle.verificationMaterial;
    expect(vm.content.$case).toBe('publicKey');
    expect(vm.tlogEntries).toEqual([]);
    expect(vm.timestampVerificationData?.rfc3161Timestamps ?? []).toEqual([]);
    // the hint is the key id the envelope names: SHA256 of the key's DER SubjectPublicKeyInfo
    const spki = verifier.publicKey.export({ format: 'der', type: 'spki' });
    const keyId = `SHA256:${createHash('sha256').update(spki).digest('hex')}`;
    expect(vm.content.$case === 'publicKey' && vm.content.publicKey.hint).toBe(keyId);
    expect(written.envelope.signatures.map((s) => s.keyid)).toEqual([keyId]);
  });

  it("its envelope is the .intoto.json envelope (as JSON, and through @sigstore/bundle's decoding)", () => {
    const serialized = (written.bundle as { dsseEnvelope?: unknown }).dsseEnvelope;
    expect(serialized).toEqual(written.envelope);
    const bundle = bundleFromJSON(written.bundle);
    if (bundle.content.$case !== 'dsseEnvelope') throw new Error('not a DSSE bundle');
    expect(envelopeToJSON(bundle.content.dsseEnvelope)).toEqual(written.envelope);
    expect(
      Buffer.from(bundle.content.dsseEnvelope.payload).equals(
        Buffer.from(written.envelope.payload, 'base64'),
      ),
    ).toBe(true);
    expect(bundle.content.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
  });

  it("Verifier.verify succeeds with the verifier's public key (the key finder asked with the bundle's hint)", () => {
    const hints: string[] = [];
    const signer = sigstoreVerify(written.bundle, verifier.publicKey, hints);
    expect(signer.key.equals(verifier.publicKey)).toBe(true);
    expect(hints).toEqual([written.envelope.signatures[0]!.keyid]);
  });

  it('another ed25519 key: Verifier.verify throws (SIGNATURE_ERROR)', () => {
    const other = generateKeyPairSync('ed25519').publicKey;
    let err: unknown;
    try {
      sigstoreVerify(written.bundle, other);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).code).toBe('SIGNATURE_ERROR');
  });

  it('one byte of the dsseEnvelope payload changed: Verifier.verify throws', () => {
    const payloadLength = Buffer.from(written.envelope.payload, 'base64').length;
    for (const i of [0, Math.floor(payloadLength / 2), payloadLength - 1]) {
      const bad = tamperedPayload(written.bundle, i);
      expect(() => sigstoreVerify(bad, verifier.publicKey)).toThrow(VerificationError);
    }
    // and a changed payload type (the PAE covers it)
    const retyped = structuredClone(written.bundle) as SerializedBundle & {
      dsseEnvelope: { payloadType: string };
    };
    retyped.dsseEnvelope.payloadType = 'application/vnd.in-toto+jsoN';
    expect(() => sigstoreVerify(retyped, verifier.publicKey)).toThrow(VerificationError);
  });
});

describe.skipIf(!HAVE_OPENSSL)('OpenSSL checks the DSSE envelope cot wrote', () => {
  let folder: string;
  let paeBytes: Buffer;
  const run = (...args: string[]) => spawnSync('openssl', args, { cwd: folder, encoding: 'utf8' });
  const verifyWithOpenssl = (paeFile: string, sigFile = 'sig.bin', pub = 'pub.pem') =>
    run('pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', paeFile, '-sigfile', sigFile);

  beforeAll(async () => {
    folder = await tempDir('cot-attest-openssl-');
    const env = written.envelope;
    expect(env.signatures).toHaveLength(1);
    paeBytes = pae(env.payloadType, Buffer.from(env.payload, 'base64'));
    await writeFile(join(folder, 'pae.bin'), paeBytes);
    await writeFile(join(folder, 'sig.bin'), Buffer.from(env.signatures[0]!.sig, 'base64'));
    await writeFile(
      join(folder, 'pub.pem'),
      verifier.publicKey.export({ format: 'pem', type: 'spki' }) as string,
    );
  });

  it('openssl pkeyutl -verify -rawin over the PAE: "Signature Verified Successfully"', () => {
    const head = 'DSSEv1 28 application/vnd.in-toto+json ';
    expect(paeBytes.subarray(0, head.length).toString('ascii')).toBe(head);
    const r = verifyWithOpenssl('pae.bin');
    expect(r.stdout).toContain('Signature Verified Successfully');
    expect(r.status).toBe(0);
  });

  it('a PAE with one byte changed, or another public key: openssl reports a failure', async () => {
    for (const i of [0, 7, paeBytes.length - 1]) {
      const bad = Buffer.from(paeBytes);
      bad[i] = bad[i]! ^ 0x01;
      await writeFile(join(folder, `bad-${i}.bin`), bad);
      const r = verifyWithOpenssl(`bad-${i}.bin`);
      expect(r.stdout).not.toContain('Signature Verified Successfully');
      expect(r.stdout + r.stderr).toMatch(/Signature Verification Failure/);
      expect(r.status).not.toBe(0);
    }
    // the payload alone (no PAE) is not what was signed
    await writeFile(join(folder, 'payload.bin'), Buffer.from(written.envelope.payload, 'base64'));
    expect(verifyWithOpenssl('payload.bin').status).not.toBe(0);
    await writeFile(
      join(folder, 'other.pem'),
      generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }) as string,
    );
    expect(verifyWithOpenssl('pae.bin', 'sig.bin', 'other.pem').status).not.toBe(0);
  });

  it("OpenSSL's signature of the PAE with the verifier's key is cot's signature, and cot accepts an envelope OpenSSL signed", async () => {
    await writeFile(
      join(folder, 'verifier.pem'),
      verifier.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
      { mode: 0o600 },
    );
    const s = run(
      'pkeyutl',
      '-sign',
      '-inkey',
      'verifier.pem',
      '-rawin',
      '-in',
      'pae.bin',
      '-out',
      'openssl.sig',
    );
    expect(s.status, s.stderr).toBe(0);
    const sig = await readFile(join(folder, 'openssl.sig'));
    expect(sig.length).toBe(64);
    // ed25519 is deterministic (RFC 8032): the same key over the same bytes gives the same signature
    expect(sig.toString('base64')).toBe(written.envelope.signatures[0]!.sig);
    // an envelope OpenSSL signed over a statement of its own (a second subject), assembled here
    const statement = statementOf(written);
    statement.subject = [...statement.subject, { name: 'public/extra', digest: { sha256: 'b'.repeat(64) } }];
    const payload = Buffer.from(JSON.stringify(statement), 'utf8');
    await writeFile(join(folder, 'pae2.bin'), pae('application/vnd.in-toto+json', payload));
    expect(
      run('pkeyutl', '-sign', '-inkey', 'verifier.pem', '-rawin', '-in', 'pae2.bin', '-out', 'openssl2.sig')
        .status,
    ).toBe(0);
    const envelope = {
      payloadType: 'application/vnd.in-toto+json',
      payload: payload.toString('base64'),
      signatures: [{ keyid: '', sig: (await readFile(join(folder, 'openssl2.sig'))).toString('base64') }],
    };
    const v = verifyAttestation(Buffer.from(JSON.stringify(envelope)), {
      keys: [verifier.publicKey],
      artifacts: [{ name: 'public/extra', digest: { sha256: 'b'.repeat(64) } }],
    });
    expect(v.format).toBe('dsse');
    expect(v.statement.subject.at(-1)).toEqual({ name: 'public/extra', digest: { sha256: 'b'.repeat(64) } });
    // ... and refuses it once its payload changed (the first subject dropped) under the same signature
    const forged = {
      ...envelope,
      payload: Buffer.from(JSON.stringify({ ...statement, subject: statement.subject.slice(1) })).toString(
        'base64',
      ),
    };
    expect(
      await codeOf(() =>
        verifyAttestation(Buffer.from(JSON.stringify(forged)), { keys: [verifier.publicKey] }),
      ),
    ).toBe('ATTESTATION_SIGNATURE_INVALID');
  });
});

describe.skipIf(!HAVE_SHARED)(
  'the provenance of a chain around the real Firefox maple decision task names its real source (../shared)',
  () => {
    /** What the real decision task says it ran on, from its JSON (not from cot). */
    let real: { repository: string; revision: string; tasksFor: string };
    let traced: InTotoStatement;
    let untraced: InTotoStatement;
    let tracedWritten: Written;
    let signingTask: JsonObject;

    beforeAll(async () => {
      const decision = JSON.parse(
        await readFile(join(SHARED_INTEROP, 'scriptworker-cot/cotv2/decision_hg-push.json'), 'utf8'),
      ) as { payload: { env: Record<string, string> }; extra: { tasks_for: string } };
      real = {
        repository: decision.payload.env.GECKO_HEAD_REPOSITORY!,
        revision: decision.payload.env.GECKO_HEAD_REV!,
        tasksFor: decision.extra.tasks_for,
      };
      expect(real.repository).toBe('https://hg.mozilla.org/projects/maple');
      expect(real.revision).toMatch(/^[0-9a-f]{40}$/);

      const withTree = await makeTreeChain(demo, d, 'real-tree');
      await writeTrees(withTree.dir);
      await writeFile(
        join(withTree.dir, 'policy.yml'),
        `${await readFile(join(withTree.dir, 'policy.yml'), 'utf8')}\ntree:\n  preset: firefox\n  dir: trees\n`,
      );
      tracedWritten = await attestProvenance(
        join(withTree.dir, 'queue'),
        join(withTree.dir, 'policy.yml'),
        SIGNING,
        join(d, 'out-real-tree'),
      );
      traced = statementOf(tracedWritten);
      signingTask = await withTree.queue.task(SIGNING);

      const noTree = await makeTreeChain(demo, d, 'real-no-tree');
      await writeTrees(noTree.dir); // the material is there; the policy does not ask for it
      untraced = statementOf(
        await attestProvenance(
          join(noTree.dir, 'queue'),
          join(noTree.dir, 'policy.yml'),
          SIGNING,
          join(d, 'out-real-no-tree'),
        ),
      );
    });

    it('with tree: {preset: firefox, dir: trees}: externalParameters.source is the real repository and revision, hg-push', () => {
      const bd = traced.predicate.buildDefinition as JsonObject;
      const source = (bd.externalParameters as JsonObject).source;
      expect(source).toEqual({
        traced: true,
        repository: real.repository,
        revision: real.revision,
        tasksFor: real.tasksFor,
        parentTaskId: DECISION,
      });
      expect(real.tasksFor).toBe('hg-push');
    });

    it(`a resolvedDependencies entry hg+<repository>@<revision>`, () => {
      const deps = (traced.predicate.buildDefinition as JsonObject).resolvedDependencies as JsonObject[];
      const uri = `hg+${real.repository}@${real.revision}`;
      expect(uri).toBe(`hg+https://hg.mozilla.org/projects/maple@${real.revision}`);
      const entries = deps.filter((x) => x.uri === uri);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        uri,
        annotations: { repository: real.repository, revision: real.revision, tasksFor: 'hg-push' },
      });
      // a mercurial changeset id is not a git commit: no gitCommit digest is claimed
      expect(entries[0]!.digest).toBeUndefined();
      // only one source is named
      expect(deps.filter((x) => typeof x.uri === 'string' && /^(hg|git)\+/.test(x.uri))).toHaveLength(1);
    });

    it('the real-data bundle verifies with @sigstore/verify too', () => {
      expect(() => sigstoreVerify(tracedWritten.bundle, verifier.publicKey)).not.toThrow();
    });

    it('without a tree section: traced: false, and cot names no revision anywhere (only the signed task definition does)', () => {
      const bd = untraced.predicate.buildDefinition as JsonObject;
      const ext = bd.externalParameters as JsonObject;
      expect(ext.source).toMatchObject({ traced: false });
      expect(Object.keys(ext.source as JsonObject).sort()).toEqual(['reason', 'traced']);
      const deps = bd.resolvedDependencies as JsonObject[];
      expect(deps.some((x) => typeof x.uri === 'string' && /^(hg|git)\+/.test(x.uri))).toBe(false);
      // the signed task definition of the root is carried as it is, and it names the revision itself
      // (metadata.source): what cot says beside it names none
      expect(ext.task).toEqual(signingTask);
      const rest = structuredClone(untraced) as InTotoStatement;
      delete ((rest.predicate.buildDefinition as JsonObject).externalParameters as JsonObject).task;
      const text = JSON.stringify(rest);
      expect(text).not.toContain(real.revision);
      expect(text).not.toContain(real.revision.slice(0, 12));
      // whereas the traced statement names it outside the task definition
      const tracedRest = structuredClone(traced) as InTotoStatement;
      delete ((tracedRest.predicate.buildDefinition as JsonObject).externalParameters as JsonObject).task;
      expect(JSON.stringify(tracedRest)).toContain(real.revision);
    });
  },
);

describe('library round trip (src/attest/*, not exported from src/index.ts)', () => {
  it('verifyChain -> buildProvenance -> signStatement gives the files the CLI wrote, byte for byte, and verifyAttestation accepts both', async () => {
    const loaded = await loadPolicy(demo.policy);
    const report = await verifyChain(demo.queue, demo.taskId, {
      policy: loaded.policy,
      trust: loaded.trust,
      at: NOW,
    });
    expect(report.ok).toBe(true);
    const statement = buildProvenance(report);
    const signed = signStatement(statement, verifier.privateKey);
    expect(signed.envelope).toEqual(written.envelope);
    expect(signed.bundle).toEqual(written.bundle);
    expect(statementOf(written)).toEqual(statement);

    // every subject: the digest of the artifact file in the queue, hashed here
    const artifacts = await Promise.all(
      statement.subject.map(async (s) => {
        const bytes = await readFile(demo.queue.artifactPath(demo.taskId, 0, s.name!));
        return { name: s.name!, digest: { sha256: createHash('sha256').update(bytes).digest('hex') } };
      }),
    );
    expect(artifacts.length).toBeGreaterThan(0);
    for (const [bytes, format] of [
      [written.envelopeBytes, 'dsse'],
      [written.bundleBytes, 'sigstore-bundle'],
    ] as const) {
      const v = verifyAttestation(bytes, { keys: [verifier.publicKey], artifacts });
      expect(v.format).toBe(format);
      expect(v.statement).toEqual(statement);
      expect(v.matched.map((m) => m.name)).toEqual(artifacts.map((a) => a.name));
      expect(
        await codeOf(() => verifyAttestation(bytes, { keys: [generateKeyPairSync('ed25519').publicKey] })),
      ).toBe('ATTESTATION_SIGNATURE_INVALID');
    }
    // a bundle @sigstore/verify refuses, cot refuses too
    const bad = Buffer.from(JSON.stringify(tamperedPayload(written.bundle, 10)));
    expect(await codeOf(() => verifyAttestation(bad, { keys: [verifier.publicKey] }))).toBe(
      'ATTESTATION_SIGNATURE_INVALID',
    );
  });
});
