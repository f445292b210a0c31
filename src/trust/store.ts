import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { CotError, fsError } from '../errors.js';
import { parseJsonBytes } from '../json/parse.js';
import { parseVerificationKeys, type VerificationKey } from '../keys/keys.js';
import { loadPgp } from '../pgp/lazy.js';
import type { PgpPublicKey } from '../pgp/openpgp.js';
import { checkOption } from '../util/options.js';
import { readSmallFile } from '../util/read.js';

type PgpVerificationKey = Extract<VerificationKey, { kind: 'openpgp' }>;
type Ed25519VerificationKey = Extract<VerificationKey, { kind: 'ed25519' }>;

/** How a key serves its implementation. */
export type KeyRole = 'worker' | 'root' | 'certified';

/** The keys of one worker implementation. A key allowed for one implementation is never used for another. */
export interface ImplementationKeys {
  name: string;
  /** 'flat': every key is a worker key; 'certified': roots (trusted/) certify worker keys (valid/) */
  layout: 'flat' | 'certified';
  /** accepted directly: flat OpenPGP keys and ed25519 keys */
  workerKeys: VerificationKey[];
  /** trusted roots: they certify keys but are NOT accepted as worker keys */
  roots: PgpVerificationKey[];
  /** accepted only when certified by a root that was valid when it certified */
  certified: PgpVerificationKey[];
}

/** One file of a key repository, as loaded (for listings and lint). */
export interface KeyFileEntry {
  path: string;
  /** the file read, when `path` names one part of it (an ed25519 trust file's entry: `FILE#implementation`) */
  file?: string;
  implementation: string;
  role: KeyRole;
  keys: VerificationKey[];
  /** the sha256 (hex) of the file's bytes as read (a policy's digest: attest/policyDigest) */
  sha256?: string;
  /** why the file could not be used */
  error?: string;
}

/** The file a KeyFileEntry was read from (its `path`, or the trust file an entry `FILE#implementation` is part of). */
export function keyFileOf(entry: KeyFileEntry): string {
  return entry.file ?? entry.path;
}

export interface TrustStore {
  implementations: Map<string, ImplementationKeys>;
  files: KeyFileEntry[];
  /** files under an implementation folder that are not key files (README.md, scripts...) */
  ignored: string[];
}

/** Parsed keys by content hash: each distinct key file is parsed once per run. */
type KeyCache = Map<string, Promise<VerificationKey[]>>;

export function newKeyCache(): KeyCache {
  return new Map();
}

/** Key files in a repository: OpenPGP (.pub, .asc, .gpg) or ed25519 (.pub, .ed25519) public keys. */
/** Largest key or trust file read (an OpenPGP keyring with many keys stays far below). */
const MAX_KEY_FILE_BYTES = 16 * 1024 * 1024;

const KEY_SUFFIXES = ['.pub', '.asc', '.gpg', '.ed25519'];
const IMPLEMENTATION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The sha256 (hex) of a file's bytes: its key-cache key and its KeyFileEntry digest (hashing/ is a layer above). */
function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function parseCached(
  bytes: Buffer,
  source: string,
  cache: KeyCache,
  digest: string = sha256Hex(bytes),
): Promise<VerificationKey[]> {
  let p = cache.get(digest);
  if (!p) {
    p = parseVerificationKeys(bytes, source);
    cache.set(digest, p);
  }
  // the cached parse names the first file; re-label the source for this one
  return (await p).map((k) => ({ ...k, source }));
}

async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw fsError(e, dir, 'cannot list');
  }
  for (const ent of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (ent.name.startsWith('.')) continue;
    const p = join(dir, ent.name);
    if (ent.isDirectory()) out.push(...(await walkFiles(p)));
    else out.push(p);
  }
  return out;
}

export interface LoadKeyRepoOptions {
  cache?: KeyCache;
  /** keep going past unreadable or invalid files, recording them (for `keys check` / `keys list`) */
  tolerant?: boolean;
}

function emptyImplementation(name: string, layout: 'flat' | 'certified'): ImplementationKeys {
  return { name, layout, workerKeys: [], roots: [], certified: [] };
}

