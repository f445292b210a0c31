import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../helpers/env.js';

// Issue 10 §4: cot installs like a package of its ecosystem.

const pkg = async () =>
  JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    license: string;
    bin: Record<string, string>;
    engines: { node: string };
    files: string[];
    exports: Record<string, unknown>;
  };

/** Does `version` (x.y.z) satisfy a range made of `^x.y.z` alternatives joined by `||`? */
function satisfiesCaretRanges(version: string, range: string): boolean {
  const [maj, min, pat] = version.replace(/^v/, '').split('.').map(Number) as [number, number, number];
  return range.split('||').some((alt) => {
    const m = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(alt.trim());
    if (!m) throw new Error(`unexpected range ${alt}`);
    const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return maj === a && (min > b || (min === b && pat >= c));
  });
}

describe('the npm package', () => {
  it('is named chain-of-trust (the name cot is another package), its command is still cot', async () => {
    const p = await pkg();
    expect(p.name).toBe('chain-of-trust');
    expect(p.bin).toEqual({ cot: 'bin/cot.js' });
  });

  it('the README installs and imports it by that name, never as `cot`', async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    expect(readme).toContain('npm i -g chain-of-trust');
    expect(readme).toContain('npx chain-of-trust ');
    const imports = [...readme.matchAll(/\bfrom '([^']+)'/g)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports).not.toContain('cot');
    // besides Node's own modules (node:fs/promises in an example), only the package's entry points, by its name:
    // the main entry and each subpath of package.json `exports` (issue 11: chain-of-trust/queue, /testing; issue 14: /attest)
    const entries = Object.keys((await pkg()).exports)
      .filter((k) => k !== './package.json')
      .map((k) => (k === '.' ? 'chain-of-trust' : `chain-of-trust/${k.slice(2)}`));
    expect(entries).toEqual([
      'chain-of-trust',
      'chain-of-trust/queue',
      'chain-of-trust/attest',
      'chain-of-trust/testing',
    ]);
    expect(new Set(imports.filter((i) => !i?.startsWith('node:')))).toEqual(new Set(entries));
  });

  it("another module imports it by name (the package's exports resolve to the built library)", () => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('chain-of-trust'); console.log(typeof m.verifyLink, typeof m.generateChainOfTrust)",
      ],
      { cwd: REPO, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('function function');
    const sub = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const q = await import('chain-of-trust/queue'); const t = await import('chain-of-trust/testing'); const a = await import('chain-of-trust/attest'); console.log(typeof q.DirectoryQueue, typeof t.FaultPlan, typeof a.verifyAttestation)",
      ],
      { cwd: REPO, encoding: 'utf8' },
    );
    expect(sub.stderr).toBe('');
    expect(sub.stdout.trim()).toBe('function function function');
  });

  it('ships the MPL-2.0 license text that package.json names', async () => {
    const p = await pkg();
    expect(p.license).toBe('MPL-2.0');
    expect(p.files).toContain('LICENSE');
    const text = await readFile(join(REPO, 'LICENSE'), 'utf8');
    expect(text.split('\n')[0]).toBe('Mozilla Public License Version 2.0');
    expect(text).toContain('Exhibit A - Source Code Form License Notice');
  });

  it('`cot --version` is the version in package.json, kept nowhere else', async () => {
    const r = spawnSync(process.execPath, [join(REPO, 'bin/cot.js'), '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe((await pkg()).version);
    const source = await readFile(join(REPO, 'src/cli/version.ts'), 'utf8');
    expect(source).not.toMatch(/['"]\d+\.\d+\.\d+/);
  });

  it('engines names Node.js 20, 22 and 24, includes the Node running this test, and CI runs 22 and 24', async () => {
    const { engines } = await pkg();
    for (const v of ['20.20.0', '22.23.5', '24.22.3'])
      expect(satisfiesCaretRanges(v, engines.node)).toBe(true);
    for (const v of ['18.20.0', '21.7.0', '23.11.0', '25.0.0'])
      expect(satisfiesCaretRanges(v, engines.node)).toBe(false);
    expect(satisfiesCaretRanges(process.version, engines.node)).toBe(true);
    const ci = (await readFile(join(REPO, '.ci/run'), 'utf8')).trim().split('\n');
    const loop = ci.findIndex((l) => /^for major in 22 24; do$/.test(l));
    expect(loop).toBeGreaterThan(-1);
    expect(ci.slice(loop).join('\n')).toMatch(/node-linux-\$\{node_arch\}@\$\{major\}/);
    expect(ci.slice(loop).join('\n')).toMatch(/node node_modules\/vitest\/vitest\.mjs run\n/);
    expect(ci.at(-1)).toBe('npm ci && npm test');
  });
});

describe("the demo's `verify again` line", () => {
  it('is a command that works as printed, from the clone (npx cot)', async () => {
    const out = await tempDir('cot-demo-again-');
    const demo = spawnSync(process.execPath, [join(REPO, 'bin/cot.js'), 'demo', '--out', join(out, 'demo')], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(demo.status, demo.stderr).toBe(0);
    const lines = demo.stdout.split('\n');
    const line = lines[lines.indexOf('verify again with:') + 1]!.trim();
    expect(line).toMatch(/^npx cot verify [A-Za-z0-9_-]{22} --queue \S+ --policy \S+$/);
    // npm_config_yes=false: if `npx cot` did not find this cot it must fail, never fetch the unrelated package
    const again = spawnSync('sh', ['-c', line], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, npm_config_yes: 'false' },
    });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/verified/);
  });
});
