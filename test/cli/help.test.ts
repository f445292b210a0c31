import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandUnknownOpts as Command } from '@commander-js/extra-typings';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';
import { REPO } from '../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');

/** Every command path of the program that runs something (`keys new`, `verify`...), groups excluded. */
function leafCommands(): { path: string; cmd: Command }[] {
  const program = buildProgram({ stdout: () => {}, stderr: () => {}, now: NOW });
  const out: { path: string; cmd: Command }[] = [];
  const walk = (c: Command, prefix: string[]) => {
    for (const sub of c.commands) {
      if (sub.name() === 'help') continue;
      const path = [...prefix, sub.name()];
      if (sub.commands.length > 0) walk(sub, path);
      else out.push({ path: path.join(' '), cmd: sub });
    }
  };
  walk(program, []);
  return out;
}

/** The long flags a help text lists (`--task-id <id>` -> `--task-id`), without --help. */
function helpFlags(help: string): Set<string> {
  const flags = new Set<string>();
  for (const m of help.matchAll(/^ {2}(?:-\w, )?(--[a-z0-9-]+)/gm)) if (m[1] !== '--help') flags.add(m[1]!);
  return flags;
}

/**
 * The README's synopses: each `cot ...` command line of a ```sh block (with its continuation lines), keyed by the
 * command path it names, with the flags it shows.
 */