/**
 * Load a key repository in the `cot-gpg-keys` layout: each top-level folder is a worker implementation. A folder
 * with `trusted/` (and `valid/`) subfolders uses the certified layout (scriptworker); any other folder is flat,
 * every key file below it (recursively) being a worker key. Key files may hold OpenPGP keys (armored or binary,
 * several per file) or base64 ed25519 keys (one per line). Other files are ignored and reported.
 */
export async function loadKeyRepo(dir: string, options: LoadKeyRepoOptions = {}): Promise<TrustStore> {
  checkOption('loadKeyRepo', 'dir', dir, { kind: 'string' });
  const cache = options.cache ?? newKeyCache();
  const store: TrustStore = { implementations: new Map(), files: [], ignored: [] };
  let top: Dirent[];
  try {
    if (!(await stat(dir)).isDirectory())
      throw new CotError('KEY_REPO_INVALID', `key repository ${dir} is not a directory`);
    top = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw fsError(e, dir, 'key repository');
  }
  assertKeyRepoLayout(dir, top);
  const bad: string[] = [];
  for (const ent of top.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!ent.isDirectory() || ent.name.startsWith('.')) continue;
    if (!IMPLEMENTATION_NAME.test(ent.name)) continue;
    const implDir = join(dir, ent.name);
    const subdirs = new Set(
      (await readdir(implDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name),
    );
    const certifiedLayout = subdirs.has('trusted');
    const impl = emptyImplementation(ent.name, certifiedLayout ? 'certified' : 'flat');
    store.implementations.set(ent.name, impl);
    for (const file of await walkFiles(implDir)) {
      const rel = relative(implDir, file).split(sep);
      if (!KEY_SUFFIXES.some((s) => file.endsWith(s))) {
        store.ignored.push(file);
        continue;
      }
      let role: KeyRole = 'worker';
      if (certifiedLayout) {
        if (rel[0] === 'trusted') role = 'root';
        else if (rel[0] === 'valid') role = 'certified';
        else {
          store.ignored.push(file);
          continue;
        }
      }
      const entry: KeyFileEntry = { path: file, implementation: ent.name, role, keys: [] };
      store.files.push(entry);
      try {
        const bytes = await readSmallFile(file, 'key file', MAX_KEY_FILE_BYTES);
        entry.sha256 = sha256Hex(bytes);
        entry.keys = await parseCached(bytes, file, cache, entry.sha256);
      } catch (e) {
        entry.error = e instanceof Error ? e.message : String(e);
        bad.push(`${file}: ${entry.error}`);
        continue;
      }
      for (const k of entry.keys) {
        if (role === 'worker') impl.workerKeys.push(k);
        else if (k.kind !== 'openpgp') {
          entry.error = `${role === 'root' ? 'trusted roots' : 'certified keys'} must be OpenPGP keys`;
          bad.push(`${file}: ${entry.error}`);
        } else if (role === 'root') impl.roots.push(k);
        else impl.certified.push(k);
      }
    }
  }
  if (store.files.length === 0)
    throw new CotError(
      'KEY_REPO_INVALID',
      `${dir} is not a key repository: no key file (${KEY_SUFFIXES.join(', ')}) in any of its implementation folders (${[...store.implementations.keys()].join(', ')})`,
      { details: { path: dir } },
    );
  if (bad.length > 0 && !options.tolerant) {
    throw new CotError(
      'KEY_INVALID',
      `key repository ${dir}: ${bad.length} unusable key file(s): ${bad.join('; ')}`,
      {
        details: { files: bad },
      },
    );
  }
  return store;
}

/** The sub-folders of an implementation folder in the certified layout: never implementations themselves. */
const LAYOUT_FOLDERS = new Set(['trusted', 'valid']);

/**
 * A key repository holds one folder per implementation (docker-worker/, scriptworker/ ...). Refused with
 * KEY_REPO_INVALID, before anything is listed or checked: a folder with no implementation folder (an empty folder,
 * a folder of key files: nothing would be trusted, and `keys check` would say "ok: 0 keys"), and an implementation
 * folder given itself, one level too deep (`scriptworker/`, whose `trusted/` roots would be listed as worker keys of
 * an implementation named "trusted").
 */
