/**
 * Attacks on time and trust (issue 9): one block per kind, each asserting its exact code. OpenPGP material is
 * made by real GnuPG (keys, certifications with an expiry, revocations, backdated, multiple, detached and
 * text-mode signatures, with `--faked-system-time`); ed25519 keys and signatures by cot itself.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  generateKeyPair,
  listKeys,
  loadKeyRepo,
  loadSigningKey,
  parseVerificationKeys,
  type TrustStore,
  verifyLink,
} from '../../src/index.js';
import { canonicalize } from '../../src/json/canonical.js';
import { ed25519Sign } from '../../src/keys/ed25519.js';
import { frameCleartext } from '../../src/pgp/cleartext.js';
import { runCli } from '../helpers/cli.js';
import { errorOf, HAVE_GPG, sampleDocument, tempDir } from '../helpers/env.js';
import { Gpg } from '../helpers/gpg.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const DOC = canonicalize(sampleDocument());
const T = (iso: string) => new Date(iso);

/** The error code a verification ends with, or ACCEPTED. */
async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ACCEPTED';
  } catch (e) {
    if (e && typeof e === 'object' && 'code' in e) return String((e as { code: unknown }).code);
    throw e;
  }
}

const faked = (when: Date) => ['--faked-system-time', `${Math.floor(when.getTime() / 1000)}!`];

/** A key made by gpg at `when` (ed25519, signing only), expiring after `expire` (gpg syntax, e.g. "10d"). */
function genKeyAt(g: Gpg, uid: string, when: Date, expire = 'never'): string {
  g.ok([...faked(when), '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', expire]);
  const out = g.ok(['--with-colons', '--list-keys', uid]).toString();
  const fpr = out.split('\n').find((l) => l.startsWith('fpr:'));
  if (!fpr) throw new Error('no fingerprint');
  return fpr.split(':')[9]!;
}

/** `gpg --clearsign` of `file` by every key of `fprs`, as of `when`. */
function clearsignAt(g: Gpg, fprs: string[], when: Date, file: string): Buffer {
  return g.ok([
    ...faked(when),
    ...fprs.flatMap((f) => ['--local-user', f]),
    '--clearsign',
    '--output',
    '-',
    file,
  ]);
}

async function repoWith(dir: string, files: Record<string, string | Buffer>): Promise<TrustStore> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), content);
  }
  return loadKeyRepo(dir);
}

let d: string;
let docPath: string;
beforeAll(async () => {
  d = await tempDir('cot-trust-time-');
  docPath = join(d, 'doc.json');
  await writeFile(docPath, DOC);
});

