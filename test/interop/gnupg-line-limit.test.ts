/**
 * GnuPG's cleartext line limit (issue 9, section 7): cot never writes an .asc that GnuPG cannot verify.
 * Real gpg, real keys: a document whose longest line is exactly the limit verifies with `gpg --verify`; one
 * character more and GnuPG itself fails (proved with a signature made around cot), and cot refuses before writing
 * anything.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateChainOfTrust, generateKeyPair, loadSigningKey, type SigningKey } from '../../src/index.js';
import { GNUPG_MAX_CLEARTEXT_LINE } from '../../src/pgp/cleartext.js';
import { generateArgs, runCli } from '../helpers/cli.js';
import { errorOf, HAVE_GPG, sampleTask, TASK_ID } from '../helpers/env.js';
import { Gpg } from '../helpers/gpg.js';

const NOW = new Date('2026-11-25T12:00:00Z');
/** `        "LONG": "<n characters>"`: the line payload.env.LONG makes in the canonical document */
const LINE_OVERHEAD = 18;

const taskWithLine = (length: number) => {
  const t = sampleTask();
  return {
    ...t,
    payload: { ...t.payload, env: { ...t.payload.env, LONG: 'x'.repeat(length - LINE_OVERHEAD) } },
  };
};
const longestLine = (text: string) => Math.max(...text.split('\n').map((l) => l.length));

describe.skipIf(!HAVE_GPG)('GnuPG line limit of cleartext signatures (real gpg)', () => {
  let d: string;
  let gpg: Gpg;
  let pgp: SigningKey;
  afterAll(async () => {
    await rm(d, { recursive: true, force: true }); // tempDir() called in a hook is never removed
  });
  beforeAll(async () => {
    d = await mkdtemp(join(tmpdir(), 'cot-line-limit-'));
    gpg = await Gpg.create(d);
    await generateKeyPair({
      type: 'openpgp',
      pgpAlgorithm: 'ed25519',
      userId: 'cot line limit <cot-line@example.com>',
      out: join(d, 'pgp.key'),
      pubOut: join(d, 'pgp.pub'),
      now: new Date(NOW.getTime() - 86400_000),
    });
    await generateKeyPair({ type: 'ed25519', out: join(d, 'ed.key'), pubOut: join(d, 'ed.pub'), now: NOW });
    pgp = await loadSigningKey(join(d, 'pgp.key'));
    gpg.ok(['--import', join(d, 'pgp.pub')]);
    await writeFile(join(d, 'a.bin'), 'artifact');
  });

  const generate = (length: number, format: 'openpgp' | 'ed25519', out: string) =>
    generateChainOfTrust({
      task: taskWithLine(length),
      taskId: TASK_ID,
      runId: 0,
      workerGroup: 'g',
      workerId: 'w',
      artifacts: [{ name: 'public/a.bin', path: join(d, 'a.bin'), resolved: false }],
      keys: [pgp],
      format,
      outDir: out,
      now: NOW,
    });

  it(`a document whose longest line is exactly ${GNUPG_MAX_CLEARTEXT_LINE} characters verifies with gpg --verify`, async () => {
    const out = join(d, 'at-limit');
    const r = await generate(GNUPG_MAX_CLEARTEXT_LINE, 'openpgp', out);
    expect(longestLine(r.canonical)).toBe(GNUPG_MAX_CLEARTEXT_LINE);
    const v = gpg.run(['--status-fd', '1', '--verify', join(out, 'chainOfTrust.json.asc')]);
    expect(v.stderr).not.toMatch(/line longer than/);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.toString()).toContain('[GNUPG:] GOODSIG');
    expect(gpg.ok(['--decrypt', join(out, 'chainOfTrust.json.asc')]).toString('latin1')).toBe(
      `${r.canonical}\n`,
    );
  });

  it('one character more and GnuPG itself fails (the same text signed around cot): the limit is exact', async () => {
    const text = `{\n  "LONG": "${'x'.repeat(GNUPG_MAX_CLEARTEXT_LINE + 1 - 12)}"\n}`;
    expect(longestLine(text)).toBe(GNUPG_MAX_CLEARTEXT_LINE + 1);
    if (pgp.kind !== 'openpgp') throw new Error('not an OpenPGP key');
    const signed = await openpgp.sign({
      message: await openpgp.createCleartextMessage({ text }),
      signingKeys: pgp.key,
      date: NOW,
      config: { preferredHashAlgorithm: openpgp.enums.hash.sha512 },
    });
    await writeFile(join(d, 'over.asc'), signed.replace(/\r\n/g, '\n'));
    const v = gpg.run(['--status-fd', '1', '--verify', join(d, 'over.asc')]);
    expect(v.stderr).toContain('invalid armor: line longer than 20000 characters');
    expect(v.status).not.toBe(0);
    expect(v.stdout.toString()).not.toContain('GOODSIG');
  });

  it('over the limit cot refuses with SIGNING_LINE_TOO_LONG before writing anything; ed25519 alone still signs', async () => {
    const out = join(d, 'over-lib');
    const err = await errorOf(generate(GNUPG_MAX_CLEARTEXT_LINE + 1, 'openpgp', out));
    expect(err.code).toBe('SIGNING_LINE_TOO_LONG');
    expect(err.details).toMatchObject({
      length: GNUPG_MAX_CLEARTEXT_LINE + 1,
      limit: GNUPG_MAX_CLEARTEXT_LINE,
    });
    expect(err.message).toContain(`line ${err.details.line} is ${GNUPG_MAX_CLEARTEXT_LINE + 1} characters`);
    expect(await readdir(out).catch(() => 'absent')).toBe('absent');

    // the CLI with --format both: exit 5, the line and its length named, the ed25519 way out given, nothing written
    await writeFile(join(d, 'task.json'), JSON.stringify(taskWithLine(GNUPG_MAX_CLEARTEXT_LINE + 1)));
    const cliOut = join(d, 'over-cli');
    const args = generateArgs(
      join(d, 'task.json'),
      '--key',
      join(d, 'pgp.key'),
      '--key',
      join(d, 'ed.key'),
      '--artifact',
      `public/a.bin=${join(d, 'a.bin')}`,
      '--out',
      cliOut,
    );
    const r = await runCli(NOW, ...args, '--format', 'both');
    expect(r.code).toBe(5);
    expect(r.err).toMatch(
      new RegExp(`SIGNING_LINE_TOO_LONG: .*line \\d+ is ${GNUPG_MAX_CLEARTEXT_LINE + 1} characters`),
    );
    expect(r.err).toContain('--format ed25519');
    expect(await readdir(cliOut).catch(() => 'absent')).toBe('absent');
    const json = await runCli(NOW, ...args, '--format', 'both', '--json');
    expect(JSON.parse(json.out).error).toMatchObject({
      code: 'SIGNING_LINE_TOO_LONG',
      length: GNUPG_MAX_CLEARTEXT_LINE + 1,
    });

    const ed = await runCli(
      NOW,
      ...generateArgs(
        join(d, 'task.json'),
        '--key',
        join(d, 'ed.key'),
        '--artifact',
        `public/a.bin=${join(d, 'a.bin')}`,
        '--out',
        cliOut,
        '--format',
        'ed25519',
      ),
    );
    expect(ed.code, ed.err).toBe(0);
    expect(longestLine(await readFile(join(cliOut, 'chain-of-trust.json'), 'latin1'))).toBe(
      GNUPG_MAX_CLEARTEXT_LINE + 1,
    );
  });
});