function assertKeyRepoLayout(dir: string, top: readonly Dirent[]): void {
  const folders = top.filter(
    (e) => e.isDirectory() && !e.name.startsWith('.') && IMPLEMENTATION_NAME.test(e.name),
  );
  const layout = folders.filter((e) => LAYOUT_FOLDERS.has(e.name)).map((e) => `${e.name}/`);
  if (layout.length > 0)
    throw new CotError(
      'KEY_REPO_INVALID',
      `${dir} is not a key repository but an implementation folder of one (it holds ${layout.join(' and ')}): give the folder above it, which holds one folder per implementation`,
      { details: { path: dir } },
    );
  // a flat implementation keeps its keys in dated folders (docker-worker/2017-01-23/): a repository whose every
  // "implementation" is named like a date is one implementation's folder, given one level too deep
  const dated = folders.filter((e) => /^\d{4}-\d{2}/.test(e.name)).map((e) => `${e.name}/`);
  if (dated.length > 0 && dated.length === folders.length)
    throw new CotError(
      'KEY_REPO_INVALID',
      `${dir} is not a key repository but an implementation folder of one (its folders ${dated.join(', ')} are named like key dates, not worker implementations): give the folder above it, which holds one folder per implementation`,
      { details: { path: dir } },
    );
  if (folders.length === 0) {
    const keyFiles = top.filter((e) => e.isFile() && KEY_SUFFIXES.some((x) => e.name.endsWith(x)));
    throw new CotError(
      'KEY_REPO_INVALID',
      `${dir} is not a key repository: it has no implementation folder (docker-worker/, generic-worker/, scriptworker/ ...)${
        keyFiles.length > 0
          ? `, only key files at its top (${keyFiles.length}): a key repository holds them in one folder per implementation`
          : ''
      }`,
      { details: { path: dir } },
    );
  }
}

const TRUST_ITEM_FIELDS = new Set(['key', 'comment', 'from', 'until']);

/** A strict ISO 8601 time with a date and a time zone (`2026-01-01T00:00:00Z`), as written in trust files. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function trustTime(value: unknown, what: string): Date {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value; // YAML timestamps
  if (typeof value !== 'string' || !ISO_TIME.test(value) || Number.isNaN(Date.parse(value))) {
    throw new CotError(
      'KEY_INVALID',
      `${what} must be an ISO 8601 time with a time zone (e.g. 2026-01-01T00:00:00Z), got ${JSON.stringify(value)}`,
    );
  }
  return new Date(value);
}

/**
 * Add ed25519 keys from a JSON or YAML trust file:
 * `{ "<implementation>": ["<base64 key>", {"key": "<base64>", "comment": "...", "from": ISO, "until": ISO}] }`.
 * Several keys per implementation allow rotation by overlap. `from` (inclusive) and `until` (exclusive) bound the
 * key's validity window, judged against the task's creation time (`taskCreated`, else the reference time): a key
 * retired with `until` stays listed for old chains without signing new ones. Unknown fields, bad times and an
 * empty window are refused (KEY_INVALID): a misspelt `until` must not silently widen trust.
 */
