import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkKeyRepo,
  generateKeyPair,
  guardKey,
  listKeys,
  loadKeyRepo,
  loadVerificationKeys,
  verifyRepoTag,
} from '../../src/index.js';
import { generateArgs, runCli } from '../helpers/cli.js';
import { codeOf, errorOf, HAVE_GPG, HAVE_SHARED, SHARED_INTEROP, tempDir } from '../helpers/env.js';
import { Gpg } from '../helpers/gpg.js';
import { schemaProblems } from '../helpers/schemas.js';

const DAY = 86400_000;
const REPO_2017 = join(SHARED_INTEROP, 'mozilla-2017/cot-gpg-keys');

const cot = runCli;

describe.skipIf(!HAVE_SHARED)('keys list / keys check on the real 2017 repository', () => {
  it('as of 2017-06-02 every key is valid and the scriptworker keys are certified', async () => {
    const at = new Date('2017-06-02T20:17:44Z');
    const list = await listKeys(await loadKeyRepo(REPO_2017), at);
    const sl3 = list.find((k) => k.id === 'FAD6F73ED15A6620149115BBD79913CEFD45E8A9')!;
    expect(sl3).toMatchObject({ implementation: 'scriptworker', role: 'certified', status: 'valid' });
    expect(sl3.certifiedBy).toMatch(/4654904BB484B6B2/);
    expect(list.filter((k) => k.role === 'root').every((k) => k.implementation === 'scriptworker')).toBe(
      true,
    );
  });

  it('as of today the expired keys are errors, and `cot keys check` exits 1', async () => {
    const r = await checkKeyRepo(REPO_2017, { at: new Date('2026-11-25T00:00:00Z') });
    expect(r.errors).toBeGreaterThan(0);
    expect(
      r.findings.some(
        (f) => f.key === 'FAD6F73ED15A6620149115BBD79913CEFD45E8A9' && /expired/.test(f.message),
      ),
    ).toBe(true);
    const c = await cot(new Date('2026-11-25T00:00:00Z'), 'keys', 'check', REPO_2017);
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/^cot: KEYS_CHECK_ERRORS: /);
    const l = await cot(new Date('2026-11-25T00:00:00Z'), 'keys', 'list', REPO_2017, '--json');
    expect(l.code).toBe(0);
    expect(JSON.parse(l.out).keys.length).toBe(r.keys.length);
  });
});

describe('keys check thresholds, duplicates and bad files', () => {
  it('warns (exit 6) within --warn-days, errors (exit 1) within --error-days, duplicates across implementations', async () => {
    const d = await tempDir();
    const now = new Date('2026-11-25T00:00:00Z');
    await generateKeyPair({
      type: 'openpgp',
      pgpAlgorithm: 'ed25519',
      out: join(d, 'k'),
      pubOut: join(d, 'k.pub'),
      now: new Date(now.getTime() - DAY),
      expiresInDays: 46,
    });
    await mkdir(join(d, 'repo/docker-worker/2026'), { recursive: true });
    await writeFile(join(d, 'repo/docker-worker/2026/k.pub'), await readFile(join(d, 'k.pub')));
    const ok = await cot(now, 'keys', 'check', join(d, 'repo'), '--warn-days', '30', '--error-days', '10');
    expect(ok.code).toBe(0);
    const warn = await cot(now, 'keys', 'check', join(d, 'repo'));
    expect(warn.code).toBe(6);
    expect(warn.out).toMatch(/^warning: docker-worker worker key .* expires in 45\.0 days/);
    const err = await cot(now, 'keys', 'check', join(d, 'repo'), '--error-days', '50', '--warn-days', '60');
    expect(err.code).toBe(1);
    // docker-worker with generic-worker may share a key (d2g); any other pair may not
    await mkdir(join(d, 'repo/taskcluster-worker'), { recursive: true });
    await writeFile(join(d, 'repo/taskcluster-worker/k.pub'), await readFile(join(d, 'k.pub')));
    await writeFile(join(d, 'repo/taskcluster-worker/broken.pub'), 'garbage');
    const r = await checkKeyRepo(join(d, 'repo'), { at: now, warnDays: 30, errorDays: 10 });
    expect(r.findings.map((f) => f.message).join('\n')).toMatch(
      /appears 2 times.*a key may serve only one implementation/,
    );
    expect(r.findings.some((f) => /unusable key file/.test(f.message))).toBe(true);
  });
});

