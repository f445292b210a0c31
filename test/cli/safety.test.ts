import { chmod, copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MARKER } from '../../src/demo/demo.js';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { generateArgs, runCli } from '../helpers/cli.js';
import { codeOf, HAVE_SHARED, SHARED_INTEROP, sampleTask, tempDir } from '../helpers/env.js';

// Issue 10 §1: never lose or overwrite a user's file. Each test names the command and what used to happen.

const NOW = new Date('2026-11-25T12:00:00Z');
const cot = (...args: string[]) => runCli(NOW, ...args);
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

let d: string;
beforeAll(async () => {
  d = await tempDir('cot-safety-');
  await writeFile(join(d, 'task.json'), JSON.stringify(sampleTask(), null, 2));
  await mkdir(join(d, 'art'));
  await writeFile(join(d, 'art/a.txt'), 'a\n');
  expect(
    (
      await cot(
        'keys',
        'new',
        '--type',
        'ed25519',
        '--out',
        join(d, 'ed.key'),
        '--pub-out',
        join(d, 'ed.pub'),
      )
    ).code,
  ).toBe(0);
  expect(
    (
      await cot(
        'keys',
        'new',
        '--type',
        'openpgp',
        '--curve',
        'ed25519',
        '--out',
        join(d, 'pgp.key'),
        '--pub-out',
        join(d, 'pgp.pub.asc'),
      )
    ).code,
  ).toBe(0);
});

const gen = (key: string, out: string, ...extra: string[]) =>
  cot(
    ...generateArgs(
      join(d, 'task.json'),
      '--artifacts',
      join(d, 'art'),
      '--key',
      key,
      '--out',
      out,
      ...extra,
    ),
  );

describe('a public key given where a private key is expected', () => {
  it('generate refuses the public file keys new wrote (KEY_INVALID, never "chmod"), nothing is signed', async () => {
    // before: the base64 public key was read as a seed; mode 0644 made it "chmod 600", and after that chmod cot
    // signed with a key nobody has, exit 0
    const r = await gen(join(d, 'ed.pub'), join(d, 'o-pub'));
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/^cot: KEY_INVALID: .*ed\.pub is a public key, not a private key/);
    expect(r.err).not.toMatch(/chmod/);
    expect(await exists(join(d, 'o-pub'))).toBe(false);
    // the same bytes under a neutral name and mode 0600: its comment line gives it away
    await copyFile(join(d, 'ed.pub'), join(d, 'neutral'));
    await chmod(join(d, 'neutral'), 0o600);
    const n = await gen(join(d, 'neutral'), join(d, 'o-neutral'));
    expect(n.code).toBe(4);
    expect(n.err).toMatch(/KEY_INVALID: .*neutral is a public key.*comment line/);
    expect(await exists(join(d, 'o-neutral'))).toBe(false);
  });

  it('an OpenPGP public key (mode 0644) is KEY_INVALID, not a permission problem', async () => {
    const r = await gen(join(d, 'pgp.pub.asc'), join(d, 'o-pgp'));
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/^cot: KEY_INVALID: .*is a public key/);
    expect(r.err).not.toMatch(/chmod|KEY_INSECURE_PERMISSIONS/);
  });

  it('files named like public keys (*.pub, *_public_key) are refused, even holding a private key', async () => {
    await copyFile(join(d, 'ed.key'), join(d, 'misnamed_public_key'));
    const r = await gen(join(d, 'misnamed_public_key'), join(d, 'o-name'));
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/KEY_INVALID: .*its name \(misnamed_public_key\) is that of a public key/);
    // and keys new never writes a private key under such a name
    const k = await cot('keys', 'new', '--type', 'ed25519', '--out', join(d, 'priv.pub'));
    expect(k.code).toBe(2);
    expect(k.err).toMatch(/USAGE: .*named like a public key/);
    expect(await exists(join(d, 'priv.pub'))).toBe(false);
  });

  it('keys certify --with a public key, and keys guard on one (no chmod, even with --fix)', async () => {
    const c = await cot(
      'keys',
      'certify',
      '--with',
      join(d, 'pgp.pub.asc'),
      '--key',
      join(d, 'pgp.pub.asc'),
      '--out',
      join(d, 'certified.pub'),
    );
    expect(c.code).toBe(4);
    expect(c.err).toMatch(/KEY_INVALID: .*is a public key/);
    expect(await exists(join(d, 'certified.pub'))).toBe(false);
    const g = await cot('keys', 'guard', join(d, 'ed.pub'), '--fix');
    expect(g.code).toBe(4);
    expect(g.err).toMatch(/KEY_INVALID: .*is a public key/);
    expect((await stat(join(d, 'ed.pub'))).mode & 0o777).toBe(0o644);
  });

  it('the public file keys new writes still verifies (comment line skipped), and the private key signs', async () => {
    const out = join(d, 'o-ok');
    expect((await gen(join(d, 'ed.key'), out)).code).toBe(0);
    const v = await cot('verify-link', join(out, 'chain-of-trust.json'), '--key', join(d, 'ed.pub'));
    expect(v.code, v.err).toBe(0);
  });

  it.skipIf(!HAVE_SHARED)(
    "scriptworker's *_private_key signs; its *_public_key (no comment) verifies and cannot sign",
    async () => {
      const E = join(SHARED_INTEROP, 'scriptworker-ed25519');
      const out = join(d, 'o-sw');
      const ok = await gen(join(E, 'scriptworker_private_key'), out, '--allow-insecure-key-permissions');
      expect(ok.code, ok.err).toBe(0);
      const v = await cot(
        'verify-link',
        join(out, 'chain-of-trust.json'),
        '--key',
        join(E, 'scriptworker_public_key'),
      );
      expect(v.code, v.err).toBe(0);
      const bad = await gen(
        join(E, 'scriptworker_public_key'),
        join(d, 'o-sw2'),
        '--allow-insecure-key-permissions',
      );
      expect(bad.code).toBe(4);
      expect(bad.err).toMatch(/KEY_INVALID: .*scriptworker_public_key is a public key/);
    },
  );
});

