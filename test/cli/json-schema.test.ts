import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandUnknownOpts as Command } from '@commander-js/extra-typings';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';
import { REPO, sampleTask, TASK_ID, tempDir } from '../helpers/env.js';
import { loadOutputSchemas, schemaProblems } from '../helpers/schemas.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const cot = (...args: string[]) => runCli(NOW, ...args);

/** Which schema describes each command's --json output (every command has one). */
const SCHEMA_OF: Record<string, string> = {
  'keys new': 'keys-new',
  'keys certify': 'keys-certify',
  'keys list': 'keys-list',
  'keys check': 'keys-check',
  'keys verify-repo': 'keys-verify-repo',
  'keys guard': 'keys-guard',
  'queue serve': 'queue-serve',
  upload: 'upload',
  fetch: 'fetch',
  generate: 'generate',
  demo: 'chain-report',
  verify: 'chain-report',
  'attest provenance': 'attest-provenance',
  'verify-attestation': 'verify-attestation',
  'verify-link': 'verify-link',
  'verify-parent': 'verify-parent',
  'verify-signature': 'verify-signature',
  hash: 'hash',
};

/** Parse a --json output and check it against its command's schema: schemaVersion 1 first, then the shape. */
function checked(path: string, r: { out: string; code: number }): Record<string, unknown> {
  const j = JSON.parse(r.out) as Record<string, unknown>;
  expect(Object.keys(j)[0], `cot ${path}: schemaVersion first`).toBe('schemaVersion');
  expect(j.schemaVersion).toBe(1);
  expect(schemaProblems(SCHEMA_OF[path]!, j), `cot ${path} --json (exit ${r.code})`).toEqual([]);
  // a failure is the error envelope or a result with ok: false, always with a non-zero exit
  expect(j.ok === true, `cot ${path}: ok and exit agree`).toBe(r.code === 0);
  return j;
}

/**
 * The members of `value` that the schema's `$defs[def]` does not describe (its properties): a member added to an
 * output must be added to its schema too. `def` 'result' checks the top level.
 */
function undescribed(schema: string, def: string, value: Record<string, unknown>): string[] {
  const props = (loadOutputSchemas().get(schema)!.$defs as Record<string, { properties: object }>)[def]!
    .properties;
  return Object.keys(value).filter((k) => !(k in props));
}

let d: string;
let demo: { taskId: string; dir: string };
let tampered: string;
beforeAll(async () => {
  d = await tempDir();
  const ok = await cot('demo', '--out', join(d, 'demo'), '--json');
  expect(ok.code).toBe(0);
  checked('demo', ok);
  demo = { taskId: JSON.parse(ok.out).root, dir: join(d, 'demo') };
  const bad = await cot('demo', '--out', join(d, 'tampered'), '--tamper', '--json');
  expect(bad.code).toBe(1);
  expect(checked('demo', bad).ok).toBe(false);
  tampered = join(d, 'tampered');
});

