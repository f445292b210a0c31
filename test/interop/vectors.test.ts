import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CotError,
  loadVerificationKeys,
  parseVerificationKeys,
  verifyLink,
  verifySignature,
} from '../../src/index.js';
import { parseEd25519PrivateKey } from '../../src/keys/ed25519.js';
import { codeOf, HAVE_SHARED, SHARED_INTEROP } from '../helpers/env.js';

const M = join(SHARED_INTEROP, 'mozilla-2017');
const KEYS = join(M, 'cot-gpg-keys');
const SIGNING_LINUX_3 = join(
  KEYS,
  'scriptworker/valid/cltsign@signing-linux-3.srv.releng.use1.mozilla.com.pub',
);
const NOW = new Date('2026-11-25T12:00:00Z');

describe.skipIf(!HAVE_SHARED)(
  'the real 2017 production artifact (mozilla-2017, GnuPG 2.0.14, RSA-4096, SHA512)',
  () => {
    it('verifies with the signing-linux-3 key, as of its creation time, and reports the expiry since', async () => {
      const asc = await readFile(join(M, 'chainOfTrust.json.asc'));
      const r = await verifyLink({
        data: asc,
        keys: await loadVerificationKeys([SIGNING_LINUX_3]),
        at: NOW,
        expected: {
          taskId: 'LnshJjNXTfeBlPNrAzyy9w',
          runId: 0,
          workerGroup: 'signing-linux-v1',
          workerId: 'signing-linux-3',
        },
      });
      expect(r.signatureKind).toBe('openpgp-cleartext');
      expect(r.document.taskId).toBe('LnshJjNXTfeBlPNrAzyy9w');
      expect(Object.keys(r.document.artifacts)).toHaveLength(5);
      const s = r.signers[0]!;
      if (s.kind !== 'openpgp') throw new Error('kind');
      expect(s.fingerprint).toBe('FAD6F73ED15A6620149115BBD79913CEFD45E8A9');
      expect(s.signedAt.toISOString()).toBe('2017-06-02T20:17:44.000Z');
      expect(s.hashAlgorithm).toBe('SHA512');
      expect(s.keyExpires!.getTime()).toBeLessThan(NOW.getTime());
      // the verified text is exactly the JSON between the headers and the signature
      const text = asc.toString('utf8');
      const body = text.slice(text.indexOf('\n\n') + 2, text.indexOf('\n-----BEGIN PGP SIGNATURE-----'));
      expect(r.signedBytes.toString('utf8')).toBe(body);
    });

    it('verifies against the whole scriptworker/valid key set', async () => {
      const { readdir } = await import('node:fs/promises');
      const dir = join(KEYS, 'scriptworker/valid');
      const files = (await readdir(dir)).map((f) => join(dir, f));
      const r = await verifySignature({
        data: await readFile(join(M, 'chainOfTrust.json.asc')),
        keys: await loadVerificationKeys(files),
        at: NOW,
      });
      expect(r.signers[0]).toMatchObject({ fingerprint: 'FAD6F73ED15A6620149115BBD79913CEFD45E8A9' });
    });

    it('fails against docker-worker or generic-worker keys (wrong worker implementation)', async () => {
      const { readdir } = await import('node:fs/promises');
      for (const impl of ['docker-worker', 'generic-worker']) {
        const files: string[] = [];
        for (const sub of await readdir(join(KEYS, impl))) {
          for (const f of await readdir(join(KEYS, impl, sub)))
            if (f.endsWith('.pub')) files.push(join(KEYS, impl, sub, f));
        }
        expect(files.length).toBeGreaterThan(0);
        const data = await readFile(join(M, 'chainOfTrust.json.asc'));
        expect(await codeOf(verifyLink({ data, keys: await loadVerificationKeys(files), at: NOW }))).toBe(
          'KEY_NOT_FOUND',
        );
      }
    });

    it('fails after any one-byte change of the signed JSON', async () => {
      const asc = await readFile(join(M, 'chainOfTrust.json.asc'));
      const keys = await loadVerificationKeys([SIGNING_LINUX_3]);
      const start = asc.indexOf('\n\n') + 2;
      const end = asc.indexOf('\n-----BEGIN PGP SIGNATURE-----');
      const positions = new Set<number>([start, end - 1, start + 1]);
      for (let p = start; p < end; p += 53) positions.add(p);
      const codes = new Set<string>();
      for (const p of positions) {
        for (const replacement of [asc[p]! ^ 0x01, 0x20]) {
          if (replacement === asc[p]) continue;
          const m = Buffer.from(asc);
          m[p] = replacement;
          const code = await codeOf(verifyLink({ data: m, keys, at: NOW }));
          codes.add(code);
        }
      }
      expect(positions.size).toBeGreaterThan(50);
      // only signature-layer refusals: the changed text is never parsed
      for (const c of codes) expect(['SIGNATURE_INVALID', 'SIGNATURE_MALFORMED']).toContain(c);
    });
  },
);

describe.skipIf(!HAVE_SHARED)('scriptworker ed25519 vectors', () => {
  const E = join(SHARED_INTEROP, 'scriptworker-ed25519');
  it('foo.json verifies with the scriptworker key and with no other', async () => {
    const data = await readFile(join(E, 'foo.json'));
    const signature = await readFile(join(E, 'foo.json.scriptworker.sig'));
    const good = await verifySignature({
      data,
      signature,
      keys: await loadVerificationKeys([join(E, 'scriptworker_public_key')]),
      at: NOW,
    });
    expect(good.kind).toBe('ed25519');
    expect(good.signedBytes.equals(data)).toBe(true);
    for (const other of ['docker-worker_public_key', 'generic-worker_public_key']) {
      const keys = await loadVerificationKeys([join(E, other)]);
      expect(await codeOf(verifySignature({ data, signature, keys, at: NOW }))).toBe('SIGNATURE_INVALID');
    }
  });

  it('every private seed derives its published public key', async () => {
    for (const impl of ['docker-worker', 'generic-worker', 'scriptworker']) {
      const priv = parseEd25519PrivateKey(await readFile(join(E, `${impl}_private_key`), 'utf8'), impl);
      const pub = (await readFile(join(E, `${impl}_public_key`), 'utf8')).trim();
      expect(priv.publicKey).toBe(pub);
      expect(priv.format).toBe('seed-32');
      const [vk] = await parseVerificationKeys(Buffer.from(pub), impl);
      expect(vk?.kind).toBe('ed25519');
    }
  });

  it('verify-link refuses foo.json as a document (it is not a chain-of-trust document)', async () => {
    const data = await readFile(join(E, 'foo.json'));
    const signature = await readFile(join(E, 'foo.json.scriptworker.sig'));
    const err = await verifyLink({
      data,
      signature,
      keys: await loadVerificationKeys([join(E, 'scriptworker_public_key')]),
      at: NOW,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CotError);
    expect((err as CotError).code).toBe('DOCUMENT_INVALID');
  });
});
