import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type { Ajv as AjvClass } from 'ajv';
import type { HashAlgorithm } from '../document/schema.js';
import { CotError, fsError } from '../errors.js';
import { digestBytes } from '../hashing/digest.js';
import { parseJson } from '../json/parse.js';
import { loadVerificationKeyFile } from '../keys/keys.js';
import { DEFAULT_DEADLINE_MS, DEFAULT_MIN_BYTES_PER_SECOND } from '../transport/http.js';
import {
  addEd25519TrustFile,
  emptyTrustStore,
  loadKeyRepo,
  newKeyCache,
  type TrustStore,
} from '../trust/store.js';
import { checkOption } from '../util/options.js';
import { readSmallFile } from '../util/read.js';
import { resolveTree, TREE_SCHEMA, type TreePolicy } from './tree-policy.js';

/** What a chain verification trusts and how far it goes. Paths are relative to the policy file. */
export interface Policy {
  /** key repository (cot-gpg-keys layout) */
  keyRepo?: string;
  /** JSON or YAML trust file of ed25519 keys per implementation */
  ed25519Keys?: string;
  /** key files per implementation (OpenPGP or base64 ed25519), as worker keys */
  keys?: Record<string, string[]>;
  /** worker type -> implementation: keys "provisionerId/workerType" or "workerType"; "*" may end a key */
  workerTypes: Record<string, string>;
  /** worker types (same key forms) that decision and action tasks must run on */
  decisionWorkerTypes: string[];
  /** worker types allowed to build docker images consumed by tasks (empty: any) */
  dockerImageWorkerTypes: string[];
  /**
   * task kinds allowed to run a prebuilt docker image (a registry name or an indexed image), as the reference's
   * `prebuilt_docker_image_task_types`: decision, action, docker-image, an upstreamArtifacts taskType, an input
   * name, `root` for the verified task when it is neither a decision nor an action. Absent: any kind, and the
   * report marks such images unverified.
   */
  prebuiltDockerImageTaskTypes?: string[];
  /** scopes (exact, or ending in `*` for a prefix) that make the verified task restricted: no indexed image may
   * appear in its chain (the reference's `cot_restricted_scopes`) */
  restrictedScopes: string[];
  /** which chain-of-trust files each link must have */
  signatureFormat: 'ed25519' | 'openpgp' | 'either';
  hashAlgorithms: HashAlgorithm[];
  /** also follow task.dependencies */
  followDependencies: boolean;
  /** the task given to `cot verify` must itself carry a chain-of-trust document */
  verifyRootTask: boolean;
  /**
   * maxBytes: largest artifact; timeoutMs: inactivity timeout of a request; deadlineMs: overall deadline of one
   * download; minBytesPerSecond: minimum download rate after a 30 s grace period (0: none). See httpGet.
   */
  bounds: {
    maxDepth: number;
    maxTasks: number;
    maxBytes: number;
    concurrency: number;
    timeoutMs: number;
    deadlineMs: number;
    minBytesPerSecond: number;
  };
  /** hosts artifact downloads may be redirected to */
  allowedHosts: string[];
  /**
   * Trace the chain back to its tree (tree-policy.ts): rebuild every decision, cron and action task from its
   * repository's `.taskcluster.yml`, check each link's repository, the restricted scopes and the kinds that must run
   * on scriptworker. Absent: none of that, and each parent link carries the warning that its tree was not traced.
   * Its `restrictedScopes` are added to the top-level ones, and its `prebuiltDockerImageTaskTypes` (unless "any")
   * stand in for a top-level list the policy does not give.
   */
  tree?: TreePolicy;
}

const DEFAULTS = {
  signatureFormat: 'either',
  hashAlgorithms: ['sha256', 'sha512'],
  followDependencies: false,
  verifyRootTask: true,
  bounds: {
    maxDepth: 20,
    maxTasks: 5000,
    maxBytes: 8 * 1024 ** 3,
    concurrency: 8,
    timeoutMs: 30_000,
    deadlineMs: DEFAULT_DEADLINE_MS,
    minBytesPerSecond: DEFAULT_MIN_BYTES_PER_SECOND,
  },
  allowedHosts: [],
  dockerImageWorkerTypes: [],
  restrictedScopes: [],
} as const;

