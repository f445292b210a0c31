import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SIGSTORE_BUNDLE_MEDIA_TYPE, toSigstoreBundle } from '../../../src/attest/bundle.js';
import { attestationKeyId, IN_TOTO_PAYLOAD_TYPE, signEnvelope } from '../../../src/attest/dsse.js';
import { type SignedAttestation, signStatement } from '../../../src/attest/sign.js';
import {
  buildProvenance,
  buildVerificationSummary,
  type InTotoStatement,
} from '../../../src/attest/statement.js';
import { type VerifyAttestationOptions, verifyAttestation } from '../../../src/attest/verify.js';
import { summaryPolicy } from '../../../src/cli/attest-io.js';
import { type CotError, loadPolicy } from '../../../src/index.js';
import { buildTestChain, type TestChain } from '../../helpers/chain.js';
import { errorOf, tempDir } from '../../helpers/env.js';

// verifyAttestation on what cot writes (the DSSE envelope and the Sigstore bundle of a signed statement, as
// attest-io writes them) and on statements signed here to break one rule each.

const NOW = new Date('2026-11-25T12:00:00Z');
const verifier = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** The bytes of a file as cot writes it (attest-io writeAttestation). */
const fileBytes = (v: unknown) => Buffer.from(`${JSON.stringify(v, null, 2)}\n`);

let good: TestChain;
let provenance: InTotoStatement;
let signed: SignedAttestation;
let passed: SignedAttestation;
let failed: SignedAttestation;
let manifest: Buffer;
let tamperedRoot: string;

beforeAll(async () => {
  const d = await tempDir('cot-attest-verify-');
  good = await buildTestChain(join(d, 'good'), NOW);
  const tampered = await buildTestChain(join(d, 'tampered'), NOW, { tamper: true });
  tamperedRoot = tampered.taskId;
  provenance = buildProvenance(good.report);
  signed = signStatement(provenance, verifier.privateKey);
  const summary = async (c: TestChain) =>
    signStatement(
      buildVerificationSummary(c.report, {
        verifier: { version: { cot: '0.1.0' } },
        policy: summaryPolicy(await loadPolicy(c.policy)),
      }),
      verifier.privateKey,
    );
  passed = await summary(good);
  failed = await summary(tampered);
  manifest = await readFile(good.queue.artifactPath(good.taskId, 0, 'public/manifest.json'));
});

const check = (bytes: Uint8Array, o: Partial<VerifyAttestationOptions> = {}) =>
  verifyAttestation(bytes, { keys: [verifier.publicKey], source: 'att.json', ...o });
const failure = (bytes: Uint8Array, o: Partial<VerifyAttestationOptions> = {}): Promise<CotError> =>
  errorOf(Promise.resolve().then(() => check(bytes, o)));

/** A statement (any JSON) signed as an in-toto envelope with the verifier's key. */
const signedJson = (value: unknown) =>
  fileBytes(signEnvelope(Buffer.from(JSON.stringify(value)), IN_TOTO_PAYLOAD_TYPE, verifier.privateKey));

describe('what cot wrote verifies', () => {
  it('the DSSE envelope and the Sigstore bundle of a provenance, with a real subject file', () => {
    const artifacts = [{ name: 'public/manifest.json', digest: { sha256: sha256(manifest) } }];
    for (const [format, bytes] of [
      ['dsse', fileBytes(signed.envelope)],
      ['sigstore-bundle', fileBytes(signed.bundle)],
    ] as const) {
      const v = check(bytes, { artifacts });
      expect(v.format).toBe(format);
      expect(v.keyId).toBe(attestationKeyId(verifier.publicKey));
      expect(v.statement).toEqual(JSON.parse(JSON.stringify(provenance)));
      expect(v.matched).toEqual([provenance.subject[0]]);
      expect(v).not.toHaveProperty('verificationResult');
    }
    expect(signed.bundle.mediaType).toBe(SIGSTORE_BUNDLE_MEDIA_TYPE);
    expect(signed.keyId).toBe(attestationKeyId(verifier.publicKey));
  });

  it('one key of several may have signed; a digest in uppercase or a second algorithm still matches', () => {
    const v = check(fileBytes(signed.bundle), {
      keys: [stranger.publicKey, verifier.publicKey],
      artifacts: [
        {
          name: 'public/manifest.json',
          digest: {
            sha256: sha256(manifest).toUpperCase(),
            sha512: createHash('sha512').update(manifest).digest('hex'),
          },
        },
      ],
    });
    expect(v.matched).toHaveLength(1);
  });

  it('a verification summary: PASSED is accepted; FAILED is ATTESTATION_FAILED unless acceptFailed', async () => {
    for (const f of [passed.envelope, passed.bundle])
      expect(check(fileBytes(f)).verificationResult).toBe('PASSED');
    for (const f of [failed.envelope, failed.bundle]) {
      const e = await failure(fileBytes(f));
      expect(e.code).toBe('ATTESTATION_FAILED');
      expect(e.details).toMatchObject({ resourceUri: `urn:taskcluster:task:${tamperedRoot}` });
      const v = check(fileBytes(f), { acceptFailed: true });
      expect(v.verificationResult).toBe('FAILED');
      expect((v.statement.predicate as { verifiedLevels: string[] }).verifiedLevels).toEqual(['FAILED']);
    }
  });
});

