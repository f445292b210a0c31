import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateProvenance, validateStatement, validateVsa } from '../../helpers/attest-schemas.js';

// The JSON Schemas of test/schemas (in-toto Statement v1, SLSA v1.0 provenance and VSA predicates) against the
// examples the specs print, and against broken variants that each break one published rule.

const SCHEMAS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schemas');

type Json = Record<string, unknown>;
const clone = <T>(v: T): T => structuredClone(v);

/**
 * The specs print some digests elided ("7f4714fd..."). To validate such an example the elided digest is completed
 * to the algorithm's length with zeros after the printed prefix; the printed form itself is refused (below).
 */
const completed = (shown: string, hexLength: number) => shown.padEnd(hexLength, '0');

/** `problems` is non-empty and one line matches `reason` (the failure message lists them all). */
function expectRefused(problems: string[], reason: RegExp): void {
  expect(problems.length, 'the document was accepted').toBeGreaterThan(0);
  expect(
    problems.some((p) => reason.test(p)),
    `no problem matches ${reason}:\n${problems.join('\n')}`,
  ).toBe(true);
}

// ---- examples printed by the specs -------------------------------------------------------------------------

// in-toto/attestation spec/v1/resource_descriptor.md, "Examples" (as printed, elided digests included)
const RD_EXAMPLES_AS_PRINTED: Record<string, Json> = {
  'pointer to a file': {
    name: 'Foo.apk',
    uri: 'git+https://android.googlesource.com/platform/vendor/foo/bar@16244f4e7524d44a8f3060905eaf9190e96e9fb0#prebuilts/Foo/Foo.apk',
    digest: { sha256: '7f4714fd...' },
  },
  'pointer to a git repo (with annotations)': {
    uri: 'git+https://github.com/actions/runner',
    digest: { sha1: 'd61b27b8395512...' },
    annotations: { twoPartyReview: false },
  },
  'pointer to another in-toto attestation': {
    name: 'gcc_9.3.0-1ubuntu2_amd64.intoto.json',
    digest: { sha256: 'abcdabcde...' },
    downloadLocation: 'http://example.com/rebuilderd-instance/gcc_9.3.0-1ubuntu2_amd64.intoto.json',
    mediaType: 'application/x.dsse+json',
  },
  'pointer to build service': { uri: 'https://cloudbuild.googleapis.com/GoogleHostedWorker@v1' },
  'descriptor for Tekton TaskRun': {
    uri: 'https://tekton.dev/TaskRun/check/result/report',
    digest: { sha256: 'ec87961dbfe8e7d8a73890c602ac7bd407b80b9e31c326beb9110bdd255f12e6' },
    content:
      'eyAicmVzdWx0IjogIlNVQ0NFU1MiLCAidGltZXN0YW1wIjogIjE2Nzc4NzIyMzYiLCAic3VjY2Vzc2VzIjogMjIsICJmYWlsdXJlcyI6IDAsICJ3YXJuaW5ncyI6MCB9',
    mediaType: 'application/json',
  },
};
// the same with the elided digests completed
const RD_EXAMPLES: Record<string, Json> = clone(RD_EXAMPLES_AS_PRINTED);
(RD_EXAMPLES['pointer to a file']!.digest as Json).sha256 = completed('7f4714fd', 64);
(RD_EXAMPLES['pointer to a git repo (with annotations)']!.digest as Json).sha1 = completed(
  'd61b27b8395512',
  40,
);
(RD_EXAMPLES['pointer to another in-toto attestation']!.digest as Json).sha256 = completed('abcdabcde', 64);