describe.skipIf(!HAVE_GPG)('keys verify-repo: a real git repository with a tag signed by real gpg', () => {
  let d: string;
  let gpg: Gpg;
  let signer: string;
  let other: string;
  const git = (...args: string[]) => gitAt('2026-11-25T00:00:00Z', ...args);
  const gitAt = (date: string, ...args: string[]) => {
    const r = spawnSync('git', ['-C', join(d, 'repo'), ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        GNUPGHOME: gpg.home,
        GIT_COMMITTER_DATE: date,
        GIT_AUTHOR_DATE: date,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@example.com',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@example.com',
      },
    });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  beforeAll(async () => {
    d = await tempDir();
    gpg = await Gpg.create(d);
    signer = gpg.genKey('Tagger <tagger@example.com>', 'ed25519');
    other = gpg.genKey('Other <other@example.com>', 'ed25519');
    await writeFile(join(d, 'signer.pub'), gpg.exportPublic(signer));
    await writeFile(join(d, 'other.pub'), gpg.exportPublic(other));
    await mkdir(join(d, 'repo/docker-worker'), { recursive: true });
    git('init', '-q', '-b', 'main');
    await writeFile(join(d, 'repo/docker-worker/README.md'), 'keys\n');
    git('add', '.');
    git('commit', '-q', '-m', 'keys');
  });
  const verify = async (key = 'signer.pub') =>
    verifyRepoTag(join(d, 'repo'), await loadVerificationKeys([join(d, key)]), new Date());

  it('no tag: REPO_NO_SIGNED_TAG', async () => {
    expect(await codeOf(verify())).toBe('REPO_NO_SIGNED_TAG');
  });

  it('a tag signed by an allowed signer at HEAD verifies; the CLI agrees', async () => {
    git(
      '-c',
      `user.signingkey=${signer}`,
      'tag',
      '-s',
      '-m',
      'production-20261125000000',
      'production-20261125000000',
    );
    const r = await verify();
    expect(r.tag).toBe('production-20261125000000');
    expect(r.signers[0]).toMatchObject({ fingerprint: signer });
    const c = await cot(
      new Date(),
      'keys',
      'verify-repo',
      join(d, 'repo'),
      '--git-signers',
      join(d, 'signer.pub'),
    );
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/^verified: tag production-20261125000000/);
    const j = await cot(
      new Date(),
      'keys',
      'verify-repo',
      join(d, 'repo'),
      '--git-signers',
      join(d, 'signer.pub'),
      '--json',
    );
    expect(j.code).toBe(0);
    expect(schemaProblems('keys-verify-repo', JSON.parse(j.out))).toEqual([]);
    expect(JSON.parse(j.out)).toMatchObject({ schemaVersion: 1, ok: true, tag: 'production-20261125000000' });
  });

  it('a tag by a key that is not an allowed git signer is refused', async () => {
    expect(await codeOf(verify('other.pub'))).toBe('REPO_NO_SIGNED_TAG');
  });

  it('a commit after the tag: REPO_TAG_NOT_HEAD', async () => {
    await writeFile(join(d, 'repo/docker-worker/evil.pub'), 'x');
    git('add', '.');
    git('commit', '-q', '-m', 'sneaky');
    expect(await codeOf(verify())).toBe('REPO_TAG_NOT_HEAD');
  });

  it('a newer unsigned annotated tag at HEAD is refused', async () => {
    gitAt('2026-11-26T00:00:00Z', 'tag', '-a', '-m', 'unsigned', 'production-20261126000000');
    const err = await errorOf(verify());
    expect(err.code).toBe('REPO_NO_SIGNED_TAG');
    expect(err.message).toContain('is not signed');
  });

  it('a newer tag signed by the allowed signer at HEAD verifies again', async () => {
    gitAt(
      '2026-11-27T00:00:00Z',
      '-c',
      `user.signingkey=${signer}`,
      'tag',
      '-s',
      '-m',
      'production-20261127000000',
      'production-20261127000000',
    );
    expect((await verify()).tag).toBe('production-20261127000000');
  });
});