export async function addEd25519TrustFile(
  store: TrustStore,
  path: string,
  cache: KeyCache = newKeyCache(),
): Promise<TrustStore> {
  let bytes: Buffer;
  try {
    bytes = await readSmallFile(path, 'trust file', MAX_KEY_FILE_BYTES);
  } catch (e) {
    throw fsError(e, path, 'cannot read trust file');
  }
  const fileSha256 = sha256Hex(bytes);
  let doc: unknown;
  if (/\.ya?ml$/i.test(path)) {
    const YAML = createRequire(import.meta.url)('yaml') as {
      parse(t: string, o?: Record<string, unknown>): unknown;
    };
    try {
      doc = YAML.parse(bytes.toString('utf8'), { uniqueKeys: true, maxAliasCount: 0 });
    } catch (e) {
      throw new CotError('KEY_INVALID', `trust file ${path}: not valid YAML: ${(e as Error).message}`, {
        cause: e,
      });
    }
  } else doc = parseJsonBytes(bytes, { source: `trust file ${path}` });
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new CotError(
      'KEY_INVALID',
      `trust file ${path} must hold an object: implementation -> list of base64 ed25519 keys`,
    );
  }
  for (const [name, list] of Object.entries(doc)) {
    if (!IMPLEMENTATION_NAME.test(name))
      throw new CotError(
        'KEY_INVALID',
        `trust file ${path}: bad implementation name ${JSON.stringify(name)}`,
      );
    if (!Array.isArray(list))
      throw new CotError('KEY_INVALID', `trust file ${path}: ${name} must be a list of keys`);
    const impl = store.implementations.get(name) ?? emptyImplementation(name, 'flat');
    store.implementations.set(name, impl);
    const entry: KeyFileEntry = {
      path: `${path}#${name}`,
      file: path,
      implementation: name,
      role: 'worker',
      keys: [],
      sha256: fileSha256,
    };
    for (let i = 0; i < list.length; i++) {
      const item: unknown = list[i];
      const where = `trust file ${path}: ${name}[${i}]`;
      const obj =
        item && typeof item === 'object' && !Array.isArray(item) && !(item instanceof Date)
          ? (item as Record<string, unknown>)
          : undefined;
      const text = typeof item === 'string' ? item : obj?.key;
      if (typeof text !== 'string') {
        throw new CotError('KEY_INVALID', `${where} is not a base64 key or {"key": "<base64>"}`);
      }
      const window: { validFrom?: Date; validUntil?: Date } = {};
      if (obj) {
        const unknown = Object.keys(obj).filter((f) => !TRUST_ITEM_FIELDS.has(f));
        if (unknown.length > 0) {
          throw new CotError(
            'KEY_INVALID',
            `${where} has unknown field(s) ${unknown.map((f) => JSON.stringify(f)).join(', ')} (allowed: key, comment, from, until)`,
          );
        }
        if (obj.comment !== undefined && typeof obj.comment !== 'string')
          throw new CotError('KEY_INVALID', `${where}: comment must be a string`);
        if (obj.from !== undefined) window.validFrom = trustTime(obj.from, `${where}.from`);
        if (obj.until !== undefined) window.validUntil = trustTime(obj.until, `${where}.until`);
        if (window.validFrom && window.validUntil && window.validFrom >= window.validUntil) {
          throw new CotError('KEY_INVALID', `${where}: from must be earlier than until`);
        }
      }
      const keys = await parseCached(Buffer.from(text), `${path} ${name}[${i}]`, cache);
      for (const k of keys) {
        if (k.kind !== 'ed25519') throw new CotError('KEY_INVALID', `${where} is not an ed25519 key`);
        const windowed = { ...k, ...window };
        entry.keys.push(windowed);
        impl.workerKeys.push(windowed);
      }
    }
    store.files.push(entry);
  }
  return store;
}

/** An empty store, to which keys can be added. */
export function emptyTrustStore(): TrustStore {
  return { implementations: new Map(), files: [], ignored: [] };
}

/** The result of resolving a certified key's certification. */
interface CertificationResult {
  root: PgpVerificationKey;
  certifiedAt: Date;
  /** when the certification itself expires (null = never) */
  expires: Date | null;
  userId: string;
}

/**
 * Decide whether `key` (from the certified set of `impl`) is certified by one of its trusted roots that was valid
 * when it certified, for a document signed at `signedAt`. A certification counts when:
 *  - the root was valid when it certified: created, not expired, not revoked then (a HARD revocation of the root
 *    voids all its certifications, past ones included; a soft one only those made after it);
 *  - the certification itself had not expired when the document was signed (its signature expiration time,
 *    RFC 4880 section 5.2.3.10 / RFC 9580 section 5.2.3.18; made e.g. by `gpg --default-cert-expire`): a one-day
 *    certification does not vouch for a signature made weeks later. A certification made after the document was
 *    signed still counts (as with GnuPG's keyring, which the reference verifier scriptworker used; key
 *    repositories certify keys after they start signing).
 * Without `signedAt`, the certification's expiry is not judged.
 *
 * Throws KEY_CERTIFIER_INVALID (only roots' certifications that do not count), KEY_UNCERTIFIED (none at all),
 * KEY_CERTIFIED_BY_UNTRUSTED (only by other worker keys), KEY_CERTIFIER_UNKNOWN (only by unknown keys).
 */
