import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODE_FOR } from '../../src/cli/exit-codes.js';
import { ERROR_CODES } from '../../src/index.js';
import { REPO } from '../helpers/env.js';

describe('README stays true', () => {
  it('documents every error code with its exit code, and no code that does not exist', async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `([A-Z_]+)` *\| (\d+) *\|/gm)].map(
      (m) => [m[1]!, Number(m[2])] as const,
    );
    expect(Object.fromEntries(rows)).toEqual(EXIT_CODE_FOR);
    expect(new Set(rows.map((r) => r[0]))).toEqual(new Set(Object.keys(ERROR_CODES)));
  });

  it('gives the two quick-start commands and .ci/run runs exactly the test one', async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm ci && npm test');
    const ci = await readFile(join(REPO, '.ci/run'), 'utf8');
    expect(ci.trim().split('\n').at(-1)).toBe('npm ci && npm test');
  });
});