describe('no command writes two outputs, or an output over its input, to one path', () => {
  it('keys new --out X --pub-out X (any spelling): USAGE, nothing written, even with --force', async () => {
    // before: the public key was written over the private one, exit 0
    const x = join(d, 'same.key');
    const r = await cot('keys', 'new', '--type', 'ed25519', '--out', x, '--pub-out', x);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^cot: USAGE: .*are the same file/);
    expect(await exists(x)).toBe(false);
    await mkdir(join(d, 'sub'));
    const f = await cot(
      'keys',
      'new',
      '--type',
      'ed25519',
      '--out',
      join(d, 'ed.key'),
      '--pub-out',
      join(d, 'sub/../ed.key'),
      '--force',
    );
    expect(f.code).toBe(2);
    expect((await readFile(join(d, 'ed.key'), 'utf8')).startsWith('#')).toBe(false);
  });

  it('keys new never replaces a key without --force (FILE_EXISTS), nor writes into a folder', async () => {
    const before = await readFile(join(d, 'ed.pub'));
    const r = await cot(
      'keys',
      'new',
      '--type',
      'ed25519',
      '--out',
      join(d, 'n.key'),
      '--pub-out',
      join(d, 'ed.pub'),
    );
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/^cot: FILE_EXISTS: public key file .*ed\.pub already exists/);
    expect(await readFile(join(d, 'ed.pub'))).toEqual(before);
    expect(await exists(join(d, 'n.key'))).toBe(false);
    const dir = await cot('keys', 'new', '--type', 'ed25519', '--out', join(d, 'sub'));
    expect(dir.code).toBe(5);
    expect(dir.err).toMatch(/^cot: FILE_IS_DIRECTORY: /);
  });

  it('generate: an explicit artifact or the task file at an output path is refused, the old file kept', async () => {
    const out = join(d, 'o-clash');
    expect((await gen(join(d, 'ed.key'), out)).code).toBe(0);
    const doc = await readFile(join(out, 'chain-of-trust.json'));
    // before: the old document was hashed as an artifact, then replaced by the document listing it
    const a = await cot(
      ...generateArgs(
        join(d, 'task.json'),
        '--artifact',
        `public/old.json=${join(out, 'chain-of-trust.json')}`,
        '--key',
        join(d, 'ed.key'),
        '--out',
        out,
      ),
    );
    expect(a.code).toBe(2);
    expect(a.err).toMatch(
      /USAGE: the output chain-of-trust\.json .*and artifact public\/old\.json .*are the same file/,
    );
    expect(await readFile(join(out, 'chain-of-trust.json'))).toEqual(doc);
    // a task definition kept under the document's name in the output folder
    await mkdir(join(d, 'o-task'));
    await writeFile(join(d, 'o-task/chain-of-trust.json'), JSON.stringify(sampleTask()));
    const t = await cot(
      ...generateArgs(
        join(d, 'o-task/chain-of-trust.json'),
        '--artifacts',
        join(d, 'art'),
        '--key',
        join(d, 'ed.key'),
        '--out',
        join(d, 'o-task'),
      ),
    );
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/USAGE: .*--task/);
    expect(JSON.parse(await readFile(join(d, 'o-task/chain-of-trust.json'), 'utf8'))).toEqual(sampleTask());
  });

  it('verify-signature --output over the signed file (or its key) is refused, the file kept', async () => {
    const out = join(d, 'o-pgpdoc');
    expect((await gen(join(d, 'pgp.key'), out)).code).toBe(0);
    const asc = join(out, 'chainOfTrust.json.asc');
    const before = await readFile(asc);
    // before: the signed text replaced the .asc, signature gone, exit 0
    const r = await cot('verify-signature', asc, '--key', join(d, 'pgp.pub.asc'), '--output', asc);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/USAGE: --output .* and the signed file .* are the same file/);
    expect(await readFile(asc)).toEqual(before);
    const k = await cot(
      'verify-signature',
      asc,
      '--key',
      join(d, 'pgp.pub.asc'),
      '--output',
      join(d, 'pgp.pub.asc'),
    );
    expect(k.code).toBe(2);
    const dir = await cot('verify-signature', asc, '--key', join(d, 'pgp.pub.asc'), '--output', `${d}/`);
    expect(dir.code).toBe(5);
    expect(dir.err).toMatch(/^cot: FILE_IS_DIRECTORY: --output /);
  });

  it('keys certify: --out is never the root key, and an existing --out needs --force', async () => {
    await cot(
      'keys',
      'new',
      '--type',
      'openpgp',
      '--curve',
      'ed25519',
      '--out',
      join(d, 'root.key'),
      '--pub-out',
      join(d, 'root.pub'),
    );
    const rootBefore = await readFile(join(d, 'root.key'));
    const certify = (out: string, ...extra: string[]) =>
      cot(
        'keys',
        'certify',
        '--with',
        join(d, 'root.key'),
        '--key',
        join(d, 'pgp.pub.asc'),
        '--out',
        out,
        ...extra,
      );
    // before: the root's private key was replaced by the worker's certified public key
    const same = await certify(join(d, 'root.key'));
    expect(same.code).toBe(2);
    expect(await readFile(join(d, 'root.key'))).toEqual(rootBefore);
    expect((await certify(join(d, 'worker.certified.pub'))).code).toBe(0);
    const again = await certify(join(d, 'worker.certified.pub'));
    expect(again.code).toBe(5);
    expect(again.err).toMatch(/^cot: FILE_EXISTS: /);
    expect((await certify(join(d, 'worker.certified.pub'), '--force')).code).toBe(0);
  });
});