// slsa-framework/github-actions-buildtypes workflow/v1/example.json (commit 5f855ef0106dad3ee0e0f1046dc31b3b65152956),
// the complete example predicate that SLSA v1.0 provenance.md links from its "Index of build types"
const GHA_STATEMENT: Json = {
  _type: 'https://in-toto.io/Statement/v1',
  predicateType: 'https://slsa.dev/provenance/v1',
  predicate: {
    buildDefinition: {
      buildType: 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
      externalParameters: {
        inputs: { build_id: 123456768, deploy_target: 'deployment_sys_1a', perform_deploy: 'true' },
        vars: { MASCOT: 'Mona' },
        workflow: {
          ref: 'refs/heads/main',
          repository: 'https://github.com/octocat/hello-world',
          path: '.github/workflow/release.yml',
        },
      },
      internalParameters: { github: { actor_id: '1234567', event_name: 'workflow_dispatch' } },
      resolvedDependencies: [
        {
          uri: 'git+https://github.com/octocat/hello-world@refs/heads/main',
          digest: { gitCommit: 'c27d339ee6075c1f744c5d4b200f7901aad2c369' },
        },
        { uri: 'https://github.com/actions/virtual-environments/releases/tag/ubuntu20/20220515.1' },
      ],
    },
    runDetails: {
      builder: {
        id: 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml@refs/tags/v0.0.1',
      },
      metadata: {
        invocationId: 'https://github.com/octocat/hello-world/actions/runs/1536140711/attempts/1',
        startedOn: '2023-01-01T12:34:56Z',
      },
    },
  },
  subject: [
    { name: '_', digest: { sha256: 'fe4fe40ac7250263c5dbe1cf3138912f3f416140aa248637a60d65fe22c47da4' } },
  ],
};
const GHA_PREDICATE = GHA_STATEMENT.predicate as Json;

// slsa-framework/gcb-buildtypes triggered-build/v1/example.json (commit 928c75d6d94836f975adad4ba9277a18a4dc7b61),
// the other build type the index links. It has no runDetails.builder, which provenance.md REQUIRES for Build L1.
const GCB_STATEMENT: Json = {
  _type: 'https://in-toto.io/Statement/v1',
  predicateType: 'https://slsa.dev/provenance/v1',
  predicate: {
    buildDefinition: {
      buildType: 'https://slsa-framework.github.io/gcb-buildtypes/triggered-build/v1',
      externalParameters: {
        configSource: {
          ref: 'refs/heads/main',
          repository: 'https://github.com/GoogleCloudPlatform/cloud-build-samples',
          path: 'basic-config/cloudbuild.yaml',
        },
        sourceToBuild: { dir: 'basic-config' },
        substitutions: { count: '3', mass: '1.3kg', name: 'wrench' },
      },
      resolvedDependencies: [
        {
          uri: 'git+https://github.com/GoogleCloudPlatform/cloud-build-samples@refs/heads/main',
          digest: { sha1: 'bb0fe8075f92bb82b679afe400a47b106f0cec4b' },
        },
      ],
    },
    runDetails: {
      metadata: {
        invocationId:
          'https://cloudbuild.googleapis.com/v1/projects/cloud-build-samples-project/locations/us-west1/builds/03eb98be-0390-4b05-b861-ef52ed4d2a34',
        startedOn: '2023-01-01T12:34:56Z',
      },
    },
  },
  subject: [
    { name: '_', digest: { sha256: 'fe4fe40ac7250263c5dbe1cf3138912f3f416140aa248637a60d65fe22c47da4' } },
  ],
};

// SLSA v1.0 verification_summary.md, "Example" (JSONC: its trailing comma dropped; elided digests completed)
const VSA_STATEMENT: Json = {
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: 'out/example-1.2.3.tar.gz', digest: { sha256: completed('5678', 64) } }],
  predicateType: 'https://slsa.dev/verification_summary/v1',
  predicate: {
    verifier: { id: 'https://example.com/publication_verifier' },
    timeVerified: '1985-04-12T23:20:50.52Z',
    resourceUri: 'https://example.com/example-1.2.3.tar.gz',
    policy: { uri: 'https://example.com/example_tarball.policy', digest: { sha256: completed('1234', 64) } },
    inputAttestations: [
      {
        uri: 'https://example.com/provenances/example-1.2.3.tar.gz.intoto.jsonl',
        digest: { sha256: completed('abcd', 64) },
      },
    ],
    verificationResult: 'PASSED',
    verifiedLevels: ['SLSA_BUILD_LEVEL_3'],
    dependencyLevels: { SLSA_BUILD_LEVEL_3: 5, SLSA_BUILD_LEVEL_2: 7, SLSA_BUILD_LEVEL_1: 1 },
    slsaVersion: '1.0',
  },
};
const VSA = VSA_STATEMENT.predicate as Json;