export async function resolveCertification(
  impl: ImplementationKeys,
  key: PgpVerificationKey,
  signedAt?: Date,
): Promise<CertificationResult> {
  const pgp = await loadPgp();
  const findings = await pgp.checkCertifications(
    key.key,
    impl.roots.map((r) => r.key),
  );
  const expiredBefore = (f: { expires: Date | null }) =>
    signedAt !== undefined && f.expires !== null && f.expires.getTime() <= signedAt.getTime();
  const good = findings.find((f) => f.root && f.valid && !expiredBefore(f));
  if (good) {
    const root = impl.roots.find((r) => r.key === good.root)!;
    return { root, certifiedAt: good.created, expires: good.expires, userId: good.userId };
  }
  const label = `${impl.name} key ${key.fingerprint}${key.userIds[0] ? ` (${key.userIds[0]})` : ''}`;
  const byRoot = findings.filter((f) => f.root);
  if (byRoot.length > 0) {
    throw new CotError(
      'KEY_CERTIFIER_INVALID',
      `${label} is certified only by trusted roots whose certification does not count: ${byRoot
        .map(
          (f) =>
            `${f.issuerKeyId} at ${f.created.toISOString()}: ${
              f.valid
                ? `the certification expired ${f.expires!.toISOString()}, before the document was signed (${signedAt!.toISOString()})`
                : `the root was not valid when it certified: ${f.reason}`
            }`,
        )
        .join('; ')}`,
    );
  }
  if (findings.length === 0) {
    throw new CotError(
      'KEY_UNCERTIFIED',
      `${label} is not certified by any key; it needs a certification by a trusted root`,
    );
  }
  const others = impl.certified.filter((c) => c.fingerprint !== key.fingerprint);
  const byValid = findings.filter((f) => others.some((o) => hasKeyId(o.key, f.issuerKeyId)));
  if (byValid.length > 0) {
    throw new CotError(
      'KEY_CERTIFIED_BY_UNTRUSTED',
      `${label} is certified only by other worker keys (${byValid.map((f) => f.issuerKeyId).join(', ')}), not by a trusted root`,
    );
  }
  throw new CotError(
    'KEY_CERTIFIER_UNKNOWN',
    `${label} is certified only by unknown keys (${[...new Set(findings.map((f) => f.issuerKeyId))].join(', ')}), none of them a trusted root`,
  );
}

function hasKeyId(key: PgpPublicKey, hex: string): boolean {
  return key.getKeyIDs().some((id) => id.toHex().toUpperCase() === hex);
}

/** The ed25519 copies' windows intersected: the latest `from` and the earliest `until` (most restrictive wins). */
function intersectWindows(copies: readonly Ed25519VerificationKey[]): {
  validFrom?: Date;
  validUntil?: Date;
} {
  const froms = copies.flatMap((k) => (k.validFrom ? [k.validFrom.getTime()] : []));
  const untils = copies.flatMap((k) => (k.validUntil ? [k.validUntil.getTime()] : []));
  return {
    ...(froms.length > 0 ? { validFrom: new Date(Math.max(...froms)) } : {}),
    ...(untils.length > 0 ? { validUntil: new Date(Math.min(...untils)) } : {}),
  };
}

interface MergeCacheEntry {
  inputs: VerificationKey[];
  merged: Promise<ImplementationKeys>;
}
const mergeCache = new WeakMap<ImplementationKeys, MergeCacheEntry>();

function allKeysOf(impl: ImplementationKeys): VerificationKey[] {
  return [...impl.workerKeys, ...impl.roots, ...impl.certified];
}

