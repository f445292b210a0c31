import { isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from '@commander-js/extra-typings';
import { chainReportJson, renderChainText } from '../../chain/report.js';
import { DEMO_TREE_TAMPERS } from '../../demo/builder.js';
import { type DemoResult, runDemo } from '../../demo/demo.js';
import { failureJson, type Io, jsonOut, reportFailure } from '../io.js';
import { examples } from '../options.js';
import { chainFailure } from './verify.js';

/** A path as a shell command shows it: relative to the working folder when inside it, quoted when it must be. */
function shellPath(p: string): string {
  const rel = relative(process.cwd(), p);
  const shown = rel === '' ? '.' : isAbsolute(rel) || rel.split(sep)[0] === '..' ? p : rel;
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(shown) ? shown : `'${shown.replaceAll("'", "'\\''")}'`;
}

/** `cot demo`: runDemo, its report, and the command that verifies the demo again. */
export function registerDemo(program: Command, io: Io): void {
  program
    .command('demo')
    .description(
      'the main job on local files: keys, a task graph in a directory store, signed documents, cot verify',
    )
    .option('--out <dir>', 'where to build the demo', 'cot-demo')
    .option('--tamper', 'swap a build artifact after signing: the verification must fail')
    .addOption(
      new Option(
        '--tamper-tree <kind>',
        'break the trace to the source tree, every document signed: decision = a decision task its tree did not render (TREE_TASK_MISMATCH), untrusted = a release scope from an untrusted repository (TREE_SCOPE_NOT_ALLOWED)',
      ).choices(DEMO_TREE_TAMPERS),
    )
    .option(
      '--force',
      "build in a non-empty folder the demo did not make (only the demo's own files are written; nothing removed)",
    )
    .option('--json', 'print the JSON report')
    .addHelpText(
      'after',
      examples(
        'cot demo --out cot-demo',
        'cot demo --out cot-demo-tampered --tamper   # exit 1: NOT VERIFIED',
        'cot demo --out cot-demo-forged --tamper-tree decision   # exit 1: TREE_TASK_MISMATCH',
      ),
    )
    .exitOverride()
    .action(async (o) => {
      const r = await runDemo({
        out: o.out,
        tamper: Boolean(o.tamper),
        ...(o.tamperTree === undefined ? {} : { tamperTree: o.tamperTree }),
        force: Boolean(o.force),
        now: io.now,
      });
      // the same verdict as cot verify: the error member in --json, the summary line on stderr, the exit code
      const failure = chainFailure(r.report);
      if (o.json) jsonOut(io, { ...chainReportJson(r.report), ...failureJson(failure) });
      else printDemo(io, r);
      if (failure) reportFailure(io, failure);
    });
}

function printDemo(io: Io, r: DemoResult): void {
  io.stdout(
    `cot demo: a task graph in ${r.dir}/queue (a directory store), keys in ${r.dir}/keys, policy ${r.policy}, source tree in ${r.dir}/tree\n`,
  );
  for (const [name, id] of Object.entries(r.tasks)) io.stdout(`  ${name.padEnd(14)} ${id}\n`);
  io.stdout(`\n${renderChainText(r.report)}`);
  // a command that works as shown: `npx cot` finds this cot in a clone, in a project that depends on it and in a
  // global install; run once through `npx chain-of-trust`, `npx cot` would fetch an unrelated package
  const npx = fileURLToPath(import.meta.url).includes(`${sep}_npx${sep}`) ? 'npx chain-of-trust' : 'npx cot';
  io.stdout(
    `HTML report: ${r.reportHtml}\n\nverify again with:\n  ${npx} verify ${r.taskId} --queue ${shellPath(join(r.dir, 'queue'))} --policy ${shellPath(r.policy)}\n`,
  );
}