describe.skipIf(!HAVE_GPG)(
  '1. a certification that had expired when the document was signed does not certify',
  () => {
    let g: Gpg;
    let root: string;
    beforeAll(async () => {
      g = await Gpg.create(join(d, 'cert'));
      root = genKeyAt(g, 'Releng Root <root@example.com>', T('2026-10-01T00:00:00Z'));
    });
    /** root certifies `fpr` at `when` with a certification expiring one day later (gpg --default-cert-expire 1d) */
    const certifyForOneDay = (fpr: string, when: Date) =>
      g.ok([
        ...faked(when),
        '--yes',
        '--default-cert-expire',
        '1d',
        '--local-user',
        root,
        '--quick-sign-key',
        fpr,
      ]);
    const storeFor = (name: string, worker: string) =>
      repoWith(join(d, 'cert', name), {
        'scriptworker/trusted/root.pub': g.exportPublic(root),
        'scriptworker/valid/worker.pub': g.exportPublic(worker),
      });

    it('a one-day certification made weeks before the signature: KEY_CERTIFIER_INVALID', async () => {
      const worker = genKeyAt(g, 'Signing <signing@example.com>', T('2026-10-01T00:00:00Z'));
      certifyForOneDay(worker, T('2026-10-02T00:00:00Z'));
      const store = await storeFor('expired', worker);
      const late = clearsignAt(g, [worker], T('2026-10-20T00:00:00Z'), docPath);
      const err = await errorOf(
        verifyLink({ data: late, trust: { store, implementation: 'scriptworker' }, at: NOW }),
      );
      expect(err.code).toBe('KEY_CERTIFIER_INVALID');
      expect(err.message).toMatch(/the certification expired 2026-10-03T00:00:00\.000Z, before the document/);
      // a signature made while the certification was valid still verifies, naming the root
      const inTime = clearsignAt(g, [worker], T('2026-10-02T12:00:00Z'), docPath);
      const ok = await verifyLink({
        data: inTime,
        trust: { store, implementation: 'scriptworker' },
        at: NOW,
      });
      const s = ok.signers[0]!;
      expect(s.kind === 'openpgp' && s.certifiedBy?.fingerprint).toBe(root);
      // a certification made after the document was signed still counts, even once expired itself
      const later = genKeyAt(g, 'Later <later@example.com>', T('2026-10-01T00:00:00Z'));
      const asc = clearsignAt(g, [later], T('2026-10-05T00:00:00Z'), docPath);
      certifyForOneDay(later, T('2026-10-10T00:00:00Z'));
      const after = await storeFor('after', later);
      expect(
        await code(
          verifyLink({ data: asc, trust: { store: after, implementation: 'scriptworker' }, at: NOW }),
        ),
      ).toBe('ACCEPTED');
    });
  },
);

describe.skipIf(!HAVE_GPG)(
  '2. copies of one key in several files are merged: a revocation on any copy wins',
  () => {
    it('a stale copy without the (hard) revocation, in another file, does not verify: KEY_REVOKED', async () => {
      const g = await Gpg.create(join(d, 'merge'));
      const fpr = genKeyAt(g, 'Docker Worker <dw@example.com>', T('2026-10-01T00:00:00Z'));
      const asc = clearsignAt(g, [fpr], T('2026-10-05T00:00:00Z'), docPath);
      const stale = g.exportPublic(fpr);
      g.revoke(fpr, 1, T('2026-10-10T00:00:00Z')); // key compromised: voids every signature, past ones included
      const revoked = g.exportPublic(fpr);
      const store = await repoWith(join(d, 'merge/repo'), {
        'docker-worker/2026-10/worker.pub': revoked,
        'docker-worker/worker.pub': stale,
      });
      const err = await errorOf(
        verifyLink({ data: asc, trust: { store, implementation: 'docker-worker' }, at: NOW }),
      );
      expect(err.code).toBe('KEY_REVOKED');
      expect(err.message).toMatch(/key compromised/);
      // the same with a flat key list (--key stale.pub --key revoked.pub), in either order
      const keys = [
        ...(await parseVerificationKeys(Buffer.from(stale), 'stale.pub')),
        ...(await parseVerificationKeys(Buffer.from(revoked), 'revoked.pub')),
      ];
      expect(await code(verifyLink({ data: asc, keys, at: NOW }))).toBe('KEY_REVOKED');
      expect(await code(verifyLink({ data: asc, keys: [...keys].reverse(), at: NOW }))).toBe('KEY_REVOKED');
      // keys list judges both copies as the merged key: both rows revoked, each naming both files
      const rows = await listKeys(store, NOW);
      expect(rows.map((k) => [k.status, k.copies?.length])).toEqual([
        ['revoked', 2],
        ['revoked', 2],
      ]);
      // and the stale copy alone verifies (the revocation is what refuses it)
      expect(await code(verifyLink({ data: asc, keys: keys.slice(0, 1), at: NOW }))).toBe('ACCEPTED');
    });
  },
);