describe('cot demo --out DIR never removes what it did not write', () => {
  let demoDir: string;
  let firstTasks: string[];

  it('refuses a non-empty folder it did not make (FILE_EXISTS), touching nothing', async () => {
    demoDir = join(d, 'mine');
    await mkdir(join(demoDir, 'keys'), { recursive: true });
    await writeFile(join(demoDir, 'keys/prod-signing.key'), 'precious\n', { mode: 0o600 });
    // before: keys/ was removed with everything in it, and the demo said nothing
    const r = await cot('demo', '--out', demoDir);
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/^cot: FILE_EXISTS: .*mine is not empty and was not made by cot demo/);
    expect(await readFile(join(demoDir, 'keys/prod-signing.key'), 'utf8')).toBe('precious\n');
    expect(await readdir(demoDir)).toEqual(['keys']);
  });

  it('with --force it builds there, keeping the user file; its marker lists only what it made', async () => {
    const r = await cot('demo', '--out', demoDir, '--force');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('verified');
    expect(await readFile(join(demoDir, 'keys/prod-signing.key'), 'utf8')).toBe('precious\n');
    const marker = JSON.parse(await readFile(join(demoDir, DEMO_MARKER), 'utf8'));
    expect(marker.cotDemo).toBe(1);
    expect(marker.files).toContain(join('keys', 'generic-worker.key'));
    expect(marker.files).not.toContain(join('keys', 'prod-signing.key'));
    expect(marker.dirs).not.toContain('keys'); // it was there before
    firstTasks = await readdir(join(demoDir, 'queue'));
    expect(firstTasks).toHaveLength(6);
  });

  it('re-runs over its own folder without --force: the previous run is removed, the user file kept', async () => {
    await writeFile(join(demoDir, 'queue/notes.txt'), 'mine too\n');
    const r = await cot('demo', '--out', demoDir);
    expect(r.code, r.err).toBe(0);
    expect(await readFile(join(demoDir, 'keys/prod-signing.key'), 'utf8')).toBe('precious\n');
    expect(await readFile(join(demoDir, 'queue/notes.txt'), 'utf8')).toBe('mine too\n');
    const now = await readdir(join(demoDir, 'queue'));
    for (const t of firstTasks) expect(now).not.toContain(t); // the first run's tasks are gone
    expect(now).toHaveLength(7); // six new tasks and notes.txt
  });

  it('a demo folder made from scratch re-runs cleanly, and a path that is a file is refused', async () => {
    const fresh = join(d, 'fresh');
    expect((await cot('demo', '--out', fresh)).code).toBe(0);
    expect((await cot('demo', '--out', fresh)).code).toBe(0);
    expect((await readdir(join(fresh, 'queue'))).length).toBe(6);
    await writeFile(join(d, 'a-file'), 'x');
    const f = await cot('demo', '--out', join(d, 'a-file'));
    expect(f.code).toBe(5);
    expect(await readFile(join(d, 'a-file'), 'utf8')).toBe('x');
  });

  it('verify --report: a folder is FILE_IS_DIRECTORY (no temp file named), the policy is never the report', async () => {
    const demo = JSON.parse(await readFile(join(demoDir, 'demo.json'), 'utf8'));
    const verify = (...extra: string[]) =>
      cot(
        'verify',
        demo.taskId,
        '--queue',
        join(demoDir, 'queue'),
        '--policy',
        join(demoDir, 'policy.yml'),
        ...extra,
      );
    // before: OUTPUT_FAILED "cannot write ...: EISDIR ... rename '.../.mine.<pid>.<random>.tmp' -> ..."
    const r = await verify('--report', demoDir);
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/^cot: FILE_IS_DIRECTORY: --report .*mine is a folder/);
    expect(r.err).not.toMatch(/\.tmp/);
    expect((await readdir(d)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const slash = await verify('--report', join(d, 'nowhere/'));
    expect(slash.code).toBe(5);
    const policy = await readFile(join(demoDir, 'policy.yml'));
    const p = await verify('--report', join(demoDir, 'policy.yml'));
    expect(p.code).toBe(2);
    expect(p.err).toMatch(/USAGE: --report .* and --policy .* are the same file/);
    expect(await readFile(join(demoDir, 'policy.yml'))).toEqual(policy);
    const trust = await verify('--report', join(demoDir, 'ed25519-keys.json'));
    expect(trust.code).toBe(2);
    expect(trust.err).toMatch(/USAGE: --report .* and a key file the policy names .* are the same file/);
    const ok = await verify('--report', join(d, 'report.html'));
    expect(ok.code, ok.err).toBe(0);
    expect((await verify('--report', join(d, 'report.html'))).code).toBe(0); // its own output: replaced
  });

  it('fetch --out inside (or equal to) --queue is refused before anything is written', async () => {
    const demo = JSON.parse(await readFile(join(demoDir, 'demo.json'), 'utf8'));
    const queue = join(demoDir, 'queue');
    const before = (await readdir(queue)).sort();
    for (const out of [queue, join(queue, 'mirror')]) {
      const r = await cot('fetch', demo.taskId, '--queue', queue, '--out', out);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        /^cot: USAGE: --out .* and --queue .* (are the same folder|lie one inside the other)/,
      );
    }
    expect((await readdir(queue)).sort()).toEqual(before);
    const ok = await cot('fetch', demo.taskId, '--queue', queue, '--out', join(d, 'mirror'));
    expect(ok.code, ok.err).toBe(0);
  });
});

describe('messages never name a temp file', () => {
  it('writeFileAtomic into a missing folder: OUTPUT_FAILED naming the file and the reason only', async () => {
    const target = join(d, 'missing-folder', 'out.json');
    const e = await writeFileAtomic(target, '{}').catch((x: unknown) => x as Error & { code: string });
    expect(e).toMatchObject({ code: 'OUTPUT_FAILED' });
    expect((e as Error).message).toBe(`cannot write ${target}: no such file or directory (ENOENT)`);
    expect(await codeOf(writeFileAtomic(`${d}/`, 'x'))).toBe('FILE_IS_DIRECTORY');
  });
});