describe('keys guard', () => {
  it('refuses loose modes and foreign owners, --fix repairs the mode', async () => {
    const d = await tempDir();
    await generateKeyPair({ type: 'ed25519', out: join(d, 'k'), now: new Date() });
    await chmod(join(d, 'k'), 0o644);
    expect(await codeOf(guardKey(join(d, 'k')))).toBe('KEY_INSECURE_PERMISSIONS');
    const r = await guardKey(join(d, 'k'), { fix: true });
    expect(r.fixed).toEqual(['chmod 0600']);
    expect((await stat(join(d, 'k'))).mode & 0o777).toBe(0o600);
    expect((await guardKey(join(d, 'k'))).mode).toBe('0600');
  });

  const isRoot = process.getuid?.() === 0;
  describe.skipIf(!isRoot)('with a throwaway system user (running as root)', () => {
    const user = `cottask${process.pid}`;
    let d: string;
    beforeAll(async () => {
      const r = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user], {
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`useradd: ${r.stderr}`);
      d = await tempDir();
      await chmod(d, 0o755); // the task user can enter the folder; only the file mode protects the key
    });
    afterAll(() => {
      spawnSync('userdel', [user]);
    });

    it('passes when the task user cannot read the key, proven by trying as that user', async () => {
      await generateKeyPair({ type: 'ed25519', out: join(d, 'k600'), now: new Date() });
      const r = await guardKey(join(d, 'k600'), { taskUser: user });
      expect(r.taskUserCannotRead).toMatch(/Permission denied/);
    });

    it('refuses (and generate refuses to sign) when the task user can read the key', async () => {
      await generateKeyPair({ type: 'ed25519', out: join(d, 'k644'), now: new Date() });
      await chmod(join(d, 'k644'), 0o644);
      expect(await codeOf(guardKey(join(d, 'k644'), { taskUser: user }))).toBe('KEY_INSECURE_PERMISSIONS');
      // a key owned by the task user fails the ownership check before any read
      await generateKeyPair({ type: 'ed25519', out: join(d, 'kowned'), now: new Date() });
      spawnSync('chown', [user, join(d, 'kowned')]);
      expect(await codeOf(guardKey(join(d, 'kowned'), { taskUser: user }))).toBe('KEY_INSECURE_PERMISSIONS');
      // tasks that run as the worker's own user (root here) read the key: proven by actually reading it as root
      const err = await errorOf(guardKey(join(d, 'k600'), { taskUser: 'root' }));
      expect(err.code).toBe('KEY_READABLE_BY_TASK_USER');
      expect(err.message).toContain('user root (uid 0) can read the private key');
      await writeFile(
        join(d, 'task.json'),
        JSON.stringify({
          dependencies: [],
          payload: {},
          scopes: [],
          taskGroupId: 'KRa-CdtXTda3i7MQ5snK1A',
          workerType: 'w',
        }),
      );
      await writeFile(join(d, 'a.txt'), 'a');
      const gen = (taskUser: string) =>
        cot(
          new Date(),
          ...generateArgs(
            join(d, 'task.json'),
            '--artifact',
            `public/a.txt=${join(d, 'a.txt')}`,
            '--out',
            join(d, 'out'),
            '--key',
            join(d, 'k600'),
            '--task-user',
            taskUser,
          ),
        );
      const g = await gen('root');
      expect(g.code).toBe(1);
      expect(g.err).toMatch(/^cot: KEY_READABLE_BY_TASK_USER: /);
      await expect(stat(join(d, 'out'))).rejects.toThrow();
      const ok = await gen(user);
      expect(ok.code, ok.err).toBe(0);
    });
  });
});

describe.skipIf(!HAVE_GPG)('keys check: certifications with an expiry (made by real gpg)', () => {
  it('warns when a certification expires soon, and an expired one leaves the key uncertified', async () => {
    const d = await tempDir();
    const gpg = await Gpg.create(d);
    const now = new Date('2026-11-25T00:00:00Z');
    const faked = (t: Date) => ['--faked-system-time', `${Math.floor(t.getTime() / 1000)}!`];
    const gen = (uid: string) => {
      gpg.ok([
        ...faked(new Date(now.getTime() - 10 * DAY)),
        '--passphrase',
        '',
        '--quick-gen-key',
        uid,
        'ed25519',
        'sign',
        'never',
      ]);
      return gpg
        .ok(['--with-colons', '--list-keys', uid])
        .toString()
        .split('\n')
        .find((l) => l.startsWith('fpr:'))!
        .split(':')[9]!;
    };
    const root = gen('Root <root@example.com>');
    const worker = gen('Worker <worker@example.com>');
    const certify = (expire: string) =>
      gpg.ok([
        ...faked(new Date(now.getTime() - DAY)),
        '--yes',
        '--default-cert-expire',
        expire,
        '--local-user',
        root,
        '--quick-sign-key',
        worker,
      ]);
    certify('46d');
    await mkdir(join(d, 'repo/scriptworker/trusted'), { recursive: true });
    await mkdir(join(d, 'repo/scriptworker/valid'), { recursive: true });
    await writeFile(join(d, 'repo/scriptworker/trusted/root.pub'), gpg.exportPublic(root));
    await writeFile(join(d, 'repo/scriptworker/valid/worker.pub'), gpg.exportPublic(worker));
    const warn = await cot(now, 'keys', 'check', join(d, 'repo'));
    expect(warn.code, warn.out).toBe(6);
    expect(warn.out).toMatch(
      /^warning: scriptworker certified key .* has its certification by .* expiring in 45\.0 days/,
    );
    // 50 days later the certification has expired: the key is no longer certified
    const later = await checkKeyRepo(join(d, 'repo'), { at: new Date(now.getTime() + 50 * DAY) });
    expect(later.keys.find((k) => k.role === 'certified')).toMatchObject({ status: 'uncertified' });
    expect(later.findings.map((f) => f.message).join('\n')).toMatch(
      /KEY_CERTIFIER_INVALID: .*the certification expired/,
    );
  });
});