describe('subjects: ATTESTATION_SUBJECT_MISMATCH with details', () => {
  it('a file under a name that is not a subject', async () => {
    const e = await failure(fileBytes(signed.envelope), {
      artifacts: [{ name: 'public/other.json', path: 'x/other.json', digest: { sha256: sha256(manifest) } }],
    });
    expect(e.code).toBe('ATTESTATION_SUBJECT_MISMATCH');
    expect(e.details).toEqual({ artifact: 'public/other.json', reason: 'not-a-subject' });
    expect(e.message).toContain('public/other.json (x/other.json) is not a subject');
  });

  it('a file whose digest differs', async () => {
    const changed = Buffer.concat([manifest, Buffer.from(' ')]);
    for (const bytes of [fileBytes(signed.envelope), fileBytes(signed.bundle)]) {
      const e = await failure(bytes, {
        artifacts: [{ name: 'public/manifest.json', digest: { sha256: sha256(changed) } }],
      });
      expect(e.code).toBe('ATTESTATION_SUBJECT_MISMATCH');
      expect(e.details).toEqual({
        artifact: 'public/manifest.json',
        reason: 'digest-mismatch',
        algorithm: 'sha256',
        expected: [sha256(manifest)],
        found: sha256(changed),
      });
    }
    // the second of two files given is wrong: refused all the same
    const e = await failure(fileBytes(signed.envelope), {
      artifacts: [
        { name: 'public/manifest.json', digest: { sha256: sha256(manifest) } },
        { name: 'public/manifest.json', digest: { sha256: sha256(changed) } },
      ],
    });
    expect(e.code).toBe('ATTESTATION_SUBJECT_MISMATCH');
  });

  it('a file hashed with no algorithm the subject lists', async () => {
    const e = await failure(fileBytes(signed.envelope), {
      artifacts: [
        {
          name: 'public/manifest.json',
          digest: { sha512: createHash('sha512').update(manifest).digest('hex') },
        },
      ],
    });
    expect(e.code).toBe('ATTESTATION_SUBJECT_MISMATCH');
    expect(e.details).toMatchObject({ reason: 'digest-mismatch' });
    expect(e.message).toMatch(/lists no digest algorithm the file was hashed with \(sha512\)/);
  });
});

