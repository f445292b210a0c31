import { type Command, Option } from '@commander-js/extra-typings';
import { loadPolicy } from '../../chain/policy.js';
import { trustedRepositoryPath } from '../../chain/tree-policy.js';
import { TREE_PRESETS, type TreePreset } from '../../chain/tree-presets.js';
import { readInputFile } from '../../cot/inputs.js';
import { CotError } from '../../errors.js';
import { showDifference } from '../../json/differences.js';
import { isJsonObject, type JsonObject, parseJsonBytes } from '../../json/parse.js';
import { readTreeFolder, type TreeMaterial } from '../../tree/files.js';
import { DEFAULT_TREE_HOSTS, fetchTreeMaterial, isActionTasksFor } from '../../tree/online.js';
import { mismatchError, type RebuildResult, rebuildParentTask } from '../../tree/rebuild.js';
import { escapeControls } from '../../util/terminal.js';
import { exitCodeFor } from '../exit-codes.js';
import { type Io, jsonOut, type ReportedFailure, reportFailure } from '../io.js';
import { examples, listOption, taskIdArgument, usage } from '../options.js';
import { ALLOW_HOST_HELP, ROOT_URL_HELP } from '../queue-options.js';
import {
  artifactQueue,
  queueArtifactFetch,
  treeFetchOptions,
  treeHostsOf,
  withTreeFetchOptions,
} from '../tree-fetch.js';