describe('the schema files', () => {
  const files = readdirSync(SCHEMAS).filter((f) => f.endsWith('.schema.json'));

  it('are the three attestation schemas, draft 2020-12, each naming its spec files at a commit', () => {
    expect(files.sort()).toEqual([
      'in-toto-statement-v1.schema.json',
      'slsa-provenance-v1.schema.json',
      'slsa-vsa-v1.schema.json',
    ]);
    for (const f of files) {
      const s = JSON.parse(readFileSync(join(SCHEMAS, f), 'utf8')) as Json;
      expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(s.$id).toBe(`https://cot.invalid/schemas/attest/${f}`);
      expect(s.$comment).toMatch(/https:\/\/github\.com\/[\w-]+\/[\w-]+\/blob\/[0-9a-f]{40}\/[\w/.-]+\.md/);
    }
  });

  it('compile under ajv strict mode (the first validation loads all three)', () => {
    expect(validateStatement(GHA_STATEMENT)).toEqual([]);
    expect(validateProvenance(GHA_PREDICATE)).toEqual([]);
    expect(validateVsa(VSA)).toEqual([]);
  });
});

describe('the specs’ own examples validate', () => {
  it.each(Object.entries(RD_EXAMPLES))(
    'resource_descriptor.md: %s (as a resolved dependency)',
    (_name, rd) => {
      const p = clone(GHA_PREDICATE);
      (p.buildDefinition as Json).resolvedDependencies = [rd];
      expect(validateProvenance(p)).toEqual([]);
    },
  );

  it('resource_descriptor.md: the examples with a digest, as Statement subjects', () => {
    const withDigest = Object.values(RD_EXAMPLES).filter((rd) => rd.digest);
    expect(withDigest).toHaveLength(4);
    expect(validateStatement({ ...clone(GHA_STATEMENT), subject: withDigest })).toEqual([]);
  });

  it('provenance.md (linked build type): the GitHub Actions workflow example statement and its predicate', () => {
    expect(validateStatement(GHA_STATEMENT)).toEqual([]);
    expect(validateProvenance(GHA_PREDICATE)).toEqual([]);
  });

  it('provenance.md: the externalParameters / resolvedDependencies fragment in a predicate', () => {
    // the fragment of the BuildDefinition section, with the buildType the spec gives as its example
    expect(
      validateProvenance({
        buildDefinition: {
          buildType: 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
          externalParameters: {
            repository: 'https://github.com/octocat/hello-world',
            ref: 'refs/heads/main',
          },
          resolvedDependencies: [
            {
              uri: 'git+https://github.com/octocat/hello-world@refs/heads/main',
              digest: { gitCommit: '7fd1a60b01f91b314f59955a4e4d4e80d8edf11d' },
            },
          ],
        },
        runDetails: { builder: { id: 'https://example.com/builder' } },
      }),
    ).toEqual([]);
  });

  it('provenance.md: every optional field filled', () => {
    const p = clone(GHA_PREDICATE);
    const run = p.runDetails as Json;
    Object.assign(run.builder as Json, {
      builderDependencies: [RD_EXAMPLES['pointer to build service']],
      version: { 'slsa-github-generator': 'v0.0.1' },
    });
    (run.metadata as Json).finishedOn = '2023-01-01T12:40:00.123456Z';
    run.byproducts = [RD_EXAMPLES['descriptor for Tekton TaskRun']];
    expect(validateProvenance(p)).toEqual([]);
  });

  it('verification_summary.md: the example statement and its predicate', () => {
    expect(validateStatement(VSA_STATEMENT)).toEqual([]);
    expect(validateVsa(VSA)).toEqual([]);
  });

  it.each<[string, (v: Json) => void]>([
    [
      'a FAILED verification, verifiedLevels ["FAILED"]',
      (v) => Object.assign(v, { verificationResult: 'FAILED', verifiedLevels: ['FAILED'] }),
    ],
    [
      'the optional inputAttestations, dependencyLevels and slsaVersion left out',
      (v) => {
        delete v.inputAttestations;
        delete v.dependencyLevels;
        delete v.slsaVersion;
      },
    ],
    ['an empty inputAttestations', (v) => Object.assign(v, { inputAttestations: [] })],
    ['dependencyLevels {} (no dependencies at all)', (v) => Object.assign(v, { dependencyLevels: {} })],
    [
      'dependencyLevels null (no claim about dependencies)',
      (v) => Object.assign(v, { dependencyLevels: null }),
    ],
    [
      'a custom level beside the build level',
      (v) => Object.assign(v, { verifiedLevels: ['SLSA_BUILD_LEVEL_2', 'ACME_REVIEWED'] }),
    ],
    [
      'verifier.version as in the SLSA v1.1 example',
      (v) =>
        Object.assign(v.verifier as Json, {
          version: {
            'slsa-verifier-linux-amd64': 'v2.3.0',
            'slsa-framework/slsa-verifier/actions/installer': 'v2.3.0',
          },
        }),
    ],
    [
      'an extension field (unrecognized fields are ignored)',
      (v) => Object.assign(v, { 'https://example.com/ext': { x: 1 } }),
    ],
  ])('verification_summary.md: %s', (_name, change) => {
    const v = clone(VSA);
    change(v);
    expect(validateVsa(v)).toEqual([]);
  });
});

