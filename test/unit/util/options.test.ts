import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CotError,
  certifyKeyFile,
  checkKeyRepo,
  generateChainOfTrust,
  generateKeyPair,
  hashArtifacts,
  listKeys,
  loadPolicy,
  verifyChain,
  verifyLink,
  verifySignature,
  workerChainOfTrust,
} from '../../../src/index.js';
import {
  DirectoryQueue,
  downloadArtifact,
  fetchChain,
  startQueueServer,
  TaskclusterQueue,
  uploadArtifacts,
} from '../../../src/queue.js';
import { runDemo } from '../../../src/testing.js';
import { buildTestChain, type TestChain } from '../../helpers/chain.js';
import { tempDir } from '../../helpers/env.js';

// Issue 10: a caller in plain JavaScript gets a coded CotError (OPTIONS_INVALID, exit 2) naming the option, never
// a TypeError from deep inside.
const NOW = new Date('2026-11-25T12:00:00Z');
let d: string;
let demo: TestChain;

beforeAll(async () => {
  d = await tempDir();
  demo = await buildTestChain(join(d, 'demo'), NOW);
});

// biome-ignore lint/suspicious/noExplicitAny: plain-JavaScript calls, on purpose
const js = (f: unknown) => f as (...args: any[]) => Promise<unknown>;

async function optionsError(p: () => unknown): Promise<CotError> {
  try {
    await p();
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(CotError);
    return e as CotError;
  }
  throw new Error('expected OPTIONS_INVALID, but it succeeded');
}

describe('OPTIONS_INVALID for missing or wrong options of the public entry points', () => {
  it('verifyChain: the loaded policy as the third argument names `at` (the library never reads the clock)', async () => {
    const queue = new DirectoryQueue(join(demo.dir, 'queue'));
    const loaded = await loadPolicy(demo.policy);
    const e = await optionsError(() => js(verifyChain)(queue, demo.taskId, loaded));
    expect(e.code).toBe('OPTIONS_INVALID');
    expect(e.message).toMatch(
      /^verifyChain: options\.at is required: a valid Date \(the library never reads the clock/,
    );
    // what a reader would write next works
    const r = await verifyChain(queue, demo.taskId, { ...loaded, at: NOW });
    expect(r.ok).toBe(true);
  });

  const cases: [string, () => unknown, RegExp][] = [
    [
      'verifyChain without options',
      () => js(verifyChain)(new DirectoryQueue(d), 'LnshJjNXTfeBlPNrAzyy9w'),
      /verifyChain: options is required/,
    ],
    [
      'verifyChain without a queue',
      () => js(verifyChain)(undefined, 'LnshJjNXTfeBlPNrAzyy9w', {}),
      /verifyChain: queue is required: a TaskQueue/,
    ],
    [
      'verifyChain with a malformed task id',
      () => js(verifyChain)(new DirectoryQueue(d), 'nope', {}),
      /"nope" is not a Taskcluster task id/,
    ],
    [
      'verifyChain with `at` as a string',
      async () =>
        js(verifyChain)(new DirectoryQueue(d), 'LnshJjNXTfeBlPNrAzyy9w', {
          ...(await loadPolicy(demo.policy)),
          at: '2026-01-01',
        }),
      /options\.at must be a valid Date .*, got the string "2026-01-01"/,
    ],
    [
      'verifyChain with the loaded policy as `policy`',
      async () => {
        const l = await loadPolicy(demo.policy);
        return js(verifyChain)(new DirectoryQueue(d), 'LnshJjNXTfeBlPNrAzyy9w', {
          policy: l,
          trust: l.trust,
          at: NOW,
        });
      },
      /options\.policy must be a Policy.*loadPolicy returns \{ policy, trust, path \}/,
    ],
    [
      'verifyLink without `at`',
      () => js(verifyLink)({ data: Buffer.from('x'), keys: [] }),
      /verifyLink: options\.at is required/,
    ],
    [
      'verifyLink with data as a string',
      () => js(verifyLink)({ data: 'x', keys: [], at: NOW }),
      /options\.data must be bytes/,
    ],
    [
      'verifyLink with keys and trust',
      () => js(verifyLink)({ data: Buffer.from('x'), at: NOW }),
      /give either keys .* or trust/,
    ],
    ['verifySignature without options', () => js(verifySignature)(), /verifySignature: options is required/],
    [
      'generateChainOfTrust without now',
      () => js(generateChainOfTrust)({ keys: [], format: 'ed25519', outDir: d }),
      /options\.now is required: a valid Date/,
    ],
    [
      'generateChainOfTrust with a bad format',
      () => js(generateChainOfTrust)({ keys: [], format: 'pgp', outDir: d, now: NOW }),
      /options\.format must be one of openpgp, ed25519, both/,
    ],
    [
      'workerChainOfTrust with an upload without a queue',
      () => js(workerChainOfTrust)({ keys: [], format: 'ed25519', outDir: d, now: NOW, upload: {} }),
      /options\.upload\.queue is required: a TaskQueue/,
    ],
    [
      'fetchChain without an output folder',
      () => js(fetchChain)(new DirectoryQueue(d), 'LnshJjNXTfeBlPNrAzyy9w'),
      /fetchChain: outDir is required/,
    ],
    [
      'startQueueServer without dir',
      () => js(startQueueServer)({}),
      /startQueueServer: options\.dir is required/,
    ],
    [
      'uploadArtifacts without options',
      () => js(uploadArtifacts)(new DirectoryQueue(d), []),
      /uploadArtifacts: options is required/,
    ],
    ['downloadArtifact without a queue', () => js(downloadArtifact)(), /downloadArtifact: queue is required/],
    [
      'TaskclusterQueue without rootUrl',
      async () => new (TaskclusterQueue as unknown as new (o: unknown) => unknown)({}),
      /TaskclusterQueue: options\.rootUrl is required/,
    ],
    [
      'DirectoryQueue without a folder',
      async () => new (DirectoryQueue as unknown as new () => unknown)(),
      /DirectoryQueue: dir is required/,
    ],
    ['loadPolicy without a path', () => js(loadPolicy)(), /loadPolicy: path is required/],
    [
      'listKeys without `at`',
      () => js(listKeys)({ implementations: new Map(), files: [], ignored: [] }),
      /listKeys: at is required/,
    ],
    ['checkKeyRepo without options', () => js(checkKeyRepo)(d), /checkKeyRepo: options is required/],
    [
      'generateKeyPair without now',
      () => js(generateKeyPair)({ type: 'ed25519', out: join(d, 'k') }),
      /generateKeyPair: options\.now is required/,
    ],
    ['certifyKeyFile without options', () => js(certifyKeyFile)(), /certifyKeyFile: options is required/],
    ['hashArtifacts without sources', () => js(hashArtifacts)(), /hashArtifacts: sources is required/],
  ];
  for (const [what, call, message] of cases) {
    it(what, async () => {
      const e = await optionsError(call);
      expect(e.code, e.message).toBe('OPTIONS_INVALID');
      expect(e.message).toMatch(message);
    });
  }

  it('runDemo without options', async () => {
    const e = await optionsError(() => js(runDemo)());
    expect(e.code).toBe('OPTIONS_INVALID');
  });

  it('startQueueServer refuses a store folder that does not exist (FILE_NOT_FOUND), before listening', async () => {
    const e = await optionsError(() => startQueueServer({ dir: join(d, 'no-such-store') }));
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.message).toMatch(/directory store .*no-such-store does not exist/);
  });
});