const BOUNDS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxDepth: { type: 'integer', minimum: 1, maximum: 1000 },
    maxTasks: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    maxBytes: { type: 'integer', minimum: 1 },
    concurrency: { type: 'integer', minimum: 1, maximum: 256 },
    timeoutMs: { type: 'integer', minimum: 1 },
    deadlineMs: { type: 'integer', minimum: 1 },
    minBytesPerSecond: { type: 'integer', minimum: 0 },
  },
} as const;

const POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['workerTypes', 'decisionWorkerTypes'],
  properties: {
    keyRepo: { type: 'string' },
    ed25519Keys: { type: 'string' },
    keys: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
    workerTypes: { type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
    decisionWorkerTypes: { type: 'array', items: { type: 'string' } },
    dockerImageWorkerTypes: { type: 'array', items: { type: 'string' } },
    prebuiltDockerImageTaskTypes: { type: 'array', items: { type: 'string', minLength: 1 } },
    restrictedScopes: { type: 'array', items: { type: 'string', minLength: 1 } },
    signatureFormat: { enum: ['ed25519', 'openpgp', 'either'] },
    hashAlgorithms: { type: 'array', minItems: 1, items: { enum: ['sha256', 'sha512'] } },
    followDependencies: { type: 'boolean' },
    verifyRootTask: { type: 'boolean' },
    bounds: BOUNDS_SCHEMA,
    allowedHosts: { type: 'array', items: { type: 'string' } },
    tree: TREE_SCHEMA,
  },
} as const;

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(
        d[i - 1]![j]! + 1,
        d[i]![j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return d[a.length]![b.length]!;
}

function hint(key: string, known: readonly string[]): string {
  const best = known
    .map((k) => [k, distance(key.toLowerCase(), k.toLowerCase())] as const)
    .sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best[0]}"?)` : '';
}

/**
 * Check a parsed policy and fill in the defaults; every problem is listed, unknown keys with a hint. Throws
 * POLICY_INVALID (details.problems, one sentence each).
 */
export function toPolicy(value: unknown, source = 'policy'): Policy {
  const ajv = new (createRequire(import.meta.url)('ajv') as { Ajv: typeof AjvClass }).Ajv({
    allErrors: true,
    strict: true,
  });
  const validate = ajv.compile(POLICY_SCHEMA);
  if (!validate(value)) {
    const problems = (validate.errors ?? []).map((e) => {
      const at = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(top level)';
      if (e.keyword === 'additionalProperties') {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        const known =
          e.instancePath === '/bounds'
            ? Object.keys(BOUNDS_SCHEMA.properties)
            : e.instancePath === '/tree'
              ? Object.keys(TREE_SCHEMA.properties)
              : Object.keys(POLICY_SCHEMA.properties);
        return `${e.instancePath ? `${at}.` : ''}${extra}: unknown key${hint(extra, known)}`;
      }
      return `${at}: ${e.message}`;
    });
    throw new CotError('POLICY_INVALID', `${source}: ${problems.join('; ')}`, { details: { problems } });
  }
  const v = value as Partial<Policy> & Pick<Policy, 'workerTypes' | 'decisionWorkerTypes'>;
  const tree = v.tree === undefined ? undefined : resolveTree(v.tree as never, source);
  const prebuilt =
    v.prebuiltDockerImageTaskTypes ??
    (tree && tree.prebuiltDockerImageTaskTypes !== 'any' ? tree.prebuiltDockerImageTaskTypes : undefined);
  return {
    ...DEFAULTS,
    ...v,
    hashAlgorithms: [...(v.hashAlgorithms ?? DEFAULTS.hashAlgorithms)],
    dockerImageWorkerTypes: [...(v.dockerImageWorkerTypes ?? [])],
    ...(prebuilt ? { prebuiltDockerImageTaskTypes: [...prebuilt] } : {}),
    restrictedScopes: [
      ...new Set([...(v.restrictedScopes ?? []), ...Object.keys(tree?.restrictedScopes ?? {})]),
    ],
    allowedHosts: [...(v.allowedHosts ?? [])],
    bounds: { ...DEFAULTS.bounds, ...(v.bounds ?? {}) },
    ...(tree ? { tree } : {}),
  } as Policy;
}

