import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/env.js';

// CHANGELOG.md lists every entry-level change of the public API by name; the list is what scripts/entry-changes.mjs
// computes from the 0.1.0 main entry (scripts/api/index-0.1.0.txt) and the three entries of today, so an export
// added, moved or removed without its CHANGELOG line fails here.
describe('CHANGELOG.md', () => {
  it('lists exactly the entry-level changes the generator finds', () => {
    const expected = execFileSync(
      process.execPath,
      [join(REPO, 'scripts/entry-changes.mjs'), join(REPO, 'scripts/api/index-0.1.0.txt')],
      { cwd: REPO, encoding: 'utf8' },
    )
      .trim()
      .split('\n');
    expect(expected.length).toBeGreaterThan(3);
    const changelog = readFileSync(join(REPO, 'CHANGELOG.md'), 'utf8').split('\n');
    for (const line of expected) expect(changelog).toContain(line);
  });
});
