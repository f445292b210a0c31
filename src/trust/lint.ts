import { CotError } from '../errors.js';
import { loadPgp } from '../pgp/lazy.js';
import { checkOption, checkOptions } from '../util/options.js';
import {
  addEd25519TrustFile,
  emptyTrustStore,
  type ImplementationKeys,
  type KeyRole,
  loadKeyRepo,
  mergedImplementation,
  resolveCertification,
  type TrustStore,
} from './store.js';

/** One key of a repository as `cot keys list` shows it. */
export interface KeyListing {
  implementation: string;
  role: KeyRole;
  file: string;
  kind: 'openpgp' | 'ed25519';
  /** OpenPGP fingerprint or base64 ed25519 key */
  id: string;
  userIds: string[];
  algorithm: string;
  created: string | null;
  /** OpenPGP: the key's expiry; ed25519: the end of its validity window (`until`); null = never */
  expires: string | null;
  /** ed25519 keys from a trust file: the validity window (`from` inclusive, `until` exclusive) */
  window?: { from: string | null; until: string | null };
  /** as of the reference time; `retired`: an ed25519 key past its window's `until`, kept for old chains */
  status: 'valid' | 'expired' | 'revoked' | 'not-yet-valid' | 'weak' | 'uncertified' | 'retired';
  detail?: string;
  certifiedBy?: string;
  /** when the certification by `certifiedBy` expires (null/absent = never) */
  certificationExpires?: string | null;
  /** every file of this implementation holding a copy of the key, when there are several (they are merged) */
  copies?: string[];
}

const DAY = 86400_000;

/**
 * Every key of the store, with its status as of `at` (certifications resolved for certified keys, as for a
 * signature made at `at`). Copies of one key within an implementation are judged merged (a revocation on one copy
 * shows on every copy's row); each file keeps its row.
 */
export async function listKeys(store: TrustStore, at: Date): Promise<KeyListing[]> {
  checkOption('listKeys', 'store', store, { kind: 'trustStore' });
  checkOption('listKeys', 'at', at, { kind: 'date', hint: 'the reference time of the statuses' });
  const pgp = await loadPgp();
  const out: KeyListing[] = [];
  const merged = new Map<string, ImplementationKeys>();
  for (const [name, impl] of store.implementations) merged.set(name, await mergedImplementation(impl));
  for (const file of store.files) {
    const impl = merged.get(file.implementation)!;
    const all = [...impl.workerKeys, ...impl.roots, ...impl.certified];
    for (const fileKey of file.keys) {
      const k =
        all.find((m) =>
          m.kind === 'openpgp'
            ? fileKey.kind === 'openpgp' && m.fingerprint === fileKey.fingerprint
            : fileKey.kind === 'ed25519' && m.publicKey === fileKey.publicKey,
        ) ?? fileKey;
      const copies = k.sources && k.sources.length > 1 ? { copies: k.sources } : {};
      if (k.kind === 'ed25519') {
        const from = k.validFrom?.toISOString() ?? null;
        const until = k.validUntil?.toISOString() ?? null;
        const entry: KeyListing = {
          implementation: file.implementation,
          role: file.role,
          file: file.path,
          kind: 'ed25519',
          id: k.publicKey,
          userIds: [],
          algorithm: 'ed25519',
          created: null,
          expires: until,
          ...(from || until ? { window: { from, until } } : {}),
          status: 'valid',
          ...copies,
        };
        if (k.validFrom && at.getTime() < k.validFrom.getTime()) {
          entry.status = 'not-yet-valid';
          entry.detail = `trusted from ${from}`;
        } else if (k.validUntil && at.getTime() >= k.validUntil.getTime()) {
          entry.status = 'retired';
          entry.detail = `trusted until ${until}: verifies only tasks created before then`;
        }
        out.push(entry);
        continue;
      }
      const facts = await pgp.keyFacts(k.key);
      const entry: KeyListing = {
        implementation: file.implementation,
        role: file.role,
        file: file.path,
        kind: 'openpgp',
        id: facts.fingerprint,
        userIds: facts.userIds,
        algorithm: facts.algorithm,
        created: facts.created.toISOString(),
        expires: facts.expires ? facts.expires.toISOString() : null,
        status: 'valid',
        ...copies,
      };
      const revocations = await pgp.revocationsOf(k.key);
      const revoked =
        revocations.find((r) => r.hard) ?? revocations.find((r) => r.revokedAt.getTime() <= at.getTime());
      if (revoked) {
        entry.status = 'revoked';
        entry.detail = pgp.describeRevocation(revoked);
      } else if (facts.weak) {
        entry.status = 'weak';
        entry.detail = facts.weak;
      } else if (facts.created.getTime() > at.getTime()) {
        entry.status = 'not-yet-valid';
        entry.detail = `created ${facts.created.toISOString()}`;
      } else if (facts.expires && facts.expires.getTime() <= at.getTime()) {
        entry.status = 'expired';
        entry.detail = `expired ${facts.expires.toISOString()}`;
      }
      if (file.role === 'certified') {
        try {
          const c = await resolveCertification(impl, k, at);
          entry.certifiedBy = `${c.root.fingerprint}${c.root.userIds[0] ? ` (${c.root.userIds[0]})` : ''}`;
          entry.certificationExpires = c.expires ? c.expires.toISOString() : null;
        } catch (e) {
          if (!(e instanceof CotError)) throw e;
          if (entry.status === 'valid') {
            entry.status = 'uncertified';
            entry.detail = `${e.code}: ${e.message}`;
          }
        }
      }
      out.push(entry);
    }
  }
  return out;
}