describe('statements that break the in-toto or SLSA rules: ATTESTATION_INVALID naming the field', () => {
  // biome-ignore lint/suspicious/noExplicitAny: a statement edited freely, to break one rule
  type Loose = Record<string, any>;
  type Edit = (s: Loose) => void;
  const cases: [string, () => InTotoStatement, Edit, RegExp][] = [
    [
      'a wrong _type',
      () => provenance,
      (s) => (s._type = 'https://in-toto.io/Statement/v0.1'),
      /^_type must be/,
    ],
    ['an empty subject list', () => provenance, (s) => (s.subject = []), /^subject must be a non-empty list/],
    ['no subject', () => provenance, (s) => delete s.subject, /^subject must be a non-empty list/],
    [
      'a subject without a digest',
      () => provenance,
      (s) => (s.subject = [{ name: 'public/manifest.json' }]),
      /^subject\[0\]\.digest is required/,
    ],
    [
      'a subject digest in uppercase hex',
      () => provenance,
      (s) => (s.subject[0].digest.sha256 = s.subject[0].digest.sha256.toUpperCase()),
      /^subject\[0\]\.digest\.sha256 must be lowercase hex of 64 digits/,
    ],
    [
      'a sha256 digest of the wrong length',
      () => provenance,
      (s) => (s.subject[0].digest.sha256 = 'ab'),
      /^subject\[0\]\.digest\.sha256 must be lowercase hex of 64 digits/,
    ],
    [
      'a predicateType that is no URI',
      () => provenance,
      (s) => (s.predicateType = 'slsa'),
      /predicateType must be an absolute URI/,
    ],
    [
      'a provenance without buildType',
      () => provenance,
      (s) => delete s.predicate.buildDefinition.buildType,
      /^predicate\.buildDefinition\.buildType is required/,
    ],
    [
      'a provenance without builder id',
      () => provenance,
      (s) => delete s.predicate.runDetails.builder.id,
      /^predicate\.runDetails\.builder\.id is required/,
    ],
    [
      'a provenance whose startedOn is no RFC 3339 time',
      () => provenance,
      (s) => (s.predicate.runDetails.metadata.startedOn = '2026-11-25 11:30'),
      /^predicate\.runDetails\.metadata\.startedOn must be an RFC 3339 time/,
    ],
    [
      'a resolved dependency with neither uri, digest nor content',
      () => provenance,
      (s) => (s.predicate.buildDefinition.resolvedDependencies = [{ name: 'x' }]),
      /^predicate\.buildDefinition\.resolvedDependencies\[0\] needs one of uri, digest, content/,
    ],
    [
      'a summary whose verificationResult is OK',
      () => JSON.parse(Buffer.from(passed.envelope.payload, 'base64').toString()),
      (s) => (s.predicate.verificationResult = 'OK'),
      /^predicate\.verificationResult must be PASSED or FAILED \("OK"\)/,
    ],
    [
      'a summary without resourceUri',
      () => JSON.parse(Buffer.from(passed.envelope.payload, 'base64').toString()),
      (s) => delete s.predicate.resourceUri,
      /^predicate\.resourceUri is required/,
    ],
    [
      'a summary without a policy uri',
      () => JSON.parse(Buffer.from(passed.envelope.payload, 'base64').toString()),
      (s) => delete s.predicate.policy.uri,
      /^predicate\.policy\.uri is required/,
    ],
  ];
  for (const [what, base, edit, field] of cases)
    it(what, async () => {
      const s = structuredClone(base()) as Loose;
      edit(s);
      const e = await failure(signedJson(s));
      expect(e.code).toBe('ATTESTATION_INVALID');
      const problems = (e.details as { problems: string[] }).problems;
      expect(
        problems.some((p) => field.test(p)),
        problems.join('; '),
      ).toBe(true);
      expect(e.message).toContain(problems[0]!);
    });

  it('the unchanged statements pass the same checks (the cases above break one rule each)', () => {
    expect(check(signedJson(provenance)).statement).toEqual(JSON.parse(JSON.stringify(provenance)));
    const vsa = JSON.parse(Buffer.from(passed.envelope.payload, 'base64').toString());
    expect(check(signedJson(vsa)).verificationResult).toBe('PASSED');
  });

  it('a signed payload that is not JSON, or not an object', async () => {
    const notJson = fileBytes(
      signEnvelope(Buffer.from('not json'), IN_TOTO_PAYLOAD_TYPE, verifier.privateKey),
    );
    const e = await failure(notJson);
    expect(e.code).toBe('ATTESTATION_INVALID');
    expect(e.message).toMatch(/the signed payload is not strict JSON/);
    expect((await failure(signedJson([provenance]))).message).toMatch(/the payload is not a JSON object/);
  });

  it('a file that is not JSON, or JSON that is no envelope: ATTESTATION_INVALID', async () => {
    const e = await failure(Buffer.from('hello\n'));
    expect(e.code).toBe('ATTESTATION_INVALID');
    expect(e.message).toMatch(/not a DSSE envelope or Sigstore bundle/);
    expect((await failure(Buffer.from('{"payload": "e30="}'))).code).toBe('ATTESTATION_INVALID');
  });

  it('no key at all is a usage error of the library', async () => {
    expect((await failure(fileBytes(signed.envelope), { keys: [] })).code).toBe('OPTIONS_INVALID');
  });
});

