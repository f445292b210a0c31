import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { CotError, type ErrorCode } from '../../src/index.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Real material made by other implementations; read in place, never copied. */
export const SHARED_INTEROP = process.env.COT_SHARED_INTEROP ?? resolve(REPO, '../shared/interop');
export const HAVE_SHARED = existsSync(join(SHARED_INTEROP, 'README.md'));
if (!HAVE_SHARED) {
  console.warn(
    `[cot tests] ${SHARED_INTEROP} is absent: interop vector tests are skipped (set COT_SHARED_INTEROP)`,
  );
}

export const HAVE_GPG = spawnSync('gpg', ['--version']).status === 0;
export const HAVE_PYTHON = spawnSync('python3', ['--version']).status === 0;

const made: string[] = [];
// registered once, when a test file imports this module: a hook registered inside another hook (tempDir() called
// in beforeAll) would never run
afterAll(async () => {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh temp folder, removed after the file's tests (wherever it is made, hooks included). */
export async function tempDir(prefix = 'cot-test-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** Await `p` and return the CotError it rejects with (fails if it resolves or throws something else). */
export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<ErrorCode> {
  try {
    if (typeof p === 'function') await p();
    else await p;
  } catch (e) {
    if (e instanceof CotError) return e.code;
    throw new Error(`expected a CotError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a CotError, but it succeeded');
}

export const TASK_ID = 'LnshJjNXTfeBlPNrAzyy9w';
export const TASK_GROUP_ID = 'KRa-CdtXTda3i7MQ5snK1A';

export function sampleTask(extra: Record<string, unknown> = {}) {
  return {
    provisionerId: 'proj-releng',
    workerType: 'b-linux',
    taskGroupId: TASK_GROUP_ID,
    schedulerId: 'gecko-level-3',
    dependencies: ['Se-5NNn4TB65_9383YGsJA'],
    scopes: ['queue:route:index.foo'],
    created: '2026-11-25T00:00:00.000Z',
    deadline: '2026-11-26T00:00:00.000Z',
    expires: '2027-11-25T00:00:00.000Z',
    payload: {
      image: 'ubuntu:24.04',
      command: ['bash', '-c', 'make'],
      maxRunTime: 3600,
      env: { LANG: 'C.UTF-8' },
    },
    metadata: {
      name: 'build',
      description: 'Builds ✓ 🚀',
      owner: 'nobody@example.com',
      source: 'https://example.com',
    },
    extra: {},
    ...extra,
  };
}

/** A valid v1 document (as a plain object) with one artifact. */
export function sampleDocument(extra: Record<string, unknown> = {}) {
  return {
    artifacts: { 'public/a': { sha256: 'a'.repeat(64) } },
    chainOfTrustVersion: 1,
    environment: {},
    runId: 0,
    task: sampleTask(),
    taskId: TASK_ID,
    workerGroup: 'g',
    workerId: 'w',
    ...extra,
  };
}

/** Await `p` and return the CotError it rejects with (fails if it resolves or throws something else). */
export async function errorOf(p: Promise<unknown>): Promise<CotError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CotError) return e;
    throw new Error(`expected a CotError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a CotError, but it succeeded');
}