/**
 * The implementation's keys with the copies of each key merged: all OpenPGP copies of one fingerprint (worker,
 * root or certified, in any file of this implementation) become one key carrying every copy's revocations,
 * certifications and self-signatures (a revocation on any copy wins: a stale copy without it, in another file,
 * can no longer verify; certifications found on different copies all count); ed25519 copies of one public key
 * become one key whose window is the intersection of theirs. Each merged key lists its files in `sources`. Roles
 * are kept (a root stays a root). Copies are never merged across implementations. Cached per implementation
 * object until its key lists change.
 */
export function mergedImplementation(impl: ImplementationKeys): Promise<ImplementationKeys> {
  const inputs = allKeysOf(impl);
  const cached = mergeCache.get(impl);
  if (cached && cached.inputs.length === inputs.length && cached.inputs.every((k, i) => k === inputs[i])) {
    return cached.merged;
  }
  const merged = mergeImplementation(impl, inputs);
  mergeCache.set(impl, { inputs, merged });
  return merged;
}

async function mergeImplementation(
  impl: ImplementationKeys,
  inputs: VerificationKey[],
): Promise<ImplementationKeys> {
  const pgpGroups = new Map<string, PgpVerificationKey[]>();
  const edGroups = new Map<string, Ed25519VerificationKey[]>();
  for (const k of inputs) {
    if (k.kind === 'openpgp') pgpGroups.set(k.fingerprint, [...(pgpGroups.get(k.fingerprint) ?? []), k]);
    else edGroups.set(k.publicKey, [...(edGroups.get(k.publicKey) ?? []), k]);
  }
  const sourcesOf = (copies: readonly VerificationKey[]) => [
    ...new Set(copies.flatMap((c) => c.sources ?? [c.source])),
  ];
  const pgp = pgpGroups.size > 0 ? await loadPgp() : undefined;
  const mergedPgp = new Map<string, PgpVerificationKey>();
  for (const [fpr, copies] of pgpGroups) {
    const first = copies[0]!;
    if (copies.length === 1) {
      mergedPgp.set(fpr, first);
      continue;
    }
    const key = await pgp!.mergeKeyCopies(copies.map((c) => c.key));
    mergedPgp.set(fpr, {
      ...first,
      key,
      userIds: pgp!.userIdsOf(key),
      sources: sourcesOf(copies),
    });
  }
  const mergedEd = new Map<string, Ed25519VerificationKey>();
  for (const [pub, copies] of edGroups) {
    const first = copies[0]!;
    if (copies.length === 1) {
      mergedEd.set(pub, first);
      continue;
    }
    const { validFrom: _f, validUntil: _u, ...rest } = first;
    mergedEd.set(pub, { ...rest, ...intersectWindows(copies), sources: sourcesOf(copies) });
  }
  const pick = <K extends VerificationKey>(list: readonly K[]): K[] => {
    const seen = new Set<string>();
    const out: K[] = [];
    for (const k of list) {
      const id = k.kind === 'openpgp' ? k.fingerprint : k.publicKey;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push((k.kind === 'openpgp' ? mergedPgp.get(id) : mergedEd.get(id)) as K);
    }
    return out;
  };
  return {
    name: impl.name,
    layout: impl.layout,
    workerKeys: pick(impl.workerKeys),
    roots: pick(impl.roots),
    certified: pick(impl.certified),
  };
}

/** All keys a signature for `impl` may be checked against (certified keys still need `resolveCertification`). */
export function candidateKeys(impl: ImplementationKeys): VerificationKey[] {
  return [...impl.workerKeys, ...impl.certified];
}

export function getImplementation(store: TrustStore, name: string): ImplementationKeys {
  const impl = store.implementations.get(name);
  if (!impl) {
    throw new CotError(
      'TRUST_UNKNOWN_IMPLEMENTATION',
      `no keys for worker implementation ${JSON.stringify(name)}; the trust store has: ${[...store.implementations.keys()].join(', ') || 'nothing'}`,
    );
  }
  return impl;
}