describe.skipIf(!HAVE_GPG)("3. a signature dated before the task's created time is refused", () => {
  let g: Gpg;
  let expired: string;
  let store: TrustStore;
  const taskCreated = T('2026-11-20T00:00:00Z');
  beforeAll(async () => {
    g = await Gpg.create(join(d, 'backdate'));
    // valid 2026-10-01 .. 2026-10-11; the thief of its private key backdates a signature into that window
    expired = genKeyAt(g, 'Old Worker <old@example.com>', T('2026-10-01T00:00:00Z'), '10d');
    store = await repoWith(join(d, 'backdate/repo'), { 'docker-worker/old.pub': g.exportPublic(expired) });
  });

  it('a backdated signature by a key that expired before the task existed: SIGNATURE_BEFORE_TASK', async () => {
    const forged = clearsignAt(g, [expired], T('2026-10-05T00:00:00Z'), docPath);
    const trust = { store, implementation: 'docker-worker' };
    const err = await errorOf(verifyLink({ data: forged, trust, at: NOW, taskCreated }));
    expect(err.code).toBe('SIGNATURE_BEFORE_TASK');
    expect(err.message).toContain('before the task was created (2026-11-20T00:00:00.000Z');
    // the CLI takes the queue's created time with --task-created
    await writeFile(join(d, 'backdate/forged.asc'), forged);
    const c = await runCli(
      NOW,
      'verify-link',
      join(d, 'backdate/forged.asc'),
      '--key-repo',
      join(d, 'backdate/repo'),
      '--worker-impl',
      'docker-worker',
      '--task-created',
      taskCreated.toISOString(),
    );
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/^cot: SIGNATURE_BEFORE_TASK: /);
  });

  it('the allowed skew applies; without taskCreated nothing changes', async () => {
    const current = genKeyAt(g, 'Worker <worker@example.com>', T('2026-10-01T00:00:00Z'));
    const s2 = await repoWith(join(d, 'backdate/repo2'), { 'docker-worker/w.pub': g.exportPublic(current) });
    const trust = { store: s2, implementation: 'docker-worker' };
    const early = (s: number) =>
      clearsignAt(g, [current], new Date(taskCreated.getTime() - s * 1000), docPath);
    expect(await code(verifyLink({ data: early(200), trust, at: NOW, taskCreated }))).toBe('ACCEPTED');
    expect(await code(verifyLink({ data: early(400), trust, at: NOW, taskCreated }))).toBe(
      'SIGNATURE_BEFORE_TASK',
    );
    expect(await code(verifyLink({ data: early(400), trust, at: NOW, taskCreated, skewSeconds: 600 }))).toBe(
      'ACCEPTED',
    );
    expect(await code(verifyLink({ data: early(400), trust, at: NOW }))).toBe('ACCEPTED');
  });
});