async function readmeSynopses(paths: string[]): Promise<Map<string, Set<string>>> {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  const out = new Map<string, Set<string>>();
  for (const block of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = block[1]!.split('\n');
    let current: string | undefined;
    let continued = false;
    for (const raw of lines) {
      const line = raw.replace(/\s+#.*$/, '');
      if (/^cot /.test(line)) {
        const words = line.split(/\s+/);
        current =
          paths.find((p) => words.slice(1, 1 + p.split(' ').length).join(' ') === p && p.includes(' ')) ??
          paths.find((p) => words[1] === p);
      } else if (!(continued || /^\s+\S/.test(line))) current = undefined;
      continued = /\\$/.test(line);
      if (current === undefined) continue;
      const set = out.get(current) ?? new Set<string>();
      for (const m of line.matchAll(/(?<![\w-])(--[a-z0-9-]+)/g)) set.add(m[1]!);
      out.set(current, set);
    }
  }
  return out;
}

describe('every command explains itself', () => {
  const commands = leafCommands();

  it('knows the commands it walks', () => {
    expect(commands.map((c) => c.path).sort()).toEqual(
      [
        'attest provenance',
        'demo',
        'fetch',
        'generate',
        'hash',
        'keys certify',
        'keys check',
        'keys guard',
        'keys list',
        'keys new',
        'keys verify-repo',
        'queue serve',
        'upload',
        'verify',
        'verify-attestation',
        'verify-link',
        'verify-parent',
        'verify-signature',
      ].sort(),
    );
  });

  for (const { path } of commands) {
    it(`cot ${path} --help: an example, required options marked, defaults shown plainly, --json`, async () => {
      const r = await runCli(NOW, ...path.split(' '), '--help');
      expect(r.code).toBe(0);
      const help = r.out;
      // a short example, a real command line of this command
      expect(help).toMatch(new RegExp(`^Examples?:\\n(?:.*\\n)*? {2}(?:\\$ )?cot ${path}(?: |$)`, 'm'));
      // no empty-list defaults, no numbers shown as strings
      expect(help).not.toContain('(default: [])');
      expect(help).not.toMatch(/default: "\d+"/);
      expect(help).not.toMatch(/default: \[\]/);
      // every --json output: the README says every command has it
      expect(helpFlags(help)).toContain('--json');
    });
  }

  it('required options are marked as required in the help', async () => {
    for (const { path, cmd } of commands) {
      const required = cmd.options.filter((o) => o.mandatory).map((o) => o.long!);
      if (required.length === 0) continue;
      const help = (await runCli(NOW, ...path.split(' '), '--help')).out;
      const section = help.split(/^Required options:$/m)[1]?.split(/^\S.*:$/m)[0] ?? '';
      for (const flag of required) expect(section, `cot ${path} ${flag}`).toContain(flag);
    }
  });

  it('options that are needed on every run are required options (commander checks them)', () => {
    const byPath = new Map(commands.map((c) => [c.path, c.cmd]));
    const mandatory = (path: string) =>
      byPath
        .get(path)!
        .options.filter((o) => o.mandatory)
        .map((o) => o.long);
    expect(mandatory('generate')).toEqual(
      expect.arrayContaining(['--task', '--task-id', '--run-id', '--worker-group', '--worker-id', '--key']),
    );
    expect(mandatory('verify-signature')).toContain('--key');
    expect(mandatory('keys verify-repo')).toContain('--git-signers');
  });

  it('the README shows every command with exactly the options it has', async () => {
    const synopses = await readmeSynopses(commands.map((c) => c.path));
    const problems: string[] = [];
    for (const { path } of commands) {
      const help = (await runCli(NOW, ...path.split(' '), '--help')).out;
      const readme = synopses.get(path);
      if (!readme) {
        problems.push(`${path}: no synopsis in the README`);
        continue;
      }
      const have = helpFlags(help);
      const unknown = [...readme].filter((f) => !have.has(f));
      problems.push(...unknown.map((f) => `${path}: README-only ${f}`));
      const undocumented = [...have].filter((f) => !readme.has(f));
      problems.push(...undocumented.map((f) => `${path}: not in README ${f}`));
    }
    // README-only: shown but does not exist; not in README: exists but the synopsis does not show it
    expect(problems).toEqual([]);
  });

  it('the help of --ed25519-keys says JSON or YAML, as the README', async () => {
    for (const path of ['verify-link', 'keys list', 'keys check']) {
      const help = (await runCli(NOW, ...path.split(' '), '--help')).out.replace(/\s+/g, ' ');
      expect(help, path).toMatch(/--ed25519-keys <file> [^-]*JSON or YAML/);
    }
  });

  it('the top-level help and the command groups have examples too', async () => {
    for (const args of [[], ['keys'], ['queue'], ['attest']]) {
      const r = await runCli(NOW, ...args, '--help');
      expect(r.out, args.join(' ')).toMatch(/^Examples?:\n {2}(?:\$ )?cot /m);
    }
  });
});

describe('declared option relations', () => {
  // commander's .conflicts() and .implies() take attribute names as plain strings, which the compiler cannot check:
  // a misspelt name would silently switch the rule off, so every name must be an option of the same command
  it('every name in .conflicts() and .implies() is an option of its command', () => {
    const wrong: string[] = [];
    for (const { path, cmd } of leafCommands()) {
      const names = new Set(cmd.options.map((o) => o.attributeName()));
      for (const o of cmd.options) {
        const rel = o as unknown as { conflictsWith?: string[]; implied?: Record<string, unknown> };
        for (const n of [...(rel.conflictsWith ?? []), ...Object.keys(rel.implied ?? {})])
          if (!names.has(n)) wrong.push(`cot ${path} ${o.long}: ${n}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the declared conflicts are refused as usage errors', async () => {
    for (const args of [
      ['verify-link', 'doc.json', '--key', 'a.pub', '--key-repo', 'repo', '--worker-impl', 'x'],
      ['verify-link', 'doc.json', '--key', 'a.pub', '--ed25519-keys', 'k.json', '--worker-impl', 'x'],
      [
        'fetch',
        'LnshJjNXTfeBlPNrAzyy9w',
        '--queue',
        'q',
        '--root-url',
        'https://tc.example.com',
        '--out',
        'o',
      ],
    ]) {
      const r = await runCli(NOW, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(/^cot: USAGE: .*cannot be used with/);
    }
  });
});
