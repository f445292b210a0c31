import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  addEd25519TrustFile,
  certifyKeyFile,
  emptyTrustStore,
  generateKeyPair,
  listKeys,
  loadKeyRepo,
  loadSigningKey,
  type SigningKey,
  verifyLink,
} from '../../src/index.js';
import { canonicalize } from '../../src/json/canonical.js';
import { ed25519Sign } from '../../src/keys/ed25519.js';
import { clearsign } from '../../src/pgp/openpgp.js';
import { mergedImplementation } from '../../src/trust/store.js';
import {
  codeOf,
  errorOf,
  HAVE_GPG,
  HAVE_SHARED,
  SHARED_INTEROP,
  sampleDocument,
  tempDir,
} from '../helpers/env.js';
import { Gpg } from '../helpers/gpg.js';

/** The base64 key of an ed25519 public key file (`cot keys new` writes a comment line above it). */
const edPub = async (p: string): Promise<string> =>
  (await readFile(p, 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .join('\n');

const NOW = new Date('2026-11-25T12:00:00Z');
const DAY = 86400_000;
const DOC = canonicalize(sampleDocument());
const M = join(SHARED_INTEROP, 'mozilla-2017');

describe.skipIf(!HAVE_SHARED)('the real 2017 key repository (cot-gpg-keys layout)', () => {
  const repo = join(M, 'cot-gpg-keys');
  const asc = () => readFile(join(M, 'chainOfTrust.json.asc'));

  it('loads every implementation, with scriptworker roots and certified keys kept apart', async () => {
    const store = await loadKeyRepo(repo);
    expect([...store.implementations.keys()]).toEqual(['docker-worker', 'generic-worker', 'scriptworker']);
    const sw = store.implementations.get('scriptworker')!;
    expect(sw.layout).toBe('certified');
    expect(sw.roots).toHaveLength(3);
    expect(sw.certified).toHaveLength(11);
    expect(sw.workerKeys).toHaveLength(0);
    expect(store.implementations.get('docker-worker')!.workerKeys.length).toBeGreaterThan(0);
  });

  it('verifies as a scriptworker link and names the trusted root that certified the key', async () => {
    const store = await loadKeyRepo(repo);
    const r = await verifyLink({
      data: await asc(),
      trust: { store, implementation: 'scriptworker' },
      at: NOW,
    });
    expect(r.implementation).toBe('scriptworker');
    const s = r.signers[0]!;
    if (s.kind !== 'openpgp') throw new Error('kind');
    expect(s.fingerprint).toBe('FAD6F73ED15A6620149115BBD79913CEFD45E8A9');
    expect(s.certifiedBy?.fingerprint.endsWith('4654904BB484B6B2')).toBe(true);
    expect(s.certifiedBy?.userIds.join(' ')).toContain('asasaki@mozilla.com');
  });

  it('fails as a docker-worker or generic-worker link: the key belongs to scriptworker', async () => {
    const store = await loadKeyRepo(repo);
    for (const implementation of ['docker-worker', 'generic-worker']) {
      const err = await errorOf(verifyLink({ data: await asc(), trust: { store, implementation }, at: NOW }));
      expect(err.code).toBe('KEY_WRONG_IMPLEMENTATION');
      expect(err.message).toContain('a key of scriptworker');
    }
    expect(
      await codeOf(
        verifyLink({ data: await asc(), trust: { store, implementation: 'taskcluster-worker' }, at: NOW }),
      ),
    ).toBe('TRUST_UNKNOWN_IMPLEMENTATION');
  });

  it('without the trusted roots, the scriptworker key is certified only by an unknown key', async () => {
    const d = await tempDir();
    await cp(repo, join(d, 'repo'), { recursive: true });
    await rm(join(d, 'repo/scriptworker/trusted'), { recursive: true });
    await mkdir(join(d, 'repo/scriptworker/trusted'));
    const store = await loadKeyRepo(join(d, 'repo'));
    expect(
      await codeOf(
        verifyLink({ data: await asc(), trust: { store, implementation: 'scriptworker' }, at: NOW }),
      ),
    ).toBe('KEY_CERTIFIER_UNKNOWN');
  });
});

describe('certified keys (roots made and used by cot)', () => {
  let d: string;
  let root: SigningKey;
  let worker: SigningKey;
  const gen = async (name: string, created = new Date(NOW.getTime() - 30 * DAY)) => {
    await generateKeyPair({
      type: 'openpgp',
      pgpAlgorithm: 'ed25519',
      userId: `${name} <${name}@example.com>`,
      out: join(d, `${name}.key`),
      pubOut: join(d, `${name}.pub`),
      now: created,
    });
    return loadSigningKey(join(d, `${name}.key`));
  };
  const repo = async (name: string, files: Record<string, string>) => {
    const r = join(d, name);
    for (const [rel, src] of Object.entries(files)) {
      await mkdir(join(r, rel, '..'), { recursive: true });
      await writeFile(join(r, rel), await readFile(src));
    }
    return loadKeyRepo(r);
  };
  const signed = async (k: SigningKey) => {
    if (k.kind !== 'openpgp') throw new Error('kind');
    return Buffer.from(await clearsign(DOC, k.key, NOW));
  };

  beforeAll(async () => {
    d = await tempDir();
    root = await gen('root');
    worker = await gen('worker');
    await certifyKeyFile({
      withPrivate: join(d, 'root.key'),
      keyPublic: join(d, 'worker.pub'),
      out: join(d, 'worker.certified.pub'),
      now: new Date(NOW.getTime() - 20 * DAY),
    });
  });

  it('a key certified by a trusted root verifies, naming the root', async () => {
    const store = await repo('r1', {
      'scriptworker/trusted/root.pub': join(d, 'root.pub'),
      'scriptworker/valid/worker.pub': join(d, 'worker.certified.pub'),
    });
    const r = await verifyLink({
      data: await signed(worker),
      trust: { store, implementation: 'scriptworker' },
      at: NOW,
    });
    const s = r.signers[0]!;
    expect(s.kind === 'openpgp' && s.certifiedBy?.fingerprint).toBe(
      root.kind === 'openpgp' && root.fingerprint,
    );
  });

  it('an uncertified key is refused with KEY_UNCERTIFIED', async () => {
    const store = await repo('r2', {
      'scriptworker/trusted/root.pub': join(d, 'root.pub'),
      'scriptworker/valid/worker.pub': join(d, 'worker.pub'),
    });
    expect(
      await codeOf(
        verifyLink({ data: await signed(worker), trust: { store, implementation: 'scriptworker' }, at: NOW }),
      ),
    ).toBe('KEY_UNCERTIFIED');
  });

  it('a key certified only by another valid key is refused with KEY_CERTIFIED_BY_UNTRUSTED', async () => {
    const other = await gen('other');
    await certifyKeyFile({
      withPrivate: join(d, 'worker.key'),
      keyPublic: join(d, 'other.pub'),
      out: join(d, 'other.by-worker.pub'),
      now: NOW,
    });
    const store = await repo('r3', {
      'scriptworker/trusted/root.pub': join(d, 'root.pub'),
      'scriptworker/valid/worker.pub': join(d, 'worker.certified.pub'),
      'scriptworker/valid/other.pub': join(d, 'other.by-worker.pub'),
    });
    expect(
      await codeOf(
        verifyLink({ data: await signed(other), trust: { store, implementation: 'scriptworker' }, at: NOW }),
      ),
    ).toBe('KEY_CERTIFIED_BY_UNTRUSTED');
  });

  it('a trusted root may certify but not sign documents', async () => {
    const store = await repo('r4', {
      'scriptworker/trusted/root.pub': join(d, 'root.pub'),
      'scriptworker/valid/worker.pub': join(d, 'worker.certified.pub'),
    });
    const err = await errorOf(
      verifyLink({ data: await signed(root), trust: { store, implementation: 'scriptworker' }, at: NOW }),
    );
    expect(err.code).toBe('KEY_NOT_FOUND');
    expect(err.message).toContain('trusted root');
  });

  it('a root revoked hard voids its certifications; revoked soft after certifying, they stand', async () => {
    if (root.kind !== 'openpgp') throw new Error('kind');
    for (const [flag, code] of [
      [openpgp.enums.reasonForRevocation.keyCompromised, 'KEY_CERTIFIER_INVALID'],
      [openpgp.enums.reasonForRevocation.keySuperseded, 'OK'],
    ] as const) {
      const { publicKey } = await openpgp.revokeKey({
        key: root.key,
        reasonForRevocation: { flag },
        date: new Date(NOW.getTime() - 10 * DAY),
        format: 'armored',
      });
      await writeFile(join(d, `root.revoked-${flag}.pub`), publicKey);
      const store = await repo(`r5-${flag}`, {
        'scriptworker/trusted/root.pub': join(d, `root.revoked-${flag}.pub`),
        'scriptworker/valid/worker.pub': join(d, 'worker.certified.pub'),
      });
      const got = await verifyLink({
        data: await signed(worker),
        trust: { store, implementation: 'scriptworker' },
        at: NOW,
      }).then(
        () => 'OK',
        (e: { code: string }) => e.code,
      );
      expect(got).toBe(code);
    }
  });

  it('a root that had expired when it certified does not count (KEY_CERTIFIER_INVALID); one valid then does', async () => {
    if (root.kind !== 'openpgp') throw new Error('kind');
    // the same key material published with self-signatures that expire 25 days before NOW, i.e. before the
    // certification made 20 days before NOW (reformatKey keeps the key packets, so the key ID is the same)
    const expiring = await openpgp.reformatKey({
      privateKey: root.key,
      userIDs: [{ name: 'root', email: 'root@example.com' }],
      keyExpirationTime: 5 * 86400,
      date: new Date(NOW.getTime() - 30 * DAY),
      format: 'armored',
    });
    await writeFile(join(d, 'root.expired.pub'), expiring.publicKey);
    const store = await repo('r6', {
      'scriptworker/trusted/root.pub': join(d, 'root.expired.pub'),
      'scriptworker/valid/worker.pub': join(d, 'worker.certified.pub'),
    });
    const err = await errorOf(
      verifyLink({ data: await signed(worker), trust: { store, implementation: 'scriptworker' }, at: NOW }),
    );
    expect(err.code).toBe('KEY_CERTIFIER_INVALID');
    expect(err.message).toMatch(/expired/i);
    // certified while that root was still valid: accepted, although the root has expired since
    await certifyKeyFile({
      withPrivate: join(d, 'root.key'),
      keyPublic: join(d, 'worker.pub'),
      out: join(d, 'worker.early.pub'),
      now: new Date(NOW.getTime() - 28 * DAY),
    });
    const early = await repo('r7', {
      'scriptworker/trusted/root.pub': join(d, 'root.expired.pub'),
      'scriptworker/valid/worker.pub': join(d, 'worker.early.pub'),
    });
    await verifyLink({
      data: await signed(worker),
      trust: { store: early, implementation: 'scriptworker' },
      at: NOW,
    });
  });

  it('ed25519 key sets: one file per implementation (several keys for rotation) or a JSON trust file', async () => {
    const a = join(d, 'a');
    const b = join(d, 'b');
    const g = join(d, 'g');
    for (const p of [a, b, g])
      await generateKeyPair({ type: 'ed25519', out: p, pubOut: `${p}.pub`, now: NOW });
    const lines = `# docker-worker keys, old then new\n${await edPub(`${a}.pub`)}\n${await edPub(`${b}.pub`)}\n`;
    const r = join(d, 'edrepo');
    await mkdir(join(r, 'docker-worker'), { recursive: true });
    await mkdir(join(r, 'generic-worker'), { recursive: true });
    await writeFile(join(r, 'docker-worker/ed25519.pub'), lines);
    await writeFile(join(r, 'generic-worker/ed25519.pub'), await readFile(`${g}.pub`));
    const data = Buffer.from(DOC);
    const sigBy = async (p: string) => {
      const k = await loadSigningKey(p);
      if (k.kind !== 'ed25519') throw new Error('kind');
      return ed25519Sign(data, k.privateKey);
    };
    const store = await loadKeyRepo(r);
    for (const p of [a, b]) {
      const v = await verifyLink({
        data,
        signature: await sigBy(p),
        trust: { store, implementation: 'docker-worker' },
        at: NOW,
      });
      expect(v.implementation).toBe('docker-worker');
    }
    expect(
      await codeOf(
        verifyLink({
          data,
          signature: await sigBy(g),
          trust: { store, implementation: 'docker-worker' },
          at: NOW,
        }),
      ),
    ).toBe('KEY_WRONG_IMPLEMENTATION');
    // the same through a JSON trust file
    await writeFile(
      join(d, 'trust.json'),
      JSON.stringify({
        'docker-worker': [await edPub(`${a}.pub`), { key: await edPub(`${b}.pub`), comment: 'd2g' }],
        'generic-worker': [await edPub(`${g}.pub`)],
      }),
    );
    const fromJson = await addEd25519TrustFile(emptyTrustStore(), join(d, 'trust.json'));
    await verifyLink({
      data,
      signature: await sigBy(b),
      trust: { store: fromJson, implementation: 'docker-worker' },
      at: NOW,
    });
    expect(
      await codeOf(
        verifyLink({
          data,
          signature: await sigBy(a),
          trust: { store: fromJson, implementation: 'generic-worker' },
          at: NOW,
        }),
      ),
    ).toBe('KEY_WRONG_IMPLEMENTATION');
    // and as YAML
    await writeFile(
      join(d, 'trust.yml'),
      `# ed25519 keys per implementation\ndocker-worker:\n  - ${await edPub(`${a}.pub`)}\n  - key: ${await edPub(`${b}.pub`)}\n    comment: d2g\n`,
    );
    const fromYaml = await addEd25519TrustFile(emptyTrustStore(), join(d, 'trust.yml'));
    await verifyLink({
      data,
      signature: await sigBy(b),
      trust: { store: fromYaml, implementation: 'docker-worker' },
      at: NOW,
    });
    await writeFile(join(d, 'bad-trust.json'), JSON.stringify({ 'docker-worker': [42] }));
    expect(await codeOf(addEd25519TrustFile(emptyTrustStore(), join(d, 'bad-trust.json')))).toBe(
      'KEY_INVALID',
    );
  });

  it('an unusable key file makes the repository load fail (tolerant mode records it)', async () => {
    const r = join(d, 'broken');
    await mkdir(join(r, 'docker-worker'), { recursive: true });
    await writeFile(join(r, 'docker-worker/junk.pub'), 'not a key');
    await writeFile(join(r, 'docker-worker/README.md'), 'docs');
    expect(await codeOf(loadKeyRepo(r))).toBe('KEY_INVALID');
    const t = await loadKeyRepo(r, { tolerant: true });
    expect(t.files[0]?.error).toBeDefined();
    expect(t.ignored.map((p) => p.endsWith('README.md'))).toEqual([true]);
  });
});

describe.skipIf(!HAVE_GPG)('cot keys certify: GnuPG accepts the certification', () => {
  it('gpg --check-sigs shows a good certification by the root', async () => {
    const d = await tempDir();
    await generateKeyPair({
      type: 'openpgp',
      pgpAlgorithm: 'ed25519',
      userId: 'Root <root@example.com>',
      out: join(d, 'root.key'),
      pubOut: join(d, 'root.pub'),
      now: new Date(Date.now() - DAY),
    });
    await generateKeyPair({
      type: 'openpgp',
      pgpAlgorithm: 'ed25519',
      userId: 'Worker <worker@example.com>',
      out: join(d, 'w.key'),
      pubOut: join(d, 'w.pub'),
      now: new Date(Date.now() - DAY),
    });
    const r = await certifyKeyFile({
      withPrivate: join(d, 'root.key'),
      keyPublic: join(d, 'w.pub'),
      out: join(d, 'w.certified.pub'),
      now: new Date(),
    });
    const gpg = await Gpg.create(d);
    gpg.ok(['--import', join(d, 'root.pub')]);
    gpg.ok(['--import', join(d, 'w.certified.pub')]);
    const out = gpg.ok(['--with-colons', '--check-sigs', r.certified]).toString();
    const rootKeyId = r.certifiedBy.slice(-16);
    // colon format: "sig:!:..." = signature checked and good
    expect(out.split('\n').some((l) => l.startsWith('sig:!:') && l.includes(rootKeyId))).toBe(true);
  });
});

describe('copies of one key are merged; trust file windows are strict', () => {
  let d: string;
  beforeAll(async () => {
    d = await tempDir();
  });

  it('a certification found on one copy counts for the other copies of the key (KEY_UNCERTIFIED before)', async () => {
    const created = new Date(NOW.getTime() - 30 * DAY);
    for (const name of ['root', 'worker'])
      await generateKeyPair({
        type: 'openpgp',
        pgpAlgorithm: 'ed25519',
        userId: `${name} <${name}@example.com>`,
        out: join(d, `${name}.key`),
        pubOut: join(d, `${name}.pub`),
        now: created,
      });
    await certifyKeyFile({
      withPrivate: join(d, 'root.key'),
      keyPublic: join(d, 'worker.pub'),
      out: join(d, 'worker.certified.pub'),
      now: new Date(NOW.getTime() - 20 * DAY),
    });
    const r = join(d, 'copies');
    await mkdir(join(r, 'scriptworker/trusted'), { recursive: true });
    await mkdir(join(r, 'scriptworker/valid'), { recursive: true });
    await writeFile(join(r, 'scriptworker/trusted/root.pub'), await readFile(join(d, 'root.pub')));
    // the uncertified copy sorts first
    await writeFile(join(r, 'scriptworker/valid/a-worker.pub'), await readFile(join(d, 'worker.pub')));
    await writeFile(
      join(r, 'scriptworker/valid/b-worker.pub'),
      await readFile(join(d, 'worker.certified.pub')),
    );
    const store = await loadKeyRepo(r);
    const worker = await loadSigningKey(join(d, 'worker.key'));
    if (worker.kind !== 'openpgp') throw new Error('kind');
    const v = await verifyLink({
      data: Buffer.from(await clearsign(DOC, worker.key, NOW)),
      trust: { store, implementation: 'scriptworker' },
      at: NOW,
    });
    const s = v.signers[0]!;
    expect(s.kind === 'openpgp' && s.certifiedBy?.userIds).toEqual(['root <root@example.com>']);
    const merged = await mergedImplementation(store.implementations.get('scriptworker')!);
    expect(merged.certified).toHaveLength(1);
    expect(merged.certified[0]!.sources).toEqual([
      join(r, 'scriptworker/valid/a-worker.pub'),
      join(r, 'scriptworker/valid/b-worker.pub'),
    ]);
    // keys list judges every copy as the merged key
    const rows = await listKeys(store, NOW);
    expect(rows.filter((k) => k.role === 'certified').map((k) => [k.status, k.copies?.length])).toEqual([
      ['valid', 2],
      ['valid', 2],
    ]);
  });

  it('ed25519 copies in one implementation: the windows intersect (the most restrictive wins)', async () => {
    await generateKeyPair({ type: 'ed25519', out: join(d, 'e'), pubOut: join(d, 'e.pub'), now: NOW });
    const pub = await edPub(join(d, 'e.pub'));
    await writeFile(
      join(d, 'dup.json'),
      JSON.stringify({
        'generic-worker': [
          { key: pub, until: '2026-12-01T00:00:00Z' },
          { key: pub, from: '2026-01-01T00:00:00Z', until: '2027-01-01T00:00:00Z' },
        ],
      }),
    );
    const store = await addEd25519TrustFile(emptyTrustStore(), join(d, 'dup.json'));
    const k = await loadSigningKey(join(d, 'e'));
    if (k.kind !== 'ed25519') throw new Error('kind');
    const data = Buffer.from(DOC);
    const signature = ed25519Sign(data, k.privateKey);
    const at = (taskCreated: string) =>
      verifyLink({
        data,
        signature,
        trust: { store, implementation: 'generic-worker' },
        at: NOW,
        taskCreated: new Date(taskCreated),
      }).then(
        () => 'OK',
        (e: { code: string }) => e.code,
      );
    expect(await at('2026-06-01T00:00:00Z')).toBe('OK');
    expect(await at('2025-06-01T00:00:00Z')).toBe('KEY_NOT_YET_VALID');
    expect(await at('2026-12-15T00:00:00Z')).toBe('KEY_EXPIRED');
  });

  it('trust file entries: unknown fields, bad times and empty windows are refused (KEY_INVALID)', async () => {
    await generateKeyPair({ type: 'ed25519', out: join(d, 'f'), pubOut: join(d, 'f.pub'), now: NOW });
    const key = await edPub(join(d, 'f.pub'));
    const bad: [string, Record<string, unknown>, RegExp][] = [
      ['misspelt', { key, untill: '2026-01-01T00:00:00Z' }, /unknown field\(s\) "untill"/],
      ['no zone', { key, until: '2026-01-01T00:00:00' }, /must be an ISO 8601 time with a time zone/],
      ['not a time', { key, from: 'yesterday' }, /must be an ISO 8601 time/],
      ['empty', { key, from: '2026-02-01T00:00:00Z', until: '2026-01-01T00:00:00Z' }, /from must be earlier/],
    ];
    for (const [name, item, message] of bad) {
      await writeFile(join(d, `${name}.json`), JSON.stringify({ 'docker-worker': [item] }));
      const err = await errorOf(addEd25519TrustFile(emptyTrustStore(), join(d, `${name}.json`)));
      expect(err.code, name).toBe('KEY_INVALID');
      expect(err.message, name).toMatch(message);
    }
    // and in YAML
    await writeFile(join(d, 'ok.yml'), `docker-worker:\n  - key: ${key}\n    from: 2026-01-01T00:00:00Z\n`);
    const store = await addEd25519TrustFile(emptyTrustStore(), join(d, 'ok.yml'));
    const k = store.implementations.get('docker-worker')!.workerKeys[0]!;
    expect(k.kind === 'ed25519' && k.validFrom?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });
});
