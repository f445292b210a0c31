import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CotError,
  generateChainOfTrust,
  generateKeyPair,
  loadSigningKey,
  loadVerificationKeys,
  type VerificationKey,
  verifyLink,
  verifySignature,
} from '../../src/index.js';
import { parseJsonBytes } from '../../src/json/parse.js';
import { sampleTask, TASK_ID, tempDir } from '../helpers/env.js';

const RUNS = Number(process.env.COT_FUZZ_RUNS ?? 300);
const NOW = new Date('2026-11-25T12:00:00Z');

let json: Buffer;
let sig: Buffer;
let asc: Buffer;
let keys: VerificationKey[];

beforeAll(async () => {
  const d = await tempDir();
  await generateKeyPair({ type: 'ed25519', out: join(d, 'ed'), pubOut: join(d, 'ed.pub'), now: NOW });
  await generateKeyPair({
    type: 'openpgp',
    pgpAlgorithm: 'ed25519',
    out: join(d, 'pgp'),
    pubOut: join(d, 'pgp.pub'),
    now: new Date(NOW.getTime() - 1000),
  });
  await mkdir(join(d, 'art/public'), { recursive: true });
  await writeFile(join(d, 'art/public/a'), 'a');
  await generateChainOfTrust({
    task: sampleTask(),
    taskId: TASK_ID,
    runId: 0,
    workerGroup: 'g',
    workerId: 'w',
    artifactDir: join(d, 'art'),
    keys: [await loadSigningKey(join(d, 'ed')), await loadSigningKey(join(d, 'pgp'))],
    format: 'both',
    outDir: join(d, 'art/public'),
    now: NOW,
  });
  json = await readFile(join(d, 'art/public/chain-of-trust.json'));
  sig = await readFile(join(d, 'art/public/chain-of-trust.json.sig'));
  asc = await readFile(join(d, 'art/public/chainOfTrust.json.asc'));
  keys = await loadVerificationKeys([join(d, 'ed.pub'), join(d, 'pgp.pub')]);
});

async function rejected(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CotError) return e.code;
    throw e;
  }
  return 'ACCEPTED';
}

describe('any single-byte change is rejected', () => {
  it('ed25519: every byte of the document and of the signature, changed', async () => {
    for (let i = 0; i < json.length; i++) {
      const m = Buffer.from(json);
      m[i] = m[i]! ^ (1 + (i % 255));
      expect(await rejected(verifyLink({ data: m, signature: sig, keys, at: NOW }))).toBe(
        'SIGNATURE_INVALID',
      );
    }
    for (let i = 0; i < sig.length; i++) {
      const m = Buffer.from(sig);
      m[i] = m[i]! ^ 0x80;
      expect(await rejected(verifyLink({ data: json, signature: m, keys, at: NOW }))).toBe(
        'SIGNATURE_INVALID',
      );
    }
  });

  it(`OpenPGP cleartext: a changed byte anywhere in the file is never accepted with different text (${RUNS} cases)`, async () => {
    const honest = (await verifyLink({ data: asc, keys, at: NOW })).signedBytes;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: asc.length - 1 }), fc.integer({ min: 1, max: 255 }), async (pos, x) => {
        const m = Buffer.from(asc);
        m[pos] = m[pos]! ^ x;
        try {
          const r = await verifyLink({ data: m, keys, at: NOW });
          // only framing bytes may change harmlessly (armor checksum, CRLF...): the verified text must not
          expect(r.signedBytes.equals(honest)).toBe(true);
        } catch (e) {
          if (!(e instanceof CotError)) throw e;
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('arbitrary bytes only ever produce coded errors', () => {
  it(`verifyLink / verifySignature / parseJsonBytes (${RUNS} cases each)`, async () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 2048 }),
      fc
        .constantFrom(asc, json)
        .chain((b) =>
          fc
            .tuple(fc.nat({ max: b.length }), fc.nat({ max: b.length }))
            .map(([a, c]) => Buffer.concat([b.subarray(0, Math.min(a, c)), b.subarray(Math.max(a, c))])),
        ),
    );
    await fc.assert(
      fc.asyncProperty(bytes, fc.option(fc.uint8Array({ minLength: 0, maxLength: 128 })), async (data, s) => {
        // thunks, run one after another: no promise may reject before its handler is attached
        for (const run of [
          () => verifyLink({ data, ...(s === null ? {} : { signature: s }), keys, at: NOW }),
          () => verifySignature({ data, ...(s === null ? {} : { signature: s }), keys, at: NOW }),
          async () => parseJsonBytes(data),
        ]) {
          try {
            await run();
          } catch (e) {
            if (!(e instanceof CotError)) throw e;
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});
