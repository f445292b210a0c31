import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArtifactPair } from '../../src/hashing/artifacts.js';
import { generateKeyPair } from '../../src/index.js';
import { documentSigners } from '../../src/signature/sign.js';
import { runCli } from '../helpers/cli.js';
import { errorOf, tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');

describe('library messages name options, the command line shows flags', () => {
  it('an existing key file: `force` in the library, --force on the command line (not in the JSON details)', async () => {
    const dir = await tempDir();
    const out = join(dir, 'k.key');
    await generateKeyPair({ type: 'ed25519', out, now: NOW });
    const e = await errorOf(generateKeyPair({ type: 'ed25519', out, now: NOW }));
    expect(e.code).toBe('FILE_EXISTS');
    expect(e.message).toContain('unless you pass `force`');
    expect(e.message).not.toMatch(/--/);
    expect(e.details).toMatchObject({ path: out, options: ['force'] });
    const cli = await runCli(NOW, 'keys', 'new', '--type', 'ed25519', '--out', out);
    expect(cli.code).toBe(5);
    expect(cli.err).toContain('unless you pass --force (nothing was written)');
    const json = await runCli(NOW, 'keys', 'new', '--type', 'ed25519', '--out', out, '--json');
    expect(JSON.parse(json.out).error).toEqual({
      code: 'FILE_EXISTS',
      message: expect.stringContaining('--force'),
      path: out,
    });
  });

  it('a library OPTIONS_INVALID is USAGE on the command line, with the flags', async () => {
    const dir = await tempDir();
    const same = join(dir, 'a.key');
    const e = await errorOf(generateKeyPair({ type: 'ed25519', out: same, pubOut: same, now: NOW }));
    expect(e.code).toBe('OPTIONS_INVALID');
    expect(e.message).toMatch(/^the private key file \(`out`\) .* and the public key file \(`pubOut`\) /);
    expect(e.details.options).toEqual(['out', 'pubOut']);
    const cli = await runCli(NOW, 'keys', 'new', '--type', 'ed25519', '--out', same, '--pub-out', same);
    expect(cli.code).toBe(2);
    expect(cli.err).toMatch(
      /^cot: USAGE: the private key file \(--out\) .* and the public key file \(--pub-out\) /,
    );
    expect(() => parseArtifactPair('noequals')).toThrow(/^`artifact` expects NAME=PATH/);
    expect(() => documentSigners([], 'both')).toThrow(/^`format` both needs/);
  });
});