describe.skipIf(!HAVE_GPG)(
  '4. more than 8 signature packets, or one signer twice, are refused before any is verified',
  () => {
    let g: Gpg;
    const fprs: string[] = [];
    let store: TrustStore;
    beforeAll(async () => {
      g = await Gpg.create(join(d, 'many'));
      for (let i = 0; i < 9; i++)
        fprs.push(genKeyAt(g, `Worker ${i} <w${i}@example.com>`, T('2026-10-01T00:00:00Z')));
      const files: Record<string, string> = {};
      for (const [i, f] of fprs.entries()) files[`docker-worker/w${i}.pub`] = g.exportPublic(f);
      store = await repoWith(join(d, 'many/repo'), files);
    });
    const verify = (data: Buffer | string) =>
      verifyLink({ data: Buffer.from(data), trust: { store, implementation: 'docker-worker' }, at: NOW });
    /** a gpg cleartext with its signature packets replaced by `packets` */
    const withPackets = async (asc: Buffer, packets: openpgp.SignaturePacket[]) => {
      const text = asc.toString('utf8');
      const hash = /^Hash: (.+)$/m.exec(text)![1]!;
      const sig = new openpgp.Signature(new openpgp.PacketList());
      for (const p of packets) sig.packets.push(p);
      return frameCleartext(DOC, hash, sig.armor());
    };
    const packetsOf = async (asc: Buffer) =>
      (
        await openpgp.readSignature({
          armoredSignature: asc.toString('utf8').slice(asc.indexOf('-----BEGIN PGP SIGNATURE')),
        })
      ).packets as unknown as openpgp.SignaturePacket[];

    it('9 good signatures by 9 allowed keys (gpg -u x9): SIGNATURE_MALFORMED, too-many-signatures', async () => {
      const asc = clearsignAt(g, fprs, T('2026-10-05T00:00:00Z'), docPath);
      expect((await packetsOf(asc)).length).toBe(9);
      const err = await errorOf(verify(asc));
      expect(err.code).toBe('SIGNATURE_MALFORMED');
      expect(err.details.reason).toBe('too-many-signatures');
      // two signatures (a key rotation) are fine
      expect(await code(verify(clearsignAt(g, fprs.slice(0, 2), T('2026-10-05T00:00:00Z'), docPath)))).toBe(
        'ACCEPTED',
      );
    });

    it('the same signature packet twice: SIGNATURE_MALFORMED, duplicate-signature', async () => {
      const [p] = await packetsOf(clearsignAt(g, [fprs[0]!], T('2026-10-05T00:00:00Z'), docPath));
      const err = await errorOf(
        verify(await withPackets(clearsignAt(g, [fprs[0]!], T('2026-10-05T00:00:00Z'), docPath), [p!, p!])),
      );
      expect(err.code).toBe('SIGNATURE_MALFORMED');
      expect(err.details.reason).toBe('duplicate-signature');
    });

    it('two different signatures by the same key: SIGNATURE_MALFORMED, duplicate-signature', async () => {
      const a = clearsignAt(g, [fprs[1]!], T('2026-10-05T00:00:00Z'), docPath);
      const b = clearsignAt(g, [fprs[1]!], T('2026-10-06T00:00:00Z'), docPath);
      const both = await withPackets(a, [...(await packetsOf(a)), ...(await packetsOf(b))]);
      const err = await errorOf(verify(both));
      expect(err.code).toBe('SIGNATURE_MALFORMED');
      expect(err.details.reason).toBe('duplicate-signature');
    });
  },
);