describe('URIs and timestamps the field types allow', () => {
  it.each([
    'pkg:deb/debian/stunnel@5.50-3?arch=amd64', // field_types.md ResourceURI example
    'https://in-toto.io/Statement/v1', // field_types.md TypeURI example
    'git+https://github.com/actions/runner',
    'https://firefox-ci-tc.services.mozilla.com/api/queue/v1/task/Fe3mXbQ7Ta2dZ_z7qf-3pA/artifacts/public%2Fbuild%2Ftarget.tar.gz',
    'https://user@example.com:8443/a/b?c=d&e=f#g',
    'https://[::1]:8080/x',
    'file:///tmp/x',
    'urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66',
  ])('resourceUri %s', (uri) => {
    expect(validateVsa({ ...clone(VSA), resourceUri: uri })).toEqual([]);
  });

  it.each([
    '1985-04-12T23:20:50.52Z', // field_types.md Timestamp example
    '2023-01-01T12:34:56Z',
    '2016-12-31T23:59:60Z', // a leap second
    '2026-11-25T11:02:00.000Z',
  ])('timeVerified %s', (t) => {
    expect(validateVsa({ ...clone(VSA), timeVerified: t })).toEqual([]);
  });
});

describe('examples as printed that these schemas refuse, and why', () => {
  it('resource_descriptor.md prints elided digests ("7f4714fd..."): not the 64 lowercase hex of a sha256', () => {
    const p = clone(GHA_PREDICATE);
    (p.buildDefinition as Json).resolvedDependencies = Object.values(RD_EXAMPLES_AS_PRINTED);
    const problems = validateProvenance(p);
    expectRefused(problems, /^\/buildDefinition\/resolvedDependencies\/0\/digest\/sha256 must match pattern/);
    expectRefused(problems, /^\/buildDefinition\/resolvedDependencies\/1\/digest\/sha1 must match pattern/);
    expectRefused(problems, /^\/buildDefinition\/resolvedDependencies\/2\/digest\/sha256 must match pattern/);
    expect(problems.filter((p) => /resolvedDependencies\/[34]\//.test(p))).toEqual([]);
  });

  it('the GCB build type example has no runDetails.builder (REQUIRED for Build L1)', () => {
    expect(validateStatement({ ...GCB_STATEMENT, predicateType: 'https://example.com/other/v1' })).toEqual(
      [],
    );
    expectRefused(
      validateStatement(GCB_STATEMENT),
      /^\/predicate\/runDetails must have required property 'builder'/,
    );
  });

  it('the 2023 printing of the VSA example said "SLSA_LEVEL_3": custom values MUST NOT start with SLSA_', () => {
    const problems = validateVsa({ ...clone(VSA), verifiedLevels: ['SLSA_LEVEL_3'] });
    expectRefused(problems, /^\/verifiedLevels\/0 must NOT be valid/);
    expectRefused(problems, /^\/verifiedLevels\/0 must match a schema in anyOf/);
  });
});

describe('broken Statements are refused', () => {
  const digestOf = (s: Json) => ((s.subject as Json[])[0] as Json).digest as Json;
  it.each<[string, (s: Json) => void, RegExp]>([
    ['missing _type', (s) => delete s._type, /^\/ must have required property '_type'/],
    [
      'wrong _type (the v0.1 URI)',
      (s) => {
        s._type = 'https://in-toto.io/Statement/v0.1';
      },
      /^\/_type must be equal to constant "https:\/\/in-toto\.io\/Statement\/v1"/,
    ],
    [
      'empty subject',
      (s) => {
        s.subject = [];
      },
      /^\/subject must NOT have fewer than 1 items/,
    ],
    ['missing subject', (s) => delete s.subject, /^\/ must have required property 'subject'/],
    [
      'subject without digest',
      (s) => {
        s.subject = [{ name: '_', uri: 'https://example.com/a' }];
      },
      /^\/subject\/0 must have required property 'digest'/,
    ],
    [
      'subject with an empty digest',
      (s) => {
        s.subject = [{ name: '_', digest: {} }];
      },
      /^\/subject\/0\/digest must NOT have fewer than 1 properties/,
    ],
    [
      'uppercase sha256',
      (s) => {
        digestOf(s).sha256 = 'FE4FE40AC7250263C5DBE1CF3138912F3F416140AA248637A60D65FE22C47DA4';
      },
      /^\/subject\/0\/digest\/sha256 must match pattern "\^\[0-9a-f\]\{64\}\$"/,
    ],
    [
      'non-hex sha256',
      (s) => {
        digestOf(s).sha256 = 'ge4fe40ac7250263c5dbe1cf3138912f3f416140aa248637a60d65fe22c47da4';
      },
      /^\/subject\/0\/digest\/sha256 must match pattern/,
    ],
    [
      'sha256 one digit short',
      (s) => {
        digestOf(s).sha256 = 'fe4fe40ac7250263c5dbe1cf3138912f3f416140aa248637a60d65fe22c47da';
      },
      /^\/subject\/0\/digest\/sha256 must match pattern/,
    ],
    [
      'sha256 in base64',
      (s) => {
        digestOf(s).sha256 = '/k/kCsclAmPF2+HPMTiRLz9BYUCqJIY3pg1l/iLEfaQ=';
      },
      /^\/subject\/0\/digest\/sha256 must match pattern/,
    ],
    [
      'sha512 of a sha256 length',
      (s) => {
        digestOf(s).sha512 = 'fe4fe40ac7250263c5dbe1cf3138912f3f416140aa248637a60d65fe22c47da4';
      },
      /^\/subject\/0\/digest\/sha512 must match pattern "\^\[0-9a-f\]\{128\}\$"/,
    ],
    [
      'an empty digest under an unknown algorithm',
      (s) => {
        digestOf(s).acmeHash = '';
      },
      /^\/subject\/0\/digest\/acmeHash must NOT have fewer than 1 characters/,
    ],
    [
      'predicateType not a URI',
      (s) => {
        s.predicateType = 'slsa provenance v1';
      },
      /^\/predicateType must match pattern/,
    ],
    [
      'predicateType with an upper-case scheme and host (not case normalized)',
      (s) => {
        s.predicateType = 'HTTPS://SLSA.dev/provenance/v1';
      },
      /^\/predicateType must match pattern/,
    ],
    [
      'missing predicateType',
      (s) => delete s.predicateType,
      /^\/ must have required property 'predicateType'/,
    ],
    [
      'predicate not an object',
      (s) => {
        s.predicate = 'provenance';
      },
      /^\/predicate must be object/,
    ],
    [
      'a SLSA provenance predicateType without predicate',
      (s) => delete s.predicate,
      /^\/predicate missing: https:\/\/slsa\.dev\/provenance\/v1 defines required fields/,
    ],
    [
      'a SLSA provenance predicate that breaks the predicate schema',
      (s) => delete ((s.predicate as Json).buildDefinition as Json).buildType,
      /^\/predicate\/buildDefinition must have required property 'buildType'/,
    ],
  ])('%s', (_name, breakIt, reason) => {
    const s = clone(GHA_STATEMENT);
    breakIt(s);
    expectRefused(validateStatement(s), reason);
  });

  it('not an object at all', () => {
    expectRefused(validateStatement(null), /^\/ must be object/);
    expectRefused(validateStatement([GHA_STATEMENT]), /^\/ must be object/);
  });

  it('a predicate other than SLSA provenance or VSA is checked only for being an object', () => {
    expect(
      validateStatement({
        ...clone(GHA_STATEMENT),
        predicateType: 'https://example.com/x/v1',
        predicate: {},
      }),
    ).toEqual([]);
    // statement.md: predicate is optional ("MAY be omitted if predicateType fully describes the predicate")
    const s: Json = { ...clone(GHA_STATEMENT), predicateType: 'https://example.com/x/v1' };
    delete s.predicate;
    expect(validateStatement(s)).toEqual([]);
  });
});

describe('broken provenance predicates are refused', () => {
  const def = (p: Json) => p.buildDefinition as Json;
  const run = (p: Json) => p.runDetails as Json;
  const meta = (p: Json) => run(p).metadata as Json;
  it.each<[string, (p: Json) => void, RegExp]>([
    [
      'missing buildDefinition',
      (p) => delete p.buildDefinition,
      /^\/ must have required property 'buildDefinition'/,
    ],
    ['missing runDetails', (p) => delete p.runDetails, /^\/ must have required property 'runDetails'/],
    [
      'missing buildType',
      (p) => delete def(p).buildType,
      /^\/buildDefinition must have required property 'buildType'/,
    ],
    [
      'buildType not a URI',
      (p) => {
        def(p).buildType = 'github-actions-workflow';
      },
      /^\/buildDefinition\/buildType must match pattern/,
    ],
    [
      'missing externalParameters',
      (p) => delete def(p).externalParameters,
      /^\/buildDefinition must have required property 'externalParameters'/,
    ],
    [
      'empty externalParameters (empty is unset)',
      (p) => {
        def(p).externalParameters = {};
      },
      /^\/buildDefinition\/externalParameters must NOT have fewer than 1 properties/,
    ],
    [
      'externalParameters an array',
      (p) => {
        def(p).externalParameters = ['main'];
      },
      /^\/buildDefinition\/externalParameters must be object/,
    ],
    [
      'a resolved dependency with none of uri, digest, content',
      (p) => {
        def(p).resolvedDependencies = [{ name: 'source' }];
      },
      /^\/buildDefinition\/resolvedDependencies\/0 must match a schema in anyOf/,
    ],
    [
      'a resolved dependency with an upper-case gitCommit',
      (p) => {
        def(p).resolvedDependencies = [
          {
            uri: 'git+https://github.com/o/r',
            digest: { gitCommit: 'C27D339EE6075C1F744C5D4B200F7901AAD2C369' },
          },
        ];
      },
      /^\/buildDefinition\/resolvedDependencies\/0\/digest\/gitCommit must match pattern/,
    ],
    [
      'a resolved dependency whose content is not base64',
      (p) => {
        def(p).resolvedDependencies = [{ content: 'not base64!' }];
      },
      /^\/buildDefinition\/resolvedDependencies\/0\/content must match pattern/,
    ],
    [
      'a resolved dependency whose mediaType is not a MIME type',
      (p) => {
        def(p).resolvedDependencies = [{ uri: 'https://example.com/a', mediaType: 'json' }];
      },
      /^\/buildDefinition\/resolvedDependencies\/0\/mediaType must match pattern/,
    ],
    ['missing builder', (p) => delete run(p).builder, /^\/runDetails must have required property 'builder'/],
    [
      'builder without id',
      (p) => {
        run(p).builder = { version: { x: '1' } };
      },
      /^\/runDetails\/builder must have required property 'id'/,
    ],
    [
      'builder id not a URI',
      (p) => {
        run(p).builder = { id: 'GitHub Actions' };
      },
      /^\/runDetails\/builder\/id must match pattern/,
    ],
    [
      'builder version not a map of strings',
      (p) => {
        (run(p).builder as Json).version = { go: 1.22 };
      },
      /^\/runDetails\/builder\/version\/go must be string/,
    ],
    [
      'startedOn with a space instead of T',
      (p) => {
        meta(p).startedOn = '2023-01-01 12:34:56Z';
      },
      /^\/runDetails\/metadata\/startedOn must match pattern/,
    ],
    [
      'startedOn without a time zone',
      (p) => {
        meta(p).startedOn = '2023-01-01T12:34:56';
      },
      /^\/runDetails\/metadata\/startedOn must match pattern/,
    ],
    [
      'finishedOn with an offset instead of UTC "Z"',
      (p) => {
        meta(p).finishedOn = '2023-01-01T13:34:56+01:00';
      },
      /^\/runDetails\/metadata\/finishedOn must match pattern/,
    ],
    [
      'finishedOn in month 13',
      (p) => {
        meta(p).finishedOn = '2023-13-01T12:34:56Z';
      },
      /^\/runDetails\/metadata\/finishedOn must match pattern/,
    ],
    [
      'startedOn a date only',
      (p) => {
        meta(p).startedOn = '2023-01-01';
      },
      /^\/runDetails\/metadata\/startedOn must match pattern/,
    ],
    [
      'startedOn as epoch seconds',
      (p) => {
        meta(p).startedOn = 1672576496;
      },
      /^\/runDetails\/metadata\/startedOn must be string/,
    ],
    [
      'invocationId not a string',
      (p) => {
        meta(p).invocationId = 1536140711;
      },
      /^\/runDetails\/metadata\/invocationId must be string/,
    ],
    [
      'byproducts not an array',
      (p) => {
        run(p).byproducts = { uri: 'https://example.com/log' };
      },
      /^\/runDetails\/byproducts must be array/,
    ],
    [
      'null for an optional field (the spec types it; a producer writes the type or leaves it out)',
      (p) => {
        (run(p).builder as Json).builderDependencies = null;
      },
      /^\/runDetails\/builder\/builderDependencies must be array/,
    ],
  ])('%s', (_name, breakIt, reason) => {
    const p = clone(GHA_PREDICATE);
    breakIt(p);
    expectRefused(validateProvenance(p), reason);
  });
});

describe('broken VSA predicates are refused', () => {
  it.each<[string, (v: Json) => void, RegExp]>([
    [
      'missing verificationResult',
      (v) => delete v.verificationResult,
      /^\/ must have required property 'verificationResult'/,
    ],
    [
      'verificationResult "OK"',
      (v) => {
        v.verificationResult = 'OK';
      },
      /^\/verificationResult must be equal to one of the allowed values \["PASSED","FAILED"\]/,
    ],
    [
      'verificationResult in lower case',
      (v) => {
        v.verificationResult = 'passed';
      },
      /^\/verificationResult must be equal to one of the allowed values/,
    ],
    ['missing policy', (v) => delete v.policy, /^\/ must have required property 'policy'/],
    [
      'policy without uri',
      (v) => {
        v.policy = { digest: { sha256: completed('1234', 64) } };
      },
      /^\/policy must have required property 'uri'/,
    ],
    ['missing resourceUri', (v) => delete v.resourceUri, /^\/ must have required property 'resourceUri'/],
    [
      'resourceUri a bare file name',
      (v) => {
        v.resourceUri = 'example-1.2.3.tar.gz';
      },
      /^\/resourceUri must match pattern/,
    ],
    [
      'resourceUri with a space',
      (v) => {
        v.resourceUri = 'https://example.com/example 1.2.3.tar.gz';
      },
      /^\/resourceUri must match pattern/,
    ],
    [
      'resourceUri with an upper-case host (not case normalized)',
      (v) => {
        v.resourceUri = 'https://Example.com/example-1.2.3.tar.gz';
      },
      /^\/resourceUri must match pattern/,
    ],
    ['missing verifier', (v) => delete v.verifier, /^\/ must have required property 'verifier'/],
    [
      'verifier without id',
      (v) => {
        v.verifier = { version: { cot: '0.1.0' } };
      },
      /^\/verifier must have required property 'id'/,
    ],
    [
      'missing timeVerified (required in v1.0)',
      (v) => delete v.timeVerified,
      /^\/ must have required property 'timeVerified'/,
    ],
    [
      'timeVerified not RFC 3339',
      (v) => {
        v.timeVerified = 'Fri, 12 Apr 1985 23:20:50 GMT';
      },
      /^\/timeVerified must match pattern/,
    ],
    [
      'timeVerified with an offset instead of UTC "Z"',
      (v) => {
        v.timeVerified = '1985-04-12T19:20:50.52-04:00';
      },
      /^\/timeVerified must match pattern/,
    ],
    [
      'missing verifiedLevels',
      (v) => delete v.verifiedLevels,
      /^\/ must have required property 'verifiedLevels'/,
    ],
    [
      'empty verifiedLevels',
      (v) => {
        v.verifiedLevels = [];
      },
      /^\/verifiedLevels must NOT have fewer than 1 items/,
    ],
    [
      'two levels of the build track',
      (v) => {
        v.verifiedLevels = ['SLSA_BUILD_LEVEL_2', 'SLSA_BUILD_LEVEL_3'];
      },
      /^\/verifiedLevels must contain at least 0 and no more than 1 valid item\(s\)/,
    ],
    [
      'a build level that v1.0 does not define',
      (v) => {
        v.verifiedLevels = ['SLSA_BUILD_LEVEL_4'];
      },
      /^\/verifiedLevels\/0 must match a schema in anyOf/,
    ],
    [
      'FAILED with a level instead of ["FAILED"]',
      (v) => {
        v.verificationResult = 'FAILED';
      },
      /^\/verifiedLevels must be equal to constant \["FAILED"\]/,
    ],
    [
      'FAILED with a level beside "FAILED"',
      (v) => {
        v.verificationResult = 'FAILED';
        v.verifiedLevels = ['SLSA_BUILD_LEVEL_1', 'FAILED'];
      },
      /^\/verifiedLevels must be equal to constant \["FAILED"\]/,
    ],
    [
      'PASSED with "FAILED" in verifiedLevels',
      (v) => {
        v.verifiedLevels = ['FAILED'];
      },
      /^\/verifiedLevels must NOT be valid/,
    ],
    [
      'an input attestation without digest',
      (v) => {
        v.inputAttestations = [{ uri: 'https://example.com/provenances/example-1.2.3.tar.gz.intoto.jsonl' }];
      },
      /^\/inputAttestations\/0 must have required property 'digest'/,
    ],
    [
      'a negative dependency count',
      (v) => {
        v.dependencyLevels = { SLSA_BUILD_LEVEL_3: -1 };
      },
      /^\/dependencyLevels\/SLSA_BUILD_LEVEL_3 must be >= 0/,
    ],
    [
      'a fractional dependency count',
      (v) => {
        v.dependencyLevels = { SLSA_BUILD_LEVEL_3: 1.5 };
      },
      /^\/dependencyLevels\/SLSA_BUILD_LEVEL_3 must be integer/,
    ],
    [
      'a dependency level key starting with SLSA_ that v1.0 does not define',
      (v) => {
        v.dependencyLevels = { SLSA_LEVEL_3: 2 };
      },
      /^\/dependencyLevels property name must be valid/,
    ],
    [
      'slsaVersion not <MAJOR>.<MINOR>',
      (v) => {
        v.slsaVersion = 'v1.0';
      },
      /^\/slsaVersion must match pattern/,
    ],
  ])('%s', (_name, breakIt, reason) => {
    const v = clone(VSA);
    breakIt(v);
    expectRefused(validateVsa(v), reason);
  });

  it('a VSA statement with a broken predicate is refused through validateStatement', () => {
    const s = clone(VSA_STATEMENT);
    (s.predicate as Json).verificationResult = 'OK';
    expectRefused(
      validateStatement(s),
      /^\/predicate\/verificationResult must be equal to one of the allowed values/,
    );
  });
});