export interface Finding {
  level: 'error' | 'warning';
  file: string;
  key?: string;
  message: string;
}

export interface CheckKeyRepoOptions {
  at: Date;
  /** warn for keys expiring within this many days (default 60) */
  warnDays?: number;
  /** error for keys expiring within this many days (default 30) */
  errorDays?: number;
  /** also check an ed25519 trust file (JSON or YAML), whose keys may carry validity windows */
  ed25519Keys?: string;
}

export interface KeyRepoReport {
  keys: KeyListing[];
  findings: Finding[];
  errors: number;
  warnings: number;
  ignored: string[];
}

/**
 * Implementations that may share one key, each pair sorted by name. docker-worker and generic-worker: generic-worker
 * runs docker-worker tasks (d2g) and signs their documents with its own key, which must then be accepted for both
 * implementations (the reference verifier scriptworker lists a "d2g" key under docker-worker for this).
 */
const SHARED_KEY_IMPLEMENTATIONS: readonly (readonly [string, string])[] = [
  ['docker-worker', 'generic-worker'],
];

function sharingAllowed(impls: ReadonlySet<string>): boolean {
  if (impls.size !== 2) return false;
  const [a, b] = [...impls].sort();
  return SHARED_KEY_IMPLEMENTATIONS.some(([x, y]) => x === a && y === b);
}

/**
 * Lint a key repository (and/or an ed25519 trust file): unreadable or invalid files, expired, revoked, weak and
 * not-yet-valid keys, keys expiring within `errorDays` (error) or `warnDays` (warning) — for ed25519 keys with a
 * window, the end of the window (`until`); for certified keys, also their certification's expiry — uncertified keys in certified folders, and keys that appear twice: an
 * error across implementations, since a key must never serve two, except the pairs of SHARED_KEY_IMPLEMENTATIONS
 * (a warning); a warning within one. An ed25519 key past its window (retired) or before it (staged) is listed,
 * not a finding: that is what windows are for. Returns the findings and their counts (`errors`, `warnings`): a
 * report with findings is a result, not an exception (`cot keys check` maps errors to exit 1, warnings alone to exit
 * 6). Throws OPTIONS_INVALID when neither a repository nor a trust file is given or `errorDays` exceeds `warnDays`;
 * and what loadKeyRepo (tolerant) and addEd25519TrustFile throw for a repository or trust file that cannot be read.
 */