describe('5. ed25519 keys with a validity window in the trust file', () => {
  let data: Buffer;
  let retiredSig: Buffer;
  let stagedSig: Buffer;
  let trustFile: string;
  beforeAll(async () => {
    data = Buffer.from(DOC);
    const sign = async (name: string) => {
      await generateKeyPair({
        type: 'ed25519',
        out: join(d, name),
        pubOut: join(d, `${name}.pub`),
        now: NOW,
      });
      const k = await loadSigningKey(join(d, name));
      if (k.kind !== 'ed25519') throw new Error('kind');
      return {
        sig: ed25519Sign(data, k.privateKey),
        pub: (await readFile(join(d, `${name}.pub`), 'utf8')).trim(),
      };
    };
    const retired = await sign('retired');
    const staged = await sign('staged');
    retiredSig = retired.sig;
    stagedSig = staged.sig;
    trustFile = join(d, 'windows.json');
    await writeFile(
      trustFile,
      JSON.stringify({
        'docker-worker': [
          { key: retired.pub, comment: 'retired 2026-06', until: '2026-06-01T00:00:00Z' },
          { key: staged.pub, comment: 'next key', from: '2026-12-01T00:00:00Z' },
        ],
      }),
    );
  });
  const store = async () => {
    const { addEd25519TrustFile, emptyTrustStore } = await import('../../src/index.js');
    return addEd25519TrustFile(emptyTrustStore(), trustFile);
  };

  it('a key past its `until`, for a task created after it: KEY_EXPIRED, naming the window', async () => {
    const trust = { store: await store(), implementation: 'docker-worker' };
    const err = await errorOf(
      verifyLink({ data, signature: retiredSig, trust, at: NOW, taskCreated: T('2026-11-20T00:00:00Z') }),
    );
    expect(err.code).toBe('KEY_EXPIRED');
    expect(err.message).toContain('trusted only from (any time) until 2026-06-01T00:00:00.000Z');
    // without taskCreated, judged at the reference time
    expect(await code(verifyLink({ data, signature: retiredSig, trust, at: NOW }))).toBe('KEY_EXPIRED');
    // an old chain (task created inside the window) still verifies
    expect(
      await code(
        verifyLink({ data, signature: retiredSig, trust, at: NOW, taskCreated: T('2026-05-01T00:00:00Z') }),
      ),
    ).toBe('ACCEPTED');
    // the CLI
    await writeFile(join(d, 'w.json'), data);
    await writeFile(join(d, 'w.json.sig'), retiredSig);
    const c = await runCli(
      NOW,
      'verify-link',
      join(d, 'w.json'),
      '--ed25519-keys',
      trustFile,
      '--worker-impl',
      'docker-worker',
      '--task-created',
      '2026-11-20T00:00:00Z',
    );
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/^cot: KEY_EXPIRED: .*until 2026-06-01/);
  });

  it('a key before its `from`: KEY_NOT_YET_VALID', async () => {
    const trust = { store: await store(), implementation: 'docker-worker' };
    expect(
      await code(
        verifyLink({ data, signature: stagedSig, trust, at: NOW, taskCreated: T('2026-11-20T00:00:00Z') }),
      ),
    ).toBe('KEY_NOT_YET_VALID');
    expect(
      await code(
        verifyLink({ data, signature: stagedSig, trust, at: NOW, taskCreated: T('2026-12-02T00:00:00Z') }),
      ),
    ).toBe('ACCEPTED');
  });

  it('keys list and keys check show the window; check warns when `until` is near', async () => {
    const l = await runCli(T('2026-05-01T00:00:00Z'), 'keys', 'list', '--ed25519-keys', trustFile, '--json');
    expect(l.code).toBe(0);
    const keys = JSON.parse(l.out).keys as { window: unknown; status: string }[];
    expect(keys.map((k) => [k.status, k.window])).toEqual([
      ['valid', { from: null, until: '2026-06-01T00:00:00.000Z' }],
      ['not-yet-valid', { from: '2026-12-01T00:00:00.000Z', until: null }],
    ]);
    const warn = await runCli(T('2026-04-15T00:00:00Z'), 'keys', 'check', '--ed25519-keys', trustFile);
    expect(warn.code).toBe(6);
    expect(warn.out).toMatch(
      /^warning: docker-worker worker key .* is trusted only until 2026-06-01T00:00:00\.000Z, in 47\.0 days/,
    );
    // once retired, the key is listed as such and is not a finding
    const later = await runCli(NOW, 'keys', 'check', '--ed25519-keys', trustFile);
    expect(later.code).toBe(0);
  });
});