describe('every --json output carries schemaVersion 1 and matches its shipped schema', () => {
  it('every command has a schema, every schema compiles, their shared parts are identical', () => {
    const program = buildProgram({ stdout: () => {}, stderr: () => {}, now: NOW });
    const paths: string[] = [];
    const walk = (c: Command, prefix: string[]) => {
      for (const sub of c.commands) {
        if (sub.name() === 'help') continue;
        if (sub.commands.length > 0) walk(sub, [...prefix, sub.name()]);
        else paths.push([...prefix, sub.name()].join(' '));
      }
    };
    walk(program, []);
    expect(paths.sort()).toEqual(Object.keys(SCHEMA_OF).sort());
    const schemas = loadOutputSchemas();
    expect([...schemas.keys()].sort()).toEqual([...new Set(Object.values(SCHEMA_OF))].sort());
    const shared = (name: string) =>
      [...schemas.values()].map((s) => (s.$defs as Record<string, unknown>)[name]).filter(Boolean);
    // the chain report's parts are the same in every output that carries one (verify, demo, attest provenance)
    for (const name of ['error', 'failure', 'signer', 'link', 'chainError', 'digestSet']) {
      const copies = shared(name);
      expect(copies.length, name).toBeGreaterThan(0);
      for (const c of copies) expect(c, name).toEqual(copies[0]);
    }
    for (const name of schemas.keys()) expect(schemaProblems(name, {})).not.toEqual([]);
  });

  it('the package ships the schemas', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'));
    expect(pkg.files).toContain('schemas');
  });

  it('verify: a verified chain, a failed chain, an unusable policy', async () => {
    const args = (dir: string) => [
      'verify',
      demo.taskId,
      '--queue',
      join(dir, 'queue'),
      '--policy',
      join(dir, 'policy.yml'),
      '--json',
    ];
    const ok = await cot(...args(demo.dir));
    const report = checked('verify', ok);
    expect(report.ok).toBe(true);
    // every member of a link is described, those attestations rely on included (and are present in the demo)
    const links = report.links as Record<string, unknown>[];
    expect(links.flatMap((l) => undescribed('chain-report', 'link', l))).toEqual([]);
    expect(links.every((l) => l.document)).toBe(true);
    expect(links.some((l) => Array.isArray(l.consumed) && l.consumed.length > 0)).toBe(true);
    expect(links.some((l) => (l.image as { digest?: unknown } | undefined)?.digest)).toBe(true);
    const withLink = (edit: (l: Record<string, unknown>) => void) => {
      const copy = structuredClone(report);
      edit((copy.links as Record<string, unknown>[])[0]!);
      return schemaProblems('chain-report', copy);
    };
    expect(withLink((l) => (l.document = { name: 'public/chain-of-trust.json' }))).not.toEqual([]);
    expect(withLink((l) => (l.document = { name: 'x', sha256: 'ABC' }))).not.toEqual([]);
    expect(withLink((l) => (l.consumed = [{ taskId: 't', artifact: 'a', digest: {} }]))).not.toEqual([]);
    expect(withLink((l) => (l.image = { type: 'task-image', verified: true, digest: 'sha256' }))).not.toEqual(
      [],
    );
    // a usage error (no --policy) and an unknown task: the error envelope and a failed report
    expect(
      checked('verify', await cot('verify', demo.taskId, '--queue', join(demo.dir, 'queue'), '--json')).error,
    ).toMatchObject({ code: 'USAGE' });
    checked(
      'verify',
      await cot(...args(demo.dir).map((a) => (a === demo.taskId ? 'AAAAAAAAQAAAAAAAAAAAAA' : a))),
    );
    const tamperedRoot = JSON.parse(await readFile(join(tampered, 'demo.json'), 'utf8')).taskId as string;
    const notVerified = await cot(
      'verify',
      tamperedRoot,
      '--queue',
      join(tampered, 'queue'),
      '--policy',
      join(tampered, 'policy.yml'),
      '--json',
    );
    const j = checked('verify', notVerified);
    expect(j.ok).toBe(false);
    expect((j.errors as { code: string }[]).map((e) => e.code)).toContain('HASH_MISMATCH');
    await writeFile(join(d, 'bad-policy.yml'), 'keyRepo: nowhere\nnonsense: 1\n');
    const policy = await cot(
      'verify',
      demo.taskId,
      '--queue',
      join(demo.dir, 'queue'),
      '--policy',
      join(d, 'bad-policy.yml'),
      '--json',
    );
    expect(checked('verify', policy).error).toMatchObject({ code: 'POLICY_INVALID' });
  });

  it('attest provenance: a verified chain, a chain that did not verify, a refused key, a usage error', async () => {
    const k = join(d, 'attest-keys');
    await mkdir(k);
    const key = join(k, 'verifier.key');
    expect((await cot('keys', 'new', '--type', 'ed25519', '--out', key)).code).toBe(0);
    const args = (dir: string, root: string, signer: string, out: string) => [
      'attest',
      'provenance',
      root,
      '--queue',
      join(dir, 'queue'),
      '--policy',
      join(dir, 'policy.yml'),
      '--key',
      signer,
      '--out',
      out,
      '--json',
    ];
    const ok = checked('attest provenance', await cot(...args(demo.dir, demo.taskId, key, join(d, 'prov'))));
    expect(ok.ok).toBe(true);
    expect(undescribed('attest-provenance', 'result', ok)).toEqual([]);
    // the demo has its tree: the source is traced to its repository and revision
    expect(ok.attestation).toMatchObject({ subjects: 1, source: { traced: true, revision: 'a'.repeat(40) } });
    const withSource = (source: object) =>
      schemaProblems('attest-provenance', { ...ok, attestation: { ...(ok.attestation as object), source } });
    expect(withSource({ traced: false, reason: 'its parent task is not part of the chain' })).toEqual([]);
    // ok true needs the provenance written; a traced source names its revision, an untraced one never does
    expect(schemaProblems('attest-provenance', { ...ok, attestation: undefined })).not.toEqual([]);
    expect(withSource({ traced: true, repository: 'r', parentTaskId: 'p' })).not.toEqual([]);
    expect(withSource({ traced: false, reason: 'why', revision: 'a'.repeat(40) })).not.toEqual([]);
    const tamperedRoot = JSON.parse(await readFile(join(tampered, 'demo.json'), 'utf8')).taskId as string;
    const bad = checked(
      'attest provenance',
      await cot(...args(tampered, tamperedRoot, key, join(d, 'prov2'))),
    );
    expect(bad).toMatchObject({ ok: false, error: { code: 'CHAIN_VERIFICATION_FAILED' } });
    expect(bad).not.toHaveProperty('attestation');
    const worker = join(demo.dir, 'keys/generic-worker.key');
    expect(
      checked('attest provenance', await cot(...args(demo.dir, demo.taskId, worker, join(d, 'prov3')))).error,
    ).toMatchObject({ code: 'ATTEST_KEY_REFUSED' });
    expect(
      checked('attest provenance', await cot('attest', 'provenance', demo.taskId, '--json')).error,
    ).toMatchObject({ code: 'USAGE' });
  });

  it('verify --attest: the chain report with the summary written, PASSED or FAILED', async () => {
    const key = join(d, 'vsa.key');
    expect((await cot('keys', 'new', '--type', 'ed25519', '--out', key)).code).toBe(0);
    const tamperedRoot = JSON.parse(await readFile(join(tampered, 'demo.json'), 'utf8')).taskId as string;
    for (const [dir, root, result] of [
      [demo.dir, demo.taskId, 'PASSED'],
      [tampered, tamperedRoot, 'FAILED'],
    ] as const) {
      const r = await cot(
        'verify',
        root,
        '--queue',
        join(dir, 'queue'),
        '--policy',
        join(dir, 'policy.yml'),
        '--attest',
        join(d, `vsa-${result}.intoto.json`),
        '--attest-key',
        key,
        '--json',
      );
      const j = checked('verify', r);
      expect(j.attestation).toMatchObject({ verificationResult: result });
      expect(undescribed('chain-report', 'result', j)).toEqual([]);
    }
  });

  it('verify-attestation: accepted, a FAILED summary, a signature that does not verify, not JSON', async () => {
    const w = join(d, 'verify-attestation');
    await mkdir(w);
    const key = join(w, 'v.key');
    const pub = join(w, 'v.pub');
    expect((await cot('keys', 'new', '--type', 'ed25519', '--out', key, '--pub-out', pub)).code).toBe(0);
    const other = join(w, 'other.pub');
    expect(
      (await cot('keys', 'new', '--type', 'ed25519', '--out', join(w, 'other.key'), '--pub-out', other)).code,
    ).toBe(0);
    const prov = join(w, 'prov');
    const a = await cot(
      'attest',
      'provenance',
      demo.taskId,
      '--queue',
      join(demo.dir, 'queue'),
      '--policy',
      join(demo.dir, 'policy.yml'),
      '--key',
      key,
      '--out',
      prov,
    );
    expect(a.code, a.err).toBe(0);
    const envelope = join(prov, `${demo.taskId}.provenance.intoto.json`);
    const manifest = join(demo.dir, 'queue', demo.taskId, 'runs/0/artifacts/public/manifest.json');
    for (const f of [envelope, envelope.replace(/\.intoto\.json$/, '.sigstore.json')]) {
      const ok = checked(
        'verify-attestation',
        await cot(
          'verify-attestation',
          f,
          '--key',
          pub,
          '--artifact',
          `public/manifest.json=${manifest}`,
          '--json',
        ),
      );
      expect(ok).toMatchObject({ ok: true, artifacts: [{ name: 'public/manifest.json' }] });
      expect(undescribed('verify-attestation', 'result', ok)).toEqual([]);
    }
    const tamperedRoot = JSON.parse(await readFile(join(tampered, 'demo.json'), 'utf8')).taskId as string;
    const vsa = join(w, 'failed.intoto.json');
    await cot(
      'verify',
      tamperedRoot,
      '--queue',
      join(tampered, 'queue'),
      '--policy',
      join(tampered, 'policy.yml'),
      '--attest',
      vsa,
      '--attest-key',
      key,
    );
    const failed = checked(
      'verify-attestation',
      await cot('verify-attestation', vsa, '--key', pub, '--json'),
    );
    expect(failed).toMatchObject({
      ok: false,
      verificationResult: 'FAILED',
      error: { code: 'ATTESTATION_FAILED' },
    });
    expect(
      checked('verify-attestation', await cot('verify-attestation', envelope, '--key', other, '--json'))
        .error,
    ).toMatchObject({ code: 'ATTESTATION_SIGNATURE_INVALID' });
    await writeFile(join(w, 'not.json'), 'not json\n');
    expect(
      checked(
        'verify-attestation',
        await cot('verify-attestation', join(w, 'not.json'), '--key', pub, '--json'),
      ).error,
    ).toMatchObject({ code: 'ATTESTATION_INVALID' });
  });

  it('fetch: a complete mirror and an incomplete one', async () => {
    const ok = await cot(
      'fetch',
      demo.taskId,
      '--queue',
      join(demo.dir, 'queue'),
      '--out',
      join(d, 'mirror'),
      '--json',
    );
    expect(checked('fetch', ok)).toMatchObject({ ok: true, complete: true });
    const tamperedRoot = JSON.parse(await readFile(join(tampered, 'demo.json'), 'utf8')).taskId as string;
    const bad = await cot(
      'fetch',
      tamperedRoot,
      '--queue',
      join(tampered, 'queue'),
      '--out',
      join(d, 'mirror2'),
      '--json',
    );
    expect(checked('fetch', bad)).toMatchObject({ ok: false, complete: false });
  });

  it('keys new, certify, list, check, guard, verify-repo', async () => {
    const k = join(d, 'keys');
    await mkdir(k);
    checked(
      'keys new',
      await cot(
        'keys',
        'new',
        '--type',
        'ed25519',
        '--out',
        join(k, 'ed.key'),
        '--pub-out',
        join(k, 'ed.pub'),
        '--json',
      ),
    );
    checked('keys new', await cot('keys', 'new', '--type', 'ed25519', '--out', join(k, 'ed.key'), '--json'));
    for (const n of ['root', 'worker'])
      checked(
        'keys new',
        await cot(
          'keys',
          'new',
          '--type',
          'openpgp',
          '--curve',
          'ed25519',
          '--user-id',
          `${n} <${n}@example.com>`,
          '--out',
          join(k, `${n}.asc`),
          '--pub-out',
          join(k, `${n}.pub`),
          '--json',
        ),
      );
    checked(
      'keys certify',
      await cot(
        'keys',
        'certify',
        '--with',
        join(k, 'root.asc'),
        '--key',
        join(k, 'worker.pub'),
        '--out',
        join(k, 'certified.pub'),
        '--json',
      ),
    );
    const repo = join(demo.dir, 'key-repo');
    const trust = join(demo.dir, 'ed25519-keys.json');
    const list = checked('keys list', await cot('keys', 'list', repo, '--ed25519-keys', trust, '--json'));
    expect((list.keys as unknown[]).length).toBeGreaterThan(0);
    checked('keys check', await cot('keys', 'check', repo, '--ed25519-keys', trust, '--json'));
    // the demo's keys never expire: a check far in the future still finds nothing; an expired OpenPGP key does
    checked('keys check', await cot('keys', 'check', join(d, 'nowhere'), '--json'));
    checked('keys guard', await cot('keys', 'guard', join(k, 'ed.key'), '--json'));
    checked(
      'keys verify-repo',
      await cot('keys', 'verify-repo', k, '--git-signers', join(k, 'root.pub'), '--json'),
    );
  });

  it('generate (with a warning), verify-link (verified and tampered), verify-signature, hash', async () => {
    const w = join(d, 'work');
    await mkdir(join(w, 'art/public/build'), { recursive: true });
    await writeFile(join(w, 'art/public/build/app.txt'), 'hello\n');
    await writeFile(join(w, 'task.json'), JSON.stringify(sampleTask()));
    await cot('keys', 'new', '--type', 'ed25519', '--out', join(w, 'ed.key'), '--pub-out', join(w, 'ed.pub'));
    const g = await cot(
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
      join(w, 'ed.key'),
      '--worker-type',
      'b-win2022',
      '--json',
    );
    expect(checked('generate', g).warnings).toHaveLength(1);
    checked('generate', await cot('generate', '--json'));
    const doc = join(w, 'art/public/chain-of-trust.json');
    checked(
      'verify-link',
      await cot('verify-link', doc, '--key', join(w, 'ed.pub'), '--artifacts', join(w, 'art'), '--json'),
    );
    checked(
      'verify-signature',
      await cot(
        'verify-signature',
        doc,
        '--sig',
        `${doc}.sig`,
        '--key',
        join(w, 'ed.pub'),
        '--output',
        join(w, 'out.json'),
        '--json',
      ),
    );
    checked('verify-signature', await cot('verify-signature', doc, '--key', join(w, 'ed.pub'), '--json'));
    checked('hash', await cot('hash', join(w, 'art'), '--json'));
    checked(
      'hash',
      await cot(
        'hash',
        `public/x=${join(w, 'art/public/build/app.txt')}`,
        '--hash-algorithm',
        'sha256,sha512',
        '--json',
      ),
    );
    checked('hash', await cot('hash', join(w, 'nope'), '--json'));
    await writeFile(join(w, 'art/public/build/app.txt'), 'tampered\n');
    const bad = checked(
      'verify-link',
      await cot('verify-link', doc, '--key', join(w, 'ed.pub'), '--artifacts', join(w, 'art'), '--json'),
    );
    expect(bad.error).toMatchObject({ code: 'HASH_MISMATCH' });
  });

  it('upload to a directory store', async () => {
    const store = join(d, 'store');
    await cp(join(demo.dir, 'queue'), store, { recursive: true });
    await writeFile(join(d, 'extra.txt'), 'extra\n');
    const r = await cot(
      'upload',
      '--task-id',
      demo.taskId,
      '--run-id',
      '0',
      '--queue',
      store,
      `public/extra.txt=${join(d, 'extra.txt')}`,
      '--json',
    );
    checked('upload', r);
    checked(
      'upload',
      await cot(
        'upload',
        '--task-id',
        demo.taskId,
        '--run-id',
        '7',
        '--queue',
        store,
        `public/extra.txt=${join(d, 'extra.txt')}`,
        '--json',
      ),
    );
  });

  it('queue serve: one JSON object once it listens', async () => {
    const child = spawn(
      process.execPath,
      [join(REPO, 'bin/cot.js'), 'queue', 'serve', '--dir', join(demo.dir, 'queue'), '--json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      let out = '';
      const j = await new Promise<Record<string, unknown>>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString('utf8');
          try {
            resolve(JSON.parse(out));
          } catch {
            // not complete yet
          }
        });
        child.on('exit', (code) => reject(new Error(`queue serve exited ${code}: ${out}`)));
      });
      expect(Object.keys(j)[0]).toBe('schemaVersion');
      expect(schemaProblems('queue-serve', j)).toEqual([]);
      expect(j.rootUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