export interface LoadedPolicy {
  policy: Policy;
  trust: TrustStore;
  path: string;
  /** the sha256 (hex) of the policy file's bytes as read (its key files carry theirs: KeyFileEntry.sha256) */
  sha256: string;
}

/**
 * Read a policy file (YAML or JSON), check it, and load the trust store it names. Throws OPTIONS_INVALID (no path),
 * FILE_NOT_FOUND / FILE_UNREADABLE (the file), POLICY_INVALID (bad YAML or JSON, a bad policy: toPolicy, or no keys
 * at all), and what loading its keys throws (loadKeyRepo, loadVerificationKeys: FILE_*, KEY_INVALID,
 * KEY_REPO_INVALID...).
 */
/** Largest policy file read (a policy is a few kilobytes; its key files are read apart). */
const MAX_POLICY_BYTES = 4 * 1024 * 1024;

export async function loadPolicy(path: string): Promise<LoadedPolicy> {
  checkOption('loadPolicy', 'path', path, { kind: 'string', hint: 'the policy file (YAML or JSON)' });
  let text: string;
  let sha256: string;
  try {
    const bytes = await readSmallFile(path, 'policy', MAX_POLICY_BYTES);
    sha256 = digestBytes(bytes);
    text = bytes.toString('utf8');
  } catch (e) {
    throw fsError(e, path, 'cannot read policy');
  }
  let value: unknown;
  try {
    if (/\.json$/i.test(path)) value = parseJson(text, { source: path });
    else {
      const YAML = createRequire(import.meta.url)('yaml') as {
        parse(t: string, o?: Record<string, unknown>): unknown;
      };
      value = YAML.parse(text, { uniqueKeys: true, maxAliasCount: 0 });
    }
  } catch (e) {
    if (e instanceof CotError) throw new CotError('POLICY_INVALID', `${path}: ${e.message}`, { cause: e });
    throw new CotError('POLICY_INVALID', `${path}: not valid YAML: ${(e as Error).message}`, { cause: e });
  }
  const policy = toPolicy(value, path);
  const base = dirname(resolve(path));
  if (policy.tree?.dir !== undefined) policy.tree.dir = resolve(base, policy.tree.dir);
  const cache = newKeyCache();
  const trust = policy.keyRepo
    ? await loadKeyRepo(resolve(base, policy.keyRepo), { cache })
    : emptyTrustStore();
  if (policy.ed25519Keys) await addEd25519TrustFile(trust, resolve(base, policy.ed25519Keys), cache);
  for (const [impl, files] of Object.entries(policy.keys ?? {})) {
    const entry = trust.implementations.get(impl) ?? {
      name: impl,
      layout: 'flat' as const,
      workerKeys: [],
      roots: [],
      certified: [],
    };
    trust.implementations.set(impl, entry);
    for (const f of files) {
      const file = resolve(base, f);
      const { keys, bytes } = await loadVerificationKeyFile(file);
      entry.workerKeys.push(...keys);
      trust.files.push({
        path: file,
        implementation: impl,
        role: 'worker',
        keys,
        sha256: digestBytes(bytes),
      });
    }
  }
  if (trust.implementations.size === 0) {
    throw new CotError('POLICY_INVALID', `${path}: the policy names no keys (keyRepo, ed25519Keys or keys)`);
  }
  return { policy, trust, path, sha256 };
}

function matches(pattern: string, provisionerId: string, workerType: string): boolean {
  const subject = pattern.includes('/') ? `${provisionerId}/${workerType}` : workerType;
  if (pattern.endsWith('*')) return subject.startsWith(pattern.slice(0, -1));
  return subject === pattern;
}

/**
 * The implementation a task's worker type maps to (the policy decides; nothing is guessed): the most specific
 * matching `workerTypes` key, or undefined. Never throws.
 */
export function implementationFor(
  policy: Policy,
  provisionerId: string,
  workerType: string,
): string | undefined {
  const keys = Object.keys(policy.workerTypes).sort((a, b) => b.length - a.length); // most specific first
  const key = keys.find((k) => matches(k, provisionerId, workerType));
  return key === undefined ? undefined : policy.workerTypes[key];
}

export function workerTypeIn(list: readonly string[], provisionerId: string, workerType: string): boolean {
  return list.some((k) => matches(k, provisionerId, workerType));
}