describe('6. cot verify-signature --output: binary and text-mode detached signatures made by real gpg', () => {
  const lf = 'line one  \nline two\t\nend\n';
  let g: Gpg;
  let key: string;
  beforeAll(async () => {
    if (!HAVE_GPG) return;
    g = await Gpg.create(join(d, 'text'));
    const fpr = genKeyAt(g, 'Text <text@example.com>', T('2026-10-01T00:00:00Z'));
    key = join(d, 'text/key.pub');
    await writeFile(key, g.exportPublic(fpr));
    await writeFile(join(d, 'text/lf.txt'), lf);
    await writeFile(join(d, 'text/crlf.txt'), lf.replace(/\n/g, '\r\n'));
    await writeFile(join(d, 'text/trimmed.txt'), 'line one\nline two\nend\n');
    await writeFile(join(d, 'text/bom.txt'), `\ufeff${lf}`);
    await writeFile(join(d, 'text/lone-cr.txt'), 'line one\rstill one\nend\n');
    for (const [sig, mode] of [
      ['binary.sig', []],
      ['text.sig', ['--textmode']],
    ] as const)
      g.ok([
        ...faked(T('2026-10-05T00:00:00Z')),
        ...mode,
        '--detach-sign',
        '--output',
        join(d, 'text', sig),
        join(d, 'text/lf.txt'),
      ]);
    g.ok([
      ...faked(T('2026-10-05T00:00:00Z')),
      '--textmode',
      '--detach-sign',
      '--output',
      join(d, 'text/lone-cr.sig'),
      join(d, 'text/lone-cr.txt'),
    ]);
  });
  const verify = (file: string, sig: string, out: string) =>
    runCli(
      NOW,
      'verify-signature',
      join(d, 'text', file),
      '--sig',
      join(d, 'text', sig),
      '--key',
      key,
      '--output',
      join(d, 'text', out),
    );

  it.skipIf(!HAVE_GPG)(
    'binary (0x00): writes exactly the file; any other line endings do not verify',
    async () => {
      const ok = await verify('lf.txt', 'binary.sig', 'out-binary');
      expect(ok.code, ok.err).toBe(0);
      expect(await readFile(join(d, 'text/out-binary'), 'utf8')).toBe(lf);
      expect(ok.out).toContain(`wrote ${join(d, 'text/out-binary')}: the ${lf.length} signed bytes`);
      const crlf = await verify('crlf.txt', 'binary.sig', 'out-binary-crlf');
      expect(crlf.code).toBe(1);
      expect(crlf.err).toMatch(/^cot: SIGNATURE_INVALID: /);
    },
  );

  it.skipIf(!HAVE_GPG)(
    'text mode (0x01) over a CRLF copy: writes the signed text with LF line endings and says so',
    async () => {
      const same = await verify('lf.txt', 'text.sig', 'out-text');
      expect(same.code, same.err).toBe(0);
      expect(await readFile(join(d, 'text/out-text'), 'utf8')).toBe(lf);
      expect(same.out).toContain('text-mode signature (type 0x01)');
      const crlf = await verify('crlf.txt', 'text.sig', 'out-text-crlf');
      expect(crlf.code, crlf.err).toBe(0);
      expect(await readFile(join(d, 'text/out-text-crlf'), 'utf8')).toBe(lf);
      expect(crlf.out).toContain(
        `the signed text with LF line endings (${lf.length} bytes), not the ${lf.length + 3} bytes of ${join(d, 'text/crlf.txt')}`,
      );
      const json = await runCli(
        NOW,
        'verify-signature',
        join(d, 'text/crlf.txt'),
        '--sig',
        join(d, 'text/text.sig'),
        '--key',
        key,
        '--output',
        join(d, 'text/out-json'),
        '--json',
      );
      expect(JSON.parse(json.out)).toMatchObject({
        textMode: true,
        output: { bytes: lf.length, sameAsFile: false },
      });
    },
  );

  it.skipIf(!HAVE_GPG)(
    'text mode: trailing whitespace and a byte-order mark are covered; a lone CR is refused',
    async () => {
      const trimmed = await verify('trimmed.txt', 'text.sig', 'out-trimmed');
      expect(trimmed.code).toBe(1);
      expect(trimmed.err).toMatch(/^cot: SIGNATURE_INVALID: /);
      const bom = await verify('bom.txt', 'text.sig', 'out-bom');
      expect(bom.code).toBe(1);
      expect(bom.err).toMatch(/^cot: SIGNATURE_INVALID: /);
      const cr = await verify('lone-cr.txt', 'lone-cr.sig', 'out-cr');
      expect(cr.code).toBe(1);
      expect(cr.err).toMatch(/^cot: SIGNATURE_MALFORMED: .*carriage return that does not end a line/);
    },
  );
});