export async function checkKeyRepo(dir: string | undefined, o: CheckKeyRepoOptions): Promise<KeyRepoReport> {
  checkOption('checkKeyRepo', 'dir', dir, { kind: 'string', optional: true });
  checkOptions('checkKeyRepo', o, {
    at: { kind: 'date', hint: 'the reference time of the lint' },
    warnDays: { kind: 'nonNegativeInteger', optional: true },
    errorDays: { kind: 'nonNegativeInteger', optional: true },
    ed25519Keys: { kind: 'string', optional: true },
  });
  const warnDays = o.warnDays ?? 60;
  const errorDays = o.errorDays ?? 30;
  if (errorDays > warnDays)
    throw new CotError(
      'OPTIONS_INVALID',
      `checkKeyRepo: errorDays (${errorDays}) cannot exceed warnDays (${warnDays})`,
      { details: { function: 'checkKeyRepo', option: 'errorDays' } },
    );
  if (dir === undefined && o.ed25519Keys === undefined)
    throw new CotError(
      'OPTIONS_INVALID',
      'checkKeyRepo: give a key repository and/or an ed25519 trust file',
      {
        details: { function: 'checkKeyRepo', option: 'dir' },
      },
    );
  const store = dir !== undefined ? await loadKeyRepo(dir, { tolerant: true }) : emptyTrustStore();
  if (o.ed25519Keys !== undefined) await addEd25519TrustFile(store, o.ed25519Keys);
  const keys = await listKeys(store, o.at);
  const findings: Finding[] = [];
  for (const f of store.files)
    if (f.error) findings.push({ level: 'error', file: f.path, message: `unusable key file: ${f.error}` });
  for (const k of keys) {
    const label = `${k.implementation} ${k.role} key ${k.id}${k.userIds[0] ? ` (${k.userIds[0]})` : ''}`;
    if (k.status !== 'valid') {
      // an ed25519 key outside its window is there on purpose (retired for old chains, or staged for a rotation)
      if (k.kind === 'ed25519' && (k.status === 'retired' || k.status === 'not-yet-valid')) continue;
      findings.push({
        level: 'error',
        file: k.file,
        key: k.id,
        message: `${label} is ${k.status}: ${k.detail ?? ''}`.trim(),
      });
      continue;
    }
    const deadlines: [string, (days: number) => string][] = [];
    if (k.expires) {
      const at = k.expires;
      deadlines.push([
        at,
        (days) =>
          k.kind === 'ed25519'
            ? `is trusted only until ${at}, in ${days.toFixed(1)} days (its window's end)`
            : `expires in ${days.toFixed(1)} days (${at})`,
      ]);
    }
    if (k.certificationExpires) {
      const at = k.certificationExpires;
      deadlines.push([
        at,
        (days) => `has its certification by ${k.certifiedBy} expiring in ${days.toFixed(1)} days (${at})`,
      ]);
    }
    for (const [when, what] of deadlines) {
      const days = (Date.parse(when) - o.at.getTime()) / DAY;
      if (days <= errorDays) {
        findings.push({
          level: 'error',
          file: k.file,
          key: k.id,
          message: `${label} ${what(days)}, within ${errorDays}`,
        });
      } else if (days <= warnDays) {
        findings.push({
          level: 'warning',
          file: k.file,
          key: k.id,
          message: `${label} ${what(days)}, within ${warnDays}`,
        });
      }
    }
  }
  const byId = new Map<string, KeyListing[]>();
  for (const k of keys) byId.set(k.id, [...(byId.get(k.id) ?? []), k]);
  for (const [id, list] of byId) {
    if (list.length < 2) continue;
    const impls = new Set(list.map((k) => k.implementation));
    const shared = impls.size > 1 && sharingAllowed(impls);
    findings.push({
      level: impls.size > 1 && !shared ? 'error' : 'warning',
      file: list[0]!.file,
      key: id,
      message: `key ${id} appears ${list.length} times: ${list.map((k) => `${k.file} (${k.implementation} ${k.role})`).join(', ')}${
        impls.size === 1
          ? '; the copies are merged (a revocation on any copy applies to all)'
          : shared
            ? `; shared by ${[...impls].sort().join(' and ')}, which is allowed (d2g: generic-worker signs docker-worker tasks), and accepted for both`
            : '; a key may serve only one implementation (except docker-worker with generic-worker, for d2g)'
      }`,
    });
  }
  return {
    keys,
    findings,
    errors: findings.filter((f) => f.level === 'error').length,
    warnings: findings.filter((f) => f.level === 'warning').length,
    ignored: store.ignored,
  };
}