describe('signatures', () => {
  it('another key: ATTESTATION_SIGNATURE_INVALID, for the envelope and the bundle', async () => {
    for (const f of [signed.envelope, signed.bundle])
      expect((await failure(fileBytes(f), { keys: [stranger.publicKey] })).code).toBe(
        'ATTESTATION_SIGNATURE_INVALID',
      );
  });

  it('an envelope or a bundle whose payload was changed: ATTESTATION_SIGNATURE_INVALID', async () => {
    const edited = JSON.parse(JSON.stringify(provenance)) as InTotoStatement;
    edited.subject[0]!.digest!.sha256 = sha256(Buffer.from('evil'));
    const payload = Buffer.from(JSON.stringify(edited)).toString('base64');
    const env = { ...signed.envelope, payload };
    expect((await failure(fileBytes(env))).code).toBe('ATTESTATION_SIGNATURE_INVALID');
    const bundle = structuredClone(signed.bundle) as { dsseEnvelope: { payload: string } };
    bundle.dsseEnvelope.payload = payload;
    const e = await failure(fileBytes(bundle));
    expect(e.code).toBe('ATTESTATION_SIGNATURE_INVALID');
    expect(e.message).toMatch(/the bundle's signature does not verify/);
  });

  it('a genuine envelope of another payload type, plain or in a bundle: ATTESTATION_PAYLOAD_TYPE', async () => {
    const env = signEnvelope(
      Buffer.from(JSON.stringify(provenance)),
      'application/json',
      verifier.privateKey,
    );
    expect((await failure(fileBytes(env))).code).toBe('ATTESTATION_PAYLOAD_TYPE');
    const bundle = toSigstoreBundle(env, attestationKeyId(verifier.publicKey));
    expect((await failure(fileBytes(bundle))).code).toBe('ATTESTATION_PAYLOAD_TYPE');
  });
});

describe('bundles cot cannot check offline with a key: ATTESTATION_INVALID', () => {
  type Bundle = { verificationMaterial?: Record<string, unknown> } & Record<string, unknown>;
  const b64 = (n: number) => randomBytes(n).toString('base64');

  it('a bundle with a transparency-log entry', async () => {
    const bundle = structuredClone(signed.bundle) as Bundle;
    bundle.verificationMaterial!.tlogEntries = [
      {
        logIndex: '12345',
        logId: { keyId: b64(32) },
        kindVersion: { kind: 'dsse', version: '0.0.1' },
        integratedTime: '1764000000',
        inclusionPromise: { signedEntryTimestamp: b64(64) },
        inclusionProof: {
          logIndex: '12345',
          rootHash: b64(32),
          treeSize: '20000',
          hashes: [b64(32)],
          checkpoint: { envelope: 'rekor.sigstore.dev - 1\n20000\nAAAA\n' },
        },
        canonicalizedBody: b64(100),
      },
    ];
    const e = await failure(fileBytes(bundle));
    expect(e.code).toBe('ATTESTATION_INVALID');
    expect(e.message).toMatch(/carries 1 transparency-log entry, which cannot be checked offline/);
  });

  it('a bundle signed with a certificate (keyless)', async () => {
    const bundle = structuredClone(signed.bundle) as Bundle;
    delete bundle.verificationMaterial!.publicKey;
    bundle.verificationMaterial!.certificate = { rawBytes: b64(300) };
    const e = await failure(fileBytes(bundle));
    expect(e.code).toBe('ATTESTATION_INVALID');
    expect(e.message).toMatch(/signed with a certificate/);
  });

  it('a bundle holding a message signature, and a bundle that is not one', async () => {
    const bundle = structuredClone(signed.bundle) as Bundle;
    delete bundle.dsseEnvelope;
    bundle.messageSignature = {
      messageDigest: { algorithm: 'SHA2_256', digest: b64(32) },
      signature: b64(64),
    };
    const e = await failure(fileBytes(bundle));
    expect(e.code).toBe('ATTESTATION_INVALID');
    expect(e.message).toMatch(/a message signature, not a DSSE envelope/);
    const broken = structuredClone(signed.bundle) as Bundle;
    delete broken.verificationMaterial;
    const b = await failure(fileBytes(broken));
    expect(b.code).toBe('ATTESTATION_INVALID');
    expect(b.message).toMatch(/not a valid Sigstore bundle/);
  });
});