describe.skipIf(!HAVE_GPG)('7. signatureFormat ed25519: only a raw 64-byte ed25519 .sig is accepted', () => {
  it('a detached OpenPGP signature (by an allowed key) given as the .sig: SIGNATURE_KIND_REFUSED', async () => {
    const g = await Gpg.create(join(d, 'kind'));
    const fpr = genKeyAt(g, 'DW <dw-kind@example.com>', T('2026-10-01T00:00:00Z'));
    await generateKeyPair({
      type: 'ed25519',
      out: join(d, 'kind/ed'),
      pubOut: join(d, 'kind/ed.pub'),
      now: NOW,
    });
    const store = await repoWith(join(d, 'kind/repo'), {
      'docker-worker/pgp.pub': g.exportPublic(fpr),
      'docker-worker/ed.pub': await readFile(join(d, 'kind/ed.pub')),
    });
    const trust = { store, implementation: 'docker-worker' };
    const data = Buffer.from(DOC);
    for (const armor of [[], ['--armor']]) {
      const signature = g.ok([
        ...faked(T('2026-10-05T00:00:00Z')),
        ...armor,
        '--local-user',
        fpr,
        '--detach-sign',
        '--output',
        '-',
        docPath,
      ]);
      // without the restriction it is a good OpenPGP signature by an allowed key
      expect(await code(verifyLink({ data, signature, trust, at: NOW }))).toBe('ACCEPTED');
      const err = await errorOf(verifyLink({ data, signature, trust, at: NOW, allowedKinds: ['ed25519'] }));
      expect(err.code).toBe('SIGNATURE_KIND_REFUSED');
      expect(err.message).toContain('openpgp-detached signature, but only ed25519 is accepted');
    }
    // a cleartext document is refused the same way; a raw ed25519 signature is accepted
    const asc = clearsignAt(g, [fpr], T('2026-10-05T00:00:00Z'), docPath);
    expect(await code(verifyLink({ data: asc, trust, at: NOW, allowedKinds: ['ed25519'] }))).toBe(
      'SIGNATURE_KIND_REFUSED',
    );
    const ed = await loadSigningKey(join(d, 'kind/ed'));
    if (ed.kind !== 'ed25519') throw new Error('kind');
    const sig = ed25519Sign(data, ed.privateKey);
    expect(await code(verifyLink({ data, signature: sig, trust, at: NOW, allowedKinds: ['ed25519'] }))).toBe(
      'ACCEPTED',
    );
  });
});

describe('8. one key under docker-worker and generic-worker (d2g) is the intended layout', () => {
  it('keys check warns (exit 6), verification accepts it for both; other pairs stay an error', async () => {
    await generateKeyPair({ type: 'ed25519', out: join(d, 'd2g'), pubOut: join(d, 'd2g.pub'), now: NOW });
    const pub = await readFile(join(d, 'd2g.pub'));
    const repo = join(d, 'd2g-repo');
    const store = await repoWith(repo, {
      'docker-worker/d2g.pub': pub,
      'generic-worker/d2g.pub': pub,
    });
    const check = await runCli(NOW, 'keys', 'check', repo);
    expect(check.code, check.out + check.err).toBe(6);
    expect(check.out).toMatch(
      /^warning: key .* appears 2 times: .*shared by docker-worker and generic-worker, which is allowed/m,
    );
    const k = await loadSigningKey(join(d, 'd2g'));
    if (k.kind !== 'ed25519') throw new Error('kind');
    const data = Buffer.from(DOC);
    const signature = ed25519Sign(data, k.privateKey);
    for (const implementation of ['docker-worker', 'generic-worker']) {
      const v = await verifyLink({ data, signature, trust: { store, implementation }, at: NOW });
      expect(v.implementation).toBe(implementation);
    }
    // the same key under another implementation too: an error again
    await repoWith(repo, { 'taskcluster-worker/d2g.pub': pub });
    const bad = await runCli(NOW, 'keys', 'check', repo);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/^error: key .* appears 3 times: .*a key may serve only one implementation/m);
  });
});
