import type { Command } from '@commander-js/extra-typings';
import { readInputFile } from '../../cot/inputs.js';
import { CotError } from '../../errors.js';
import { showDifference } from '../../json/differences.js';
import { isJsonObject, type JsonObject, parseJsonBytes } from '../../json/parse.js';
import { readTreeFolder } from '../../tree/files.js';
import { mismatchError, type RebuildResult, rebuildParentTask } from '../../tree/rebuild.js';
import { escapeControls } from '../../util/terminal.js';
import { exitCodeFor } from '../exit-codes.js';
import { type Io, jsonOut, type ReportedFailure, reportFailure } from '../io.js';
import { examples, taskIdArgument, usage } from '../options.js';

/** The `cot verify-parent` command and its options, without its action. */
function verifyParentCommand(program: Command) {
  return program
    .command('verify-parent')
    .description(
      'rebuild a decision, cron or action task from its tree (.taskcluster.yml with JSON-e) and compare it with its definition',
    )
    .argument('<task>', "the parent task's definition (JSON, as the queue serves it)")
    .requiredOption('--task-id <id>', "the parent task's id")
    .option(
      '--decision-task <file>',
      "for an action: its decision task's definition (JSON); default: the task is its own decision task",
    )
    .option('--decision-task-id <id>', "the decision task's id (with --decision-task)")
    .requiredOption(
      '--tree <dir>',
      "the tree material: .taskcluster.yml, pushlog.json, projects.yml, and the decision task's actions.json and parameters.yml",
    )
    .option('--template <file>', 'the in-tree template, in place of <dir>/.taskcluster.yml')
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples(
        'cot verify-parent decision.json --task-id VQU9QMO4Teq7zr91FhBusg --tree ./tree',
        'cot verify-parent action.json --task-id E93EolXNSRuV2gOy7yMZEA --decision-task decision.json \\',
        '    --decision-task-id LpCJV9wUQHSAm5SHyW4Olw --tree ./tree --json',
      ),
    )
    .exitOverride();
}

type VerifyParentOptions = ReturnType<ReturnType<typeof verifyParentCommand>['opts']>;

/** A task definition from a file: JSON_INVALID when it holds something else than a JSON object. */
async function readTask(path: string, what: string): Promise<JsonObject> {
  const v = parseJsonBytes(await readInputFile(path, what), { source: `${what} ${path}` });
  if (!isJsonObject(v)) throw new CotError('JSON_INVALID', `${what} ${path} must hold a JSON object`);
  return v;
}

/** The decision task given (both options or neither). */
async function decisionOf(
  o: VerifyParentOptions,
): Promise<{ decisionTask?: JsonObject; decisionTaskId?: string }> {
  if ((o.decisionTask === undefined) !== (o.decisionTaskId === undefined))
    throw usage('--decision-task and --decision-task-id go together');
  if (o.decisionTask === undefined || o.decisionTaskId === undefined) return {};
  return {
    decisionTask: await readTask(o.decisionTask, 'decision task'),
    decisionTaskId: taskIdArgument(o.decisionTaskId, 'the decision task id'),
  };
}

/** `cot verify-parent`: rebuildParentTask on the task files and the tree folder given. */
export function registerVerifyParent(program: Command, io: Io): void {
  verifyParentCommand(program).action(async (file, o) => {
    const taskId = taskIdArgument(o.taskId);
    const task = await readTask(file, 'task');
    const decision = await decisionOf(o);
    const tree = await readTreeFolder(o.tree, o.template === undefined ? {} : { template: o.template });
    const r = await rebuildParentTask({ task, taskId, ...decision, tree });
    const failure: ReportedFailure | undefined = r.matched
      ? undefined
      : (() => {
          const e = mismatchError(r);
          return { code: e.code, exitCode: exitCodeFor(e.code), message: e.message };
        })();
    if (o.json) jsonOut(io, verifyParentJson(r, failure));
    else {
      io.stdout(verifyParentText(r));
      for (const w of r.warnings) io.stderr(`cot: warning: ${escapeControls(w)}\n`);
    }
    if (failure) reportFailure(io, failure);
  });
}

/** The text result: what was rebuilt from where, and the match or each difference. */
function verifyParentText(r: RebuildResult): string {
  const from = `rebuilt from ${r.repository.url}@${r.revision ?? '?'} ${r.templateSource ?? '.taskcluster.yml'} (tasks_for ${r.tasksFor}, level ${r.repository.level})`;
  if (r.matched) return `task ${r.taskId}: ${from}: match (tasks[${r.index}] of ${r.renderedTasks})\n`;
  const lines = r.differences.map((d) => `  ${showDifference(d)}`);
  if (r.truncated) lines.push('  and more differences');
  return `task ${r.taskId}: ${from}: NO MATCH; closest rendered task tasks[${r.index}] of ${r.renderedTasks}, rendered vs runtime:\n${lines.join('\n')}\n`;
}

/** The --json result of verify-parent: schemas/verify-parent.schema.json. */
function verifyParentJson(r: RebuildResult, failure: ReportedFailure | undefined): Record<string, unknown> {
  return {
    ok: r.matched,
    taskId: r.taskId,
    decisionTaskId: r.decisionTaskId,
    tasksFor: r.tasksFor,
    repository: r.repository,
    revision: r.revision,
    template: r.templateSource,
    renderedTasks: r.renderedTasks,
    match: r.matched ? r.index : null,
    closest: r.matched || r.index < 0 ? null : r.index,
    differences: r.differences,
    truncated: r.truncated,
    warnings: r.warnings,
    ...(failure ? { error: { code: failure.code, message: failure.message } } : {}),
  };
}
