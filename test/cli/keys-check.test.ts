import { describe, expect, it } from 'vitest';
import { checkKeyRepo } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { errorOf, tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');

describe('keys check: the library raises OPTIONS_INVALID, the command line reports USAGE with its flags', () => {
  it('errorDays above warnDays', async () => {
    const dir = await tempDir();
    const e = await errorOf(checkKeyRepo(dir, { at: NOW, warnDays: 10, errorDays: 50 }));
    expect(e.code).toBe('OPTIONS_INVALID');
    expect(e.message).not.toMatch(/--/);
    const cli = await runCli(NOW, 'keys', 'check', dir, '--error-days', '50', '--warn-days', '10');
    expect(cli.code).toBe(2);
    expect(cli.err).toBe('cot: USAGE: --error-days (50) cannot exceed --warn-days (10)\n');
  });

  it('neither a repository nor a trust file', async () => {
    const e = await errorOf(checkKeyRepo(undefined, { at: NOW }));
    expect(e.code).toBe('OPTIONS_INVALID');
    const cli = await runCli(NOW, 'keys', 'check');
    expect(cli.code).toBe(2);
    expect(cli.err).toBe('cot: USAGE: give a key repository and/or an ed25519 trust file\n');
  });
});
