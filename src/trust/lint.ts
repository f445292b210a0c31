import { CotError } from '../errors.js';
import { loadPgp } from '../pgp/lazy.js';
import { type KeyRole, loadKeyRepo, resolveCertification, type TrustStore } from './store.js';

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
  expires: string | null;
  /** as of the reference time */
  status: 'valid' | 'expired' | 'revoked' | 'not-yet-valid' | 'weak' | 'uncertified';
  detail?: string;
  certifiedBy?: string;
}

const DAY = 86400_000;

/** Every key of the store, with its status as of `at` (certifications resolved for certified keys). */
export async function listKeys(store: TrustStore, at: Date): Promise<KeyListing[]> {
  const pgp = await loadPgp();
  const out: KeyListing[] = [];
  for (const file of store.files) {
    const impl = store.implementations.get(file.implementation)!;
    for (const k of file.keys) {
      if (k.kind === 'ed25519') {
        out.push({
          implementation: file.implementation,
          role: file.role,
          file: file.path,
          kind: 'ed25519',
          id: k.publicKey,
          userIds: [],
          algorithm: 'ed25519',
          created: null,
          expires: null,
          status: 'valid',
        });
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
          const c = await resolveCertification(impl, k);
          entry.certifiedBy = `${c.root.fingerprint}${c.root.userIds[0] ? ` (${c.root.userIds[0]})` : ''}`;
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
}

export interface KeyRepoReport {
  keys: KeyListing[];
  findings: Finding[];
  errors: number;
  warnings: number;
  ignored: string[];
}

/**
 * Lint a key repository: unreadable or invalid files, expired, revoked, weak and not-yet-valid keys, keys expiring
 * within `errorDays` (error) or `warnDays` (warning), uncertified keys in certified folders, and keys that appear
 * twice (an error across implementations, since a key must never serve two; a warning within one).
 */
export async function checkKeyRepo(dir: string, o: CheckKeyRepoOptions): Promise<KeyRepoReport> {
  const warnDays = o.warnDays ?? 60;
  const errorDays = o.errorDays ?? 30;
  if (errorDays > warnDays)
    throw new CotError('USAGE', `--error-days (${errorDays}) cannot exceed --warn-days (${warnDays})`);
  const store = await loadKeyRepo(dir, { tolerant: true });
  const keys = await listKeys(store, o.at);
  const findings: Finding[] = [];
  for (const f of store.files)
    if (f.error) findings.push({ level: 'error', file: f.path, message: `unusable key file: ${f.error}` });
  for (const k of keys) {
    const label = `${k.implementation} ${k.role} key ${k.id}${k.userIds[0] ? ` (${k.userIds[0]})` : ''}`;
    if (k.status !== 'valid') {
      findings.push({
        level: 'error',
        file: k.file,
        key: k.id,
        message: `${label} is ${k.status}: ${k.detail ?? ''}`.trim(),
      });
      continue;
    }
    if (k.expires) {
      const days = (Date.parse(k.expires) - o.at.getTime()) / DAY;
      if (days <= errorDays) {
        findings.push({
          level: 'error',
          file: k.file,
          key: k.id,
          message: `${label} expires in ${days.toFixed(1)} days (${k.expires}), within ${errorDays}`,
        });
      } else if (days <= warnDays) {
        findings.push({
          level: 'warning',
          file: k.file,
          key: k.id,
          message: `${label} expires in ${days.toFixed(1)} days (${k.expires}), within ${warnDays}`,
        });
      }
    }
  }
  const byId = new Map<string, KeyListing[]>();
  for (const k of keys) byId.set(k.id, [...(byId.get(k.id) ?? []), k]);
  for (const [id, list] of byId) {
    if (list.length < 2) continue;
    const impls = new Set(list.map((k) => k.implementation));
    findings.push({
      level: impls.size > 1 ? 'error' : 'warning',
      file: list[0]!.file,
      key: id,
      message: `key ${id} appears ${list.length} times: ${list.map((k) => `${k.file} (${k.implementation} ${k.role})`).join(', ')}${
        impls.size > 1 ? '; a key may serve only one implementation' : ''
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
