import { Command, CommanderError, type CommandUnknownOpts } from '@commander-js/extra-typings';
import { CotError, isCotError } from '../errors.js';
import { escapeControls, terminalSafe } from '../util/terminal.js';
import { registerAttest } from './commands/attest.js';
import { registerDemo } from './commands/demo.js';
import { registerFetch } from './commands/fetch.js';
import { registerGenerate } from './commands/generate.js';
import { registerHash } from './commands/hash.js';
import { registerKeys } from './commands/keys.js';
import { registerQueue } from './commands/queue.js';
import { registerUpload } from './commands/upload.js';
import { registerVerify } from './commands/verify.js';
import { registerVerifyAttestation } from './commands/verify-attestation.js';
import { registerVerifyLink } from './commands/verify-link.js';
import { registerVerifyParent } from './commands/verify-parent.js';
import { registerVerifySignature } from './commands/verify-signature.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { type Io, jsonOut } from './io.js';
import { examples, markRequired, withFlags } from './options.js';
import { VERSION } from './version.js';

/** The `cot` program: every command registered (src/cli/commands/), writing to `io`. */
export function buildProgram(io: Io): Command {
  const program = new Command()
    .name('cot')
    .description(
      'Chain of trust for Taskcluster-style CI: hash artifacts, sign chain-of-trust documents, verify them.',
    )
    .version(VERSION, '-V, --version')
    // parse errors are printed by main() as `cot: USAGE: ...` (one line, or JSON with --json), not by commander
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .addHelpText(
      'after',
      examples(
        'cot demo --out cot-demo                  # a signed task graph on local files, verified',
        'cot verify TASK_ID --root-url https://tc.example.com --policy policy.yml',
        'cot generate --help                      # every command has --help, with an example',
      ),
    )
    .exitOverride();
  registerKeys(program, io);
  registerQueue(program, io);
  registerUpload(program, io);
  registerFetch(program, io);
  registerGenerate(program, io);
  registerDemo(program, io);
  registerVerify(program, io);
  registerAttest(program, io);
  registerVerifyAttestation(program, io);
  registerVerifyLink(program, io);
  registerVerifyParent(program, io);
  registerVerifySignature(program, io);
  registerHash(program, io);
  markRequired(program);
  return program;
}

/** The command line's command path (`cot keys new`): the subcommands named among `args`, the program's name first. */
function commandPath(program: Command, args: readonly string[]): string {
  const names = [program.name()];
  let cmd: CommandUnknownOpts = program;
  for (const a of args) {
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (sub) {
      names.push(sub.name());
      cmd = sub;
    } else if (!a.startsWith('-')) break;
  }
  return names.join(' ');
}

/**
 * The error a run ends with, as the command line reports it. The library's OPTIONS_INVALID (a bad option value,
 * which on the command line came from the arguments) is reported as USAGE with its message and details: USAGE is
 * the CLI's code, raised by nothing else (both exit 2). Options a library message names (`details.options`) are
 * shown as their flags (withFlags). Anything that is not a CotError is INTERNAL (a bug, exit 70).
 */
function asCliError(e: unknown): CotError {
  if (!isCotError(e))
    return new CotError(
      'INTERNAL',
      `unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      {
        cause: e,
      },
    );
  const worded = withFlags(e);
  if (worded.code !== 'OPTIONS_INVALID') return worded;
  return new CotError('USAGE', worded.message, { details: worded.details, cause: e });
}

/** Print an error the run ends with (`cot: CODE: message`, and the JSON error with --json); its exit code. */
function reportError(io: Io, e: unknown, argv: readonly string[], program: Command | undefined): number {
  const wantsJson = argv.includes('--json');
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.OK;
    // no command given (`cot`, `cot keys`): commander printed the help on stderr; that is a usage error
    if (e.code === 'commander.help') return EXIT.USAGE;
    // an option-parser error (unknown option, missing option or argument, bad choice...): the documented form
    const message = `${e.message
      .replace(/^error: /, '')
      .replace(/\s*\n\s*/g, ' ')
      .trim()} (see ${program ? commandPath(program, argv.slice(2)) : 'cot'} --help)`;
    if (wantsJson) jsonOut(io, { ok: false, error: { code: 'USAGE', message } });
    io.stderr(`cot: USAGE: ${escapeControls(message)}\n`);
    return EXIT.USAGE;
  }
  const err = asCliError(e);
  if (wantsJson) jsonOut(io, { ok: false, error: err.toJSON() });
  io.stderr(`cot: ${err.code}: ${escapeControls(err.message)}\n`);
  return exitCodeFor(err.code);
}

/**
 * Run the CLI; returns the exit code. Never throws. Everything printed passes terminalSafe (control, bidi and
 * invisible characters escaped, the output's own line feeds and tabs kept), and the error line
 * `cot: CODE: message` is one line whatever the message holds (text from a queue, a mirror or a document).
 */
export async function main(argv: string[], io?: Partial<Io>): Promise<number> {
  const stdout = io?.stdout ?? ((s: string) => process.stdout.write(s));
  const stderr = io?.stderr ?? ((s: string) => process.stderr.write(s));
  const full: Io = {
    stdout: (s) => stdout(terminalSafe(s)),
    stderr: (s) => stderr(terminalSafe(s)),
    now: io?.now ?? new Date(),
    isTTY: io?.isTTY ?? Boolean(process.stderr.isTTY),
  };
  let program: Command | undefined;
  try {
    program = buildProgram(full);
    await program.parseAsync(argv);
    return full.exitCode ?? EXIT.OK;
  } catch (e) {
    return reportError(full, e, argv, program);
  }
}