/** The `cot verify-parent` command and its options, without its action. */
function verifyParentCommand(program: Command) {
  const cmd = program
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
    .option(
      '--tree <dir>',
      "the tree material: .taskcluster.yml, pushlog.json, projects.yml, the decision task's actions.json and parameters.yml, GitHub answers under github/; default: fetched from the repository's host (an action's decision task artifacts from the queue: --root-url)",
    )
    .option('--template <file>', 'the in-tree template, in place of <dir>/.taskcluster.yml (with --tree)')
    .addOption(
      new Option(
        '--product <name>',
        "the product whose tree rules apply (a preset of the policy's tree section): its tasks_for, env prefix and trusted repositories",
      )
        .choices(Object.keys(TREE_PRESETS))
        .conflicts('policy'),
    )
    .option('--policy <file>', "take the tree rules from this policy's tree section (in place of --product)")
    .option(
      '--env-prefix <prefix>',
      "prefix of the repository variables in the decision task's env (GECKO, COMM, MOBILE, MOZILLAVPN...); default: the product's, else told from its env",
    );
  return withTreeFetchOptions(
    cmd,
    `the hosts of the product's trusted repositories, with GitHub's raw content and API hosts for github.com, else ${DEFAULT_TREE_HOSTS.join(', ')}`,
    'tree',
  )
    .addOption(
      new Option(
        '--root-url <url>',
        `without --tree, where an action's decision task artifacts (public/actions.json, public/parameters.yml) are fetched from, unchecked: ${ROOT_URL_HELP}`,
      ).conflicts('tree'),
    )
    .addOption(listOption('--allow-host <host>', `with --root-url: ${ALLOW_HOST_HELP}`).conflicts('tree'))
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples(
        'cot verify-parent decision.json --task-id VQU9QMO4Teq7zr91FhBusg --tree ./tree --product firefox',
        'cot verify-parent decision.json --task-id VUTfOIPFQWaGHf7sIbgTEg   # fetched from the repository host',
        'cot verify-parent action.json --task-id E93EolXNSRuV2gOy7yMZEA --decision-task decision.json \\',
        '    --decision-task-id LpCJV9wUQHSAm5SHyW4Olw --tree ./tree --json',
        'cot verify-parent action.json --task-id E93EolXNSRuV2gOy7yMZEA --decision-task decision.json \\',
        '    --decision-task-id LpCJV9wUQHSAm5SHyW4Olw --root-url https://tc.example.com   # artifacts from the queue',
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

function envPrefixArgument(v: string): string {
  if (!/^[A-Z][A-Z0-9_]*$/.test(v))
    throw usage(`--env-prefix expects an upper-case prefix such as GECKO, got ${JSON.stringify(v)}`);
  return v;
}

/** The tree rules of the rebuild: from --product (a preset) or --policy (its tree section), with what they came from. */
interface TreeRules {
  /** the product name, or the policy file */
  source: string;
  tree: TreePreset;
}

/**
 * The rules --product or --policy name (undefined: neither, the rebuild accepts every tasks_for and tells the prefix
 * from the env). Throws USAGE for a policy without a tree section, and what loadPolicy throws (POLICY_INVALID...).
 */
async function rulesOf(o: VerifyParentOptions): Promise<TreeRules | undefined> {
  if (o.product !== undefined) return { source: o.product, tree: TREE_PRESETS[o.product]! };
  if (o.policy === undefined) return undefined;
  const tree = (await loadPolicy(o.policy)).policy.tree;
  if (tree === undefined) throw usage(`--policy ${o.policy} has no tree section: its tree rules are needed`);
  return { source: o.policy, tree };
}

/** The env prefix of the rebuild: --env-prefix, else the rules', else none (told from the decision task's env). */
function envPrefixFor(o: VerifyParentOptions, rules: TreeRules | undefined): { envPrefix?: string } {
  if (o.envPrefix !== undefined) return { envPrefix: envPrefixArgument(o.envPrefix) };
  return rules === undefined ? {} : { envPrefix: rules.tree.envPrefix };
}

/**
 * How an action's decision task artifacts are fetched online: from the queue of --root-url (or the environment's),
 * through queueArtifactFetch. Nothing for a task that is not an action; USAGE for an action when no queue is named
 * (they are not files of the repository).
 */
function artifactsOf(
  o: VerifyParentOptions,
  task: JsonObject,
  taskId: string,
): Pick<Parameters<typeof fetchTreeMaterial>[0], 'artifacts'> {
  const tasksFor = isJsonObject(task.extra) ? task.extra.tasks_for : undefined;
  if (!isActionTasksFor(tasksFor)) return {};
  const queue = artifactQueue(o, process.env);
  if (queue === undefined)
    throw usage(
      `task ${taskId} is an action (tasks_for ${String(tasksFor)}): its decision task's public/actions.json and public/parameters.yml are artifacts on the Taskcluster queue, not files of the repository: give --root-url URL (or set TASKCLUSTER_ROOT_URL) to fetch them from the queue, or --tree DIR holding actions.json and parameters.yml`,
    );
  return { artifacts: queueArtifactFetch(queue) };
}

/**
 * The tree material: the folder of --tree, or fetched from the repository's host (tree/online.ts) through the
 * bounded HTTP client, from the allowed tree hosts only, with GITHUB_TOKEN (when set) sent to GitHub; for an action,
 * its decision task's artifacts from the queue (artifactsOf).
 */
async function treeOf(
  o: VerifyParentOptions,
  task: JsonObject,
  taskId: string,
  decision: { decisionTask?: JsonObject; decisionTaskId?: string },
  rules: TreeRules | undefined,
): Promise<TreeMaterial> {
  if (o.tree !== undefined)
    return readTreeFolder(o.tree, o.template === undefined ? {} : { template: o.template });
  if (o.template !== undefined) throw usage('--template goes with --tree');
  const artifacts = artifactsOf(o, task, taskId);
  const { fetch, allowedTreeHosts, baseUrls } = treeFetchOptions(o, process.env, treeHostsOf(rules?.tree));
  return fetchTreeMaterial({
    task,
    taskId,
    ...decision,
    ...envPrefixFor(o, rules),
    fetch,
    allowedTreeHosts,
    ...(o.projectsUrl === undefined ? {} : { projectsUrl: o.projectsUrl }),
    baseUrls,
    ...artifacts,
  });
}

/** `cot verify-parent`: rebuildParentTask on the task files and the tree folder given. */
export function registerVerifyParent(program: Command, io: Io): void {
  verifyParentCommand(program).action(async (file, o) => {
    const taskId = taskIdArgument(o.taskId);
    const task = await readTask(file, 'task');
    const decision = await decisionOf(o);
    const rules = await rulesOf(o);
    const tree = await treeOf(o, task, taskId, decision, rules);
    const r = await rebuildParentTask({
      task,
      taskId,
      ...decision,
      tree,
      ...envPrefixFor(o, rules),
      ...(rules === undefined ? {} : { tasksFor: rules.tree.tasksFor }),
    });
    const trust = rules === undefined ? undefined : trustOf(rules, r);
    const failure: ReportedFailure | undefined = r.matched
      ? undefined
      : (() => {
          const e = mismatchError(r);
          return { code: e.code, exitCode: exitCodeFor(e.code), message: e.message };
        })();
    if (o.json) jsonOut(io, { ...verifyParentJson(r, failure), ...(trust ? { rules: trust } : {}) });
    else {
      io.stdout(verifyParentText(r));
      if (trust) io.stdout(trustText(trust));
      for (const w of r.warnings) io.stderr(`cot: warning: ${escapeControls(w)}\n`);
    }
    if (failure) reportFailure(io, failure);
  });
}

/** What the rules say of the rebuilt task's repository: the trusted repository path it lies in, or null. */
interface RulesVerdict {
  source: string;
  trustedRepository: string | null;
}

function trustOf(rules: TreeRules, r: RebuildResult): RulesVerdict {
  return {
    source: rules.source,
    trustedRepository: trustedRepositoryPath(rules.tree.trustedRepositories, r.repository.url),
  };
}

/** The text line of the rules' verdict on the repository (an untrusted one may hold no restricted scope). */
function trustText(t: RulesVerdict): string {
  return t.trustedRepository === null
    ? `  repository: not a trusted repository of ${t.source} (its tasks may hold no restricted scope)\n`
    : `  repository: ${t.trustedRepository}, a trusted repository of ${t.source}\n`;
}

/** The text result: what was rebuilt from where, and the match or each difference. */
function verifyParentText(r: RebuildResult): string {
  const from = `rebuilt from ${r.repository.url}@${r.revision ?? '?'} ${r.templateSource ?? '.taskcluster.yml'} (tasks_for ${r.tasksFor}${r.repository.level === null ? '' : `, level ${r.repository.level}`})`;
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
